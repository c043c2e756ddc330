//! A production-style setup over real sockets: the emulator as the bucket, a
//! reverse proxy that strips `/ossgate` in front of the app server, and the
//! emulator's key fetched (not pinned) from its trusted URL.

mod common;

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header;
use axum::response::Response;
use axum::Router;
use ossgate_emulator::{BucketConfig, CredentialConfig, Emulator, EmulatorConfig};
use ossgate_server::config::{ConfigSources, Mode, ServerConfig};
use ossgate_server::{AppState, Database};
use reqwest::multipart::{Form, Part};
use reqwest::StatusCode;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::watch;

const BUCKET: &str = "proxied-bucket";
const ACCESS_KEY_ID: &str = "LTAI5tProxyTest";
const ACCESS_KEY_SECRET: &str = "proxy-test-access-key-secret";

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

async fn listener() -> (TcpListener, String) {
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    (listener, url)
}

async fn stopped(mut receiver: watch::Receiver<bool>) {
    let _ = receiver.wait_for(|stop| *stop).await;
}

/// Forwards every request under `/ossgate` to the app server without the prefix.
async fn forward(State(app_url): State<String>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let target = parts
        .uri
        .path_and_query()
        .map_or("/", |target| target.as_str());
    let Some(stripped) = target.strip_prefix("/ossgate") else {
        return Response::builder().status(404).body(Body::empty()).unwrap();
    };
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let mut upstream = client().request(parts.method, format!("{app_url}{stripped}"));
    for (name, value) in &parts.headers {
        if name != header::HOST && name != header::CONTENT_LENGTH {
            upstream = upstream.header(name, value);
        }
    }
    let answer = upstream.body(body).send().await.unwrap();
    let mut response = Response::builder().status(answer.status());
    for (name, value) in answer.headers() {
        if name != header::TRANSFER_ENCODING {
            response = response.header(name, value);
        }
    }
    response
        .body(Body::from(answer.bytes().await.unwrap()))
        .unwrap()
}

/// Uploads a file through the whole setup with `public_path_prefix` set to
/// `prefix`, signing with STS credentials when `security_token` is given, and
/// returns the emulator's status and body.
async fn upload_through_proxy(prefix: &str, security_token: Option<&str>) -> (StatusCode, String) {
    let dir = tempfile::tempdir().unwrap();
    let (stop, stop_receiver) = watch::channel(false);

    // The bucket.
    let (emulator_listener, emulator_url) = listener().await;
    let key_path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../ossgate-protocol/tests/vectors/keys/callback_private_pkcs8.pem");
    let emulator = Emulator::new(EmulatorConfig {
        data_dir: dir.path().join("emulator"),
        buckets: vec![BucketConfig::new(BUCKET)],
        credentials: vec![match security_token {
            Some(token) => {
                CredentialConfig::new(ACCESS_KEY_ID, ACCESS_KEY_SECRET).with_security_token(token)
            }
            None => CredentialConfig::new(ACCESS_KEY_ID, ACCESS_KEY_SECRET),
        }],
        callback_key_path: Some(key_path),
        ..EmulatorConfig::default()
    })
    .unwrap();
    tokio::spawn(ossgate_emulator::serve(
        emulator,
        emulator_listener,
        stopped(stop_receiver.clone()),
    ));

    // The proxy and the app server behind it.
    let (app_listener, app_url) = listener().await;
    let (proxy_listener, proxy_url) = listener().await;
    let proxy = Router::new().fallback(forward).with_state(app_url.clone());
    tokio::spawn(ossgate_server::serve(
        proxy_listener,
        proxy,
        stopped(stop_receiver.clone()),
    ));

    let mut sources = ConfigSources::default();
    sources.set("oss.bucket", BUCKET);
    sources.set("oss.region", "cn-hangzhou");
    sources.set("oss.bucket_url", format!("{emulator_url}/{BUCKET}"));
    sources.set("oss.access_key_id", ACCESS_KEY_ID);
    sources.set("oss.access_key_secret", ACCESS_KEY_SECRET);
    if let Some(token) = security_token {
        sources.set("oss.security_token", token);
    }
    sources.set(
        "callback.url",
        format!("{proxy_url}/ossgate/api/oss/callback"),
    );
    sources.set("callback.public_path_prefix", prefix);
    sources.set(
        "callback.trusted_key_url_prefixes",
        vec![Emulator::key_url(&emulator_url)],
    );
    sources.set(
        "callback.ticket_secret",
        "proxy-test-ticket-secret-0123456789",
    );
    sources.set("auth.mode", "none");
    let config = ServerConfig::load(&sources, Mode::Serve).unwrap();
    let state = AppState::new(config, Database::in_memory().await.unwrap()).unwrap();
    tokio::spawn(ossgate_server::serve(
        app_listener,
        ossgate_server::router(state),
        stopped(stop_receiver),
    ));

    // The browser: a token through the proxy, the form straight to the bucket.
    let raw = client()
        .get(format!(
            "{proxy_url}/ossgate/api/upload-token?filename=a.txt"
        ))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let token: Value = serde_json::from_slice(&raw).unwrap();
    let mut form = Form::new();
    for (name, value) in common::ordered_fields(&raw) {
        form = form.text(name, value);
    }
    form = form.part("file", Part::bytes(b"hello".to_vec()).file_name("a.txt"));
    let response = client()
        .post(token["url"].as_str().unwrap())
        .multipart(form)
        .send()
        .await
        .unwrap();
    let result = (response.status(), response.text().await.unwrap());
    let _ = stop.send(true);
    result
}

#[tokio::test]
async fn prefix_behind_a_proxy_verifies() {
    let (status, body) = upload_through_proxy("/ossgate", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let reply: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(reply["Status"], "OK");
    assert_eq!(reply["size"], 5);
}

#[tokio::test]
async fn missing_prefix_behind_a_proxy_fails_the_callback() {
    let (status, body) = upload_through_proxy("", None).await;
    assert_eq!(status.as_u16(), 203, "{body}");
    assert!(body.contains("CallbackFailed"), "{body}");
}

#[tokio::test]
async fn sts_credentials_upload_and_call_back() {
    let (status, body) = upload_through_proxy("/ossgate", Some("sts-security-token-value")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let reply: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(reply["Status"], "OK");
    let url = reply["url"].as_str().unwrap();
    assert!(
        url.contains("x-oss-security-token=sts-security-token-value"),
        "{url}"
    );
}
