//! Hardening against hostile clients: a swapped `x-oss-content-type`
//! against the real emulator, malformed declared content types, bounded
//! `/metrics` labels, and slow clients against the serve loop.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ossgate_server::app::{serve_with, ServeOptions};
use ossgate_server::config::ConfigSources;
use ossgate_server::{DevOptions, DevServer};
use reqwest::multipart::{Form, Part};
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A 1x1 PNG.
const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

fn png() -> Vec<u8> {
    STANDARD.decode(PNG).unwrap()
}

/// Places the test key where the emulator looks for its callback key, so no
/// 2048-bit key is generated (slow in debug builds).
fn place_callback_key(data_dir: &Path) {
    let emulator_dir = data_dir.join("emulator");
    std::fs::create_dir_all(&emulator_dir).unwrap();
    let key = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../ossgate-protocol/tests/vectors/keys/callback_private_pkcs8.pem");
    std::fs::copy(key, emulator_dir.join("callback_private_key.pem")).unwrap();
}

async fn start(data_dir: &Path, sources: ConfigSources) -> DevServer {
    place_callback_key(data_dir);
    DevServer::start(DevOptions {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        emulator_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        data_dir: data_dir.to_owned(),
        sources,
    })
    .await
    .expect("the dev servers start")
}

/// Dev settings that allow PNG and JPEG uploads only.
fn images_only() -> ConfigSources {
    ConfigSources {
        env: vec![(
            "OSSGATE_CONTENT_TYPES".to_owned(),
            "image/png,image/jpeg".to_owned(),
        )],
        ..ConfigSources::default()
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// Fetches a PNG token and returns the bucket URL and the fields in order.
async fn png_token(server: &DevServer) -> (String, Vec<(String, String)>) {
    let url = format!(
        "{}/api/upload-token?filename=cat.png&size={}&contentType=image%2Fpng",
        server.app_url,
        png().len()
    );
    let response = client().get(&url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let raw = response.bytes().await.unwrap();
    let token: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    let bucket_url = token["url"].as_str().unwrap().to_owned();
    (bucket_url, common::ordered_fields(&raw))
}

/// Posts `fields` in order, then a PNG file part, the way the upload page does.
async fn post_png(url: &str, fields: &[(String, String)]) -> (StatusCode, String) {
    let mut form = Form::new();
    for (name, value) in fields {
        form = form.text(name.clone(), value.clone());
    }
    let part = Part::bytes(png())
        .file_name("cat.png")
        .mime_str("image/png")
        .unwrap();
    form = form.part("file", part);
    let response = client().post(url).multipart(form).send().await.unwrap();
    let status = response.status();
    (status, response.text().await.unwrap())
}

/// Sets `name` to `value`: in place when the form has it, else before the
/// signed fields, where a browser would add it.
fn set_field(fields: &mut Vec<(String, String)>, name: &str, value: &str) {
    match fields.iter_mut().find(|(field, _)| field == name) {
        Some(field) => field.1 = value.to_owned(),
        None => fields.insert(1, (name.to_owned(), value.to_owned())),
    }
}

#[tokio::test]
async fn swapped_oss_content_type_is_denied() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), images_only()).await;
    let (bucket_url, mut fields) = png_token(&server).await;

    set_field(&mut fields, "x-oss-content-type", "text/html");
    let (status, body) = post_png(&bucket_url, &fields).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("<Code>AccessDenied</Code>"), "{body}");
    assert!(body.contains("x-oss-content-type"), "{body}");

    server.stop().await.unwrap();
}

#[tokio::test]
async fn restricted_token_upload_stores_declared_type() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), images_only()).await;
    let (bucket_url, fields) = png_token(&server).await;
    let declared: Vec<_> = fields
        .iter()
        .filter(|(name, _)| name == "x-oss-content-type" || name == "Content-Type")
        .collect();
    assert_eq!(declared.len(), 2, "{fields:?}");
    assert!(
        declared.iter().all(|(_, value)| value == "image/png"),
        "{fields:?}"
    );

    let (status, body) = post_png(&bucket_url, &fields).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let reply: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(reply["Status"], "OK");
    assert_eq!(reply["mimeType"], "image/png");

    let object = client()
        .get(reply["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(object.status(), StatusCode::OK);
    assert_eq!(object.headers()["content-type"], "image/png");

    server.stop().await.unwrap();
}

/// Requests a token for alice with `content_type` as the raw query value.
async fn token_answer(app: &common::TestApp, content_type: &str) -> common::Answer {
    app.get(
        &format!("/api/upload-token?filename=a.bin&size=10&contentType={content_type}"),
        Some(common::ALICE_TOKEN),
    )
    .await
}

#[tokio::test]
async fn content_type_with_line_break_is_rejected() {
    let app = common::app(common::sources()).await;

    let answer = token_answer(&app, "image/png%0d%0aX:y").await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.code(), "InvalidContentType");
    let message = answer.json()["message"].as_str().unwrap().to_owned();
    assert!(message.contains(r#""image/png\r\nX:y""#), "{message}");
    assert!(message.contains("control character"), "{message}");
    assert!(message.contains("type/subtype"), "{message}");
}

#[tokio::test]
async fn malformed_content_types_are_rejected() {
    let app = common::app(common::sources()).await;
    let too_long = format!("image/{}", "x".repeat(251));
    for (query_value, reason) in [
        ("image/png%0aX", "control character"),
        ("image/png%00", "control character"),
        ("image/png%09", "control character"),
        ("image/p%C3%A9ng", "non-ASCII"),
        (too_long.as_str(), "longer than 256 bytes"),
        ("image", "type/subtype"),
        ("image/", "type/subtype"),
        ("/png", "type/subtype"),
        ("image/png/x", "type/subtype"),
        ("image%20/png", "type/subtype"),
        ("ima(ge/png", "type/subtype"),
        ("image/png;", "without"),
        ("image/png;%20charset", "without"),
        ("image/png;%20=x", "parameter name"),
        ("image/png;%20a=", "parameter value"),
        ("image/png;%20a=b%20c", "after its parameters"),
        ("image/png;%20a=%22open", "unterminated"),
        ("image/png;%20a=%22x%5C%22", "unterminated"),
    ] {
        let answer = token_answer(&app, query_value).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{query_value}");
        assert_eq!(answer.code(), "InvalidContentType", "{query_value}");
        let message = answer.json()["message"].as_str().unwrap().to_owned();
        assert!(message.contains(reason), "{query_value}: {message}");
    }
}

#[tokio::test]
async fn well_formed_content_types_give_their_essence() {
    let app = common::app(common::sources()).await;
    let exactly_max = format!("image/{}", "x".repeat(250));
    for (query_value, essence) in [
        ("image/png", "image/png"),
        ("IMAGE/PNG", "image/png"),
        ("%20image/png%20", "image/png"),
        ("text/plain;%20charset=utf-8", "text/plain"),
        ("text/plain%20;charset=%22utf-8%22", "text/plain"),
        ("text/plain;a=%22x%5C%22y;%20z%22;%20b=c", "text/plain"),
        ("application/vnd.api%2Bjson", "application/vnd.api+json"),
        (exactly_max.as_str(), exactly_max.as_str()),
    ] {
        let answer = token_answer(&app, query_value).await;
        assert_eq!(
            answer.status,
            StatusCode::OK,
            "{query_value}: {}",
            String::from_utf8_lossy(&answer.body)
        );
        assert_eq!(
            answer.json()["fields"]["Content-Type"],
            essence,
            "{query_value}"
        );
    }
}

#[tokio::test]
async fn listed_content_type_with_line_break_is_rejected() {
    let mut sources = common::sources();
    sources.set("upload.content_types", vec!["image/png"]);
    let app = common::app(sources).await;

    let answer = token_answer(&app, "image/png%0d%0aX:y").await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.code(), "InvalidContentType");
    let message = answer.json()["message"].as_str().unwrap().to_owned();
    assert!(message.contains("control character"), "{message}");
    assert!(message.contains("image/png"), "{message}");
}

/// Sends a request with the given method and path, without a body.
async fn send_method(app: &common::TestApp, method: &str, path: &str) -> StatusCode {
    let request = axum::http::Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {}", common::ALICE_TOKEN))
        .body(axum::body::Body::empty())
        .unwrap();
    app.send(request).await.status
}

#[tokio::test]
async fn invented_methods_share_one_label() {
    let app = common::app(common::sources()).await;
    for index in 0..20 {
        let method = format!("M{index:05}X");
        for path in ["/api/uploads", "/api/uploads/7", "/healthz"] {
            send_method(&app, &method, path).await;
        }
    }
    send_method(&app, "GET", "/api/uploads").await;

    let metrics = app.get("/metrics", None).await;
    let text = String::from_utf8(metrics.body).unwrap();
    assert!(!text.contains("M00000X"), "{text}");
    assert!(!text.contains("M00019X"), "{text}");
    assert!(
        text.contains(
            "ossgate_http_request_duration_seconds_count\
             {method=\"other\",route=\"/api/uploads\",status=\"405\"} 20\n"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "ossgate_http_request_duration_seconds_count\
             {method=\"other\",route=\"/api/uploads/{id}\",status=\"405\"} 20\n"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "ossgate_http_request_duration_seconds_count\
             {method=\"GET\",route=\"/api/uploads\",status=\"200\"} 1\n"
        ),
        "{text}"
    );
}

#[tokio::test]
async fn wrong_method_keeps_route_label() {
    let app = common::app(common::sources()).await;
    send_method(&app, "POST", "/api/upload-token").await;
    send_method(&app, "DELETE", "/api/uploads/1").await;
    send_method(&app, "GET", "/api/oss/callback").await;
    send_method(&app, "DELETE", "/api/nothing").await;

    let metrics = app.get("/metrics", None).await;
    let text = String::from_utf8(metrics.body).unwrap();
    for (method, route, status) in [
        ("POST", "/api/upload-token", 405),
        ("DELETE", "/api/uploads/{id}", 405),
        ("GET", "/api/oss/callback", 405),
        ("DELETE", "unmatched", 404),
    ] {
        let series = format!(
            "ossgate_http_request_duration_seconds_count\
             {{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} 1\n"
        );
        assert!(text.contains(&series), "no {series}: {text}");
    }
    assert!(!text.contains("/api/uploads/1"), "{text}");
    assert!(!text.contains("/api/nothing"), "{text}");
}

#[tokio::test]
async fn raw_paths_never_become_labels() {
    let app = common::app(common::sources()).await;
    for index in 0..20 {
        send_method(&app, "GET", &format!("/no-such-page-{index}")).await;
        send_method(&app, "POST", &format!("/api/nothing/{index}")).await;
        send_method(&app, "GET", &format!("/api/uploads/{index}")).await;
    }
    send_method(&app, "GET", "/").await;

    let metrics = app.get("/metrics", None).await;
    let text = String::from_utf8(metrics.body).unwrap();
    assert!(!text.contains("no-such-page"), "{text}");
    assert!(!text.contains("/api/nothing"), "{text}");
    assert!(!text.contains("/api/uploads/1"), "{text}");
    let route_labels: std::collections::BTreeSet<&str> = text
        .lines()
        .filter_map(|line| line.split("route=\"").nth(1))
        .filter_map(|rest| rest.split('"').next())
        .collect();
    for route in &route_labels {
        assert!(
            ["/api/uploads/{id}", "/metrics", "static", "unmatched"].contains(route),
            "unexpected route label {route}: {text}"
        );
    }
    for route in ["static", "unmatched"] {
        assert!(route_labels.contains(route), "no {route} label: {text}");
    }
}

/// A test app served over a real socket by the serve loop.
struct Served {
    address: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

async fn serve_app(options: ServeOptions) -> Served {
    let app = common::app(common::sources()).await;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let shutdown = async move {
        let _ = stopped.await;
    };
    let task = tokio::spawn(serve_with(listener, app.router, shutdown, options));
    Served {
        address,
        stop,
        task,
    }
}

/// Reads until the server closes the connection (or resets it), giving up
/// after `limit`. Returns what was read, or `None` when the connection was
/// still open at the limit.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Option<Vec<u8>> {
    let mut received = Vec::new();
    let read = tokio::time::timeout(limit, async {
        let mut buffer = [0u8; 1024];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(count) => received.extend_from_slice(&buffer[..count]),
            }
        }
    })
    .await;
    read.ok().map(|()| received)
}

const PARTIAL_HEADERS: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: x\r\n";

#[tokio::test]
async fn partial_headers_are_cut_off() {
    let served = serve_app(ServeOptions {
        header_read_timeout: Duration::from_millis(500),
        shutdown_grace: Duration::from_secs(10),
    })
    .await;

    let started = Instant::now();
    let mut client = TcpStream::connect(served.address).await.unwrap();
    client.write_all(PARTIAL_HEADERS).await.unwrap();
    let closed = read_until_closed(&mut client, Duration::from_secs(5)).await;
    let elapsed = started.elapsed();
    assert!(closed.is_some(), "still open after 5 s");
    assert!(elapsed >= Duration::from_millis(400), "{elapsed:?}");

    // A client that finishes its headers in time is served.
    let mut client = TcpStream::connect(served.address).await.unwrap();
    client
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let response = read_until_closed(&mut client, Duration::from_secs(5))
        .await
        .expect("the server closes after the response");
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");

    served.stop.send(()).unwrap();
    served.task.await.unwrap().unwrap();
}

#[tokio::test]
async fn silent_connection_is_cut_off() {
    let served = serve_app(ServeOptions {
        header_read_timeout: Duration::from_millis(500),
        shutdown_grace: Duration::from_secs(10),
    })
    .await;

    let mut client = TcpStream::connect(served.address).await.unwrap();
    let closed = read_until_closed(&mut client, Duration::from_secs(5)).await;
    assert_eq!(closed, Some(Vec::new()));

    served.stop.send(()).unwrap();
    served.task.await.unwrap().unwrap();
}

#[tokio::test]
async fn shutdown_closes_stuck_clients_at_deadline() {
    let served = serve_app(ServeOptions {
        header_read_timeout: Duration::from_secs(60),
        shutdown_grace: Duration::from_millis(300),
    })
    .await;

    // One client sends nothing, one stops inside its headers, and one stops
    // inside the body of a request the router is already handling.
    let mut silent = TcpStream::connect(served.address).await.unwrap();
    let mut partial = TcpStream::connect(served.address).await.unwrap();
    partial.write_all(PARTIAL_HEADERS).await.unwrap();
    let mut in_flight = TcpStream::connect(served.address).await.unwrap();
    in_flight
        .write_all(
            b"POST /api/oss/callback HTTP/1.1\r\nHost: x\r\n\
              Content-Type: application/x-www-form-urlencoded\r\n\
              Content-Length: 1000\r\n\r\nbucket=",
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    let started = Instant::now();
    served.stop.send(()).unwrap();
    let finished = tokio::time::timeout(Duration::from_secs(5), served.task).await;
    let elapsed = started.elapsed();
    assert!(finished.is_ok(), "shutdown still waiting after 5 s");
    finished.unwrap().unwrap().unwrap();
    assert!(elapsed >= Duration::from_millis(250), "{elapsed:?}");

    for (name, client) in [
        ("silent", &mut silent),
        ("partial", &mut partial),
        ("in flight", &mut in_flight),
    ] {
        let closed = read_until_closed(client, Duration::from_secs(2)).await;
        assert!(closed.is_some(), "the {name} client is still connected");
    }
}

#[tokio::test]
async fn shutdown_lets_request_in_flight_finish() {
    let served = serve_app(ServeOptions {
        header_read_timeout: Duration::from_secs(60),
        shutdown_grace: Duration::from_secs(10),
    })
    .await;

    // A callback whose body is still arriving when the signal comes.
    let body = b"bucket=b&object=o";
    let mut client = TcpStream::connect(served.address).await.unwrap();
    let head = format!(
        "POST /api/oss/callback HTTP/1.1\r\nHost: x\r\n\
         Content-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    client.write_all(head.as_bytes()).await.unwrap();
    client.write_all(&body[..5]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    served.stop.send(()).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    client.write_all(&body[5..]).await.unwrap();

    // The request gets its response (an unsigned callback is rejected), and
    // then the server closes the connection and stops.
    let response = read_until_closed(&mut client, Duration::from_secs(5))
        .await
        .expect("the server closes after the response");
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 400"), "{response}");
    let finished = tokio::time::timeout(Duration::from_secs(5), served.task).await;
    assert!(finished.is_ok(), "shutdown still waiting after 5 s");
}
