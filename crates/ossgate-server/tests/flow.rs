//! The whole flow over real sockets with the real emulator: token, multipart
//! form post to the emulated bucket, the emulator's signed callback, the
//! record. Also the official plupload client's form against `/api/policy`,
//! replays of a real callback, and forged variants of it.

mod common;

use std::net::SocketAddr;
use std::path::Path;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ossgate_server::config::ConfigSources;
use ossgate_server::{DevOptions, DevServer};
use reqwest::multipart::{Form, Part};
use reqwest::StatusCode;
use serde_json::Value;

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
    let key = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
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

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

async fn get_json(url: &str) -> Value {
    let response = client().get(url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{url}");
    response.json().await.unwrap()
}

/// Posts a multipart form: `fields` in order, then the file part last.
async fn post_form(
    url: &str,
    fields: &[(String, String)],
    filename: &str,
    content_type: &str,
    data: Vec<u8>,
) -> (StatusCode, String) {
    let mut form = Form::new();
    for (name, value) in fields {
        form = form.text(name.clone(), value.clone());
    }
    let part = Part::bytes(data)
        .file_name(filename.to_owned())
        .mime_str(content_type)
        .unwrap();
    form = form.part("file", part);
    let response = client().post(url).multipart(form).send().await.unwrap();
    let status = response.status();
    (status, response.text().await.unwrap())
}

async fn upload_with_token(server: &DevServer, filename: &str) -> (Value, Value) {
    let data = png();
    let encoded: String = url::form_urlencoded::byte_serialize(filename.as_bytes()).collect();
    let token_url = format!(
        "{}/api/upload-token?filename={encoded}&size={}&contentType=image%2Fpng",
        server.app_url,
        data.len()
    );
    let response = client().get(&token_url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let raw = response.bytes().await.unwrap();
    let token: Value = serde_json::from_slice(&raw).unwrap();
    let fields = common::ordered_fields(&raw);

    let (status, body) = post_form(
        token["url"].as_str().unwrap(),
        &fields,
        filename,
        "image/png",
        data,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    (
        token,
        serde_json::from_str(&body).unwrap_or_else(|_| panic!("not JSON: {body}")),
    )
}

#[tokio::test]
async fn token_upload_callback_record() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), ConfigSources::default()).await;

    // The browser receives the app server's callback response, relayed by the emulator.
    let (token, reply) = upload_with_token(&server, "cat.png").await;
    assert_eq!(reply["Status"], "OK");
    assert_eq!(reply["object"], token["key"]);
    assert_eq!(reply["size"], png().len());
    assert_eq!(reply["mimeType"], "image/png");

    // The presigned URL reads the object back from the emulator.
    let url = reply["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("{}/ossgate-dev/", server.emulator_url)),
        "{url}"
    );
    let object = client().get(url).send().await.unwrap();
    assert_eq!(object.status(), StatusCode::OK);
    assert_eq!(object.bytes().await.unwrap().to_vec(), png());

    // The record carries what OSS reported.
    let list = get_json(&format!("{}/api/uploads", server.app_url)).await;
    let uploads = list["uploads"].as_array().unwrap();
    assert_eq!(uploads.len(), 1);
    assert_eq!(uploads[0]["id"], reply["id"]);
    assert_eq!(uploads[0]["imageWidth"], 1);
    assert_eq!(uploads[0]["imageHeight"], 1);
    assert_eq!(uploads[0]["imageFormat"], "png");
    assert_eq!(uploads[0]["bucket"], "ossgate-dev");

    server.stop().await.unwrap();
}

#[tokio::test]
async fn plupload_form_against_legacy_policy() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), ConfigSources::default()).await;
    let policy = get_json(&format!("{}/api/policy", server.app_url)).await;
    assert!(policy["expire"].is_i64());
    let dir_prefix = policy["dir"].as_str().unwrap();

    // Field for field what upload.js sets, then plupload's own `name` field;
    // plupload appends the file part last.
    let fields: Vec<(String, String)> = [
        ("key", format!("{dir_prefix}${{filename}}")),
        ("policy", policy["policy"].as_str().unwrap().to_owned()),
        (
            "OSSAccessKeyId",
            policy["accessid"].as_str().unwrap().to_owned(),
        ),
        ("success_action_status", "200".to_owned()),
        ("callback", policy["callback"].as_str().unwrap().to_owned()),
        (
            "signature",
            policy["signature"].as_str().unwrap().to_owned(),
        ),
        ("name", "holiday.png".to_owned()),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect();
    let (status, body) = post_form(
        policy["host"].as_str().unwrap(),
        &fields,
        "holiday.png",
        "image/png",
        png(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let reply: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(reply["Status"], "OK");
    assert_eq!(reply["object"], format!("{dir_prefix}holiday.png"));

    // The legacy ticket carries no name, so the key's last segment is recorded.
    assert_eq!(reply["filename"], "holiday.png");
    let list = get_json(&format!("{}/api/uploads", server.app_url)).await;
    assert_eq!(list["uploads"][0]["filename"], "holiday.png");

    server.stop().await.unwrap();
}

#[tokio::test]
async fn unique_key_records_the_cjk_file_name() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), ConfigSources::default()).await;
    let filename = "2026 年度报告 \"终稿\".png";
    let (token, reply) = upload_with_token(&server, filename).await;

    // The key is the server's hex name, and the record keeps the real one.
    let key = token["key"].as_str().unwrap();
    assert!(!key.contains("年度"), "{key}");
    assert_eq!(reply["object"], key);
    assert_eq!(reply["filename"], filename);

    let list = get_json(&format!("{}/api/uploads", server.app_url)).await;
    assert_eq!(list["uploads"][0]["object"], key);
    assert_eq!(list["uploads"][0]["filename"], filename);
    let id = reply["id"].as_i64().unwrap();
    let one = get_json(&format!("{}/api/uploads/{id}", server.app_url)).await;
    assert_eq!(one["filename"], filename);

    server.stop().await.unwrap();
}

#[tokio::test]
async fn unique_key_truncates_long_name() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), ConfigSources::default()).await;
    // 1 + 3 * 110 + 4 bytes, beyond the 255-byte limit of a recorded name.
    let filename = format!("a{}.png", "报".repeat(110));
    let (_, reply) = upload_with_token(&server, &filename).await;

    let recorded = reply["filename"].as_str().unwrap();
    assert_eq!(recorded.len(), 1 + 3 * 84, "{recorded}");
    assert!(filename.starts_with(recorded), "{recorded}");
    let list = get_json(&format!("{}/api/uploads", server.app_url)).await;
    assert_eq!(list["uploads"][0]["filename"], recorded);

    server.stop().await.unwrap();
}

/// The callback the emulator sent, as recorded by its test hooks.
struct SentCallback {
    path_and_query: String,
    headers: Vec<(String, String)>,
    body: String,
    response: String,
}

async fn last_callback(server: &DevServer) -> SentCallback {
    let hooks = get_json(&format!("{}/_emulator/callbacks", server.emulator_url)).await;
    let record = hooks["callbacks"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(record["outcome"], "ok", "{record}");
    let url = reqwest::Url::parse(record["url"].as_str().unwrap()).unwrap();
    let path_and_query = match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    };
    let headers = record["requestHeaders"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, value)| {
            (
                name.to_ascii_lowercase(),
                value.as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    SentCallback {
        path_and_query,
        headers,
        body: record["body"].as_str().unwrap().to_owned(),
        response: record["responseBody"].as_str().unwrap().to_owned(),
    }
}

impl SentCallback {
    fn header(&self, name: &str) -> String {
        self.headers
            .iter()
            .find(|(header, _)| header == name)
            .map(|(_, value)| value.clone())
            .unwrap_or_else(|| panic!("the callback had no {name} header"))
    }

    /// Sends the callback again to the app server, with changes.
    async fn resend(
        &self,
        server: &DevServer,
        authorization: Option<&str>,
        key_url: Option<&str>,
        body: &str,
    ) -> (StatusCode, Value) {
        let authorization =
            authorization.map_or_else(|| self.header("authorization"), str::to_owned);
        let key_url = key_url.map_or_else(|| self.header("x-oss-pub-key-url"), str::to_owned);
        let response = client()
            .post(format!("{}{}", server.app_url, self.path_and_query))
            .header("authorization", authorization)
            .header("x-oss-pub-key-url", key_url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap())
    }
}

#[tokio::test]
async fn real_callback_replay_adds_no_row() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), ConfigSources::default()).await;
    let (_, reply) = upload_with_token(&server, "a.png").await;
    let sent = last_callback(&server).await;
    assert_eq!(
        serde_json::from_str::<Value>(&sent.response).unwrap(),
        reply
    );

    let (status, replayed) = sent.resend(&server, None, None, &sent.body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(replayed["id"], reply["id"]);
    assert_eq!(replayed["object"], reply["object"]);
    let list = get_json(&format!("{}/api/uploads", server.app_url)).await;
    assert_eq!(list["uploads"].as_array().unwrap().len(), 1);

    server.stop().await.unwrap();
}

/// A real callback with one part forged, and the rejection it must get.
struct Forgery {
    case: &'static str,
    authorization: Option<String>,
    key_url: Option<String>,
    body: String,
    status: StatusCode,
    code: &'static str,
}

#[tokio::test]
async fn forged_variants_of_a_real_callback_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), ConfigSources::default()).await;
    upload_with_token(&server, "a.png").await;
    let sent = last_callback(&server).await;
    let key_url =
        String::from_utf8(STANDARD.decode(sent.header("x-oss-pub-key-url")).unwrap()).unwrap();
    let emulator_port = reqwest::Url::parse(&server.emulator_url)
        .unwrap()
        .port()
        .unwrap();
    let b64 = |text: &str| STANDARD.encode(text);

    let cases = [
        Forgery {
            case: "foreign key URL",
            authorization: None,
            key_url: Some(b64("http://attacker.example.com/callback_pub_key_v1.pem")),
            body: sent.body.clone(),
            status: StatusCode::FORBIDDEN,
            code: "UntrustedKeyUrl",
        },
        Forgery {
            case: "userinfo in the key URL",
            authorization: None,
            key_url: Some(b64(&key_url.replace("http://", "http://user@"))),
            body: sent.body.clone(),
            status: StatusCode::FORBIDDEN,
            code: "UntrustedKeyUrl",
        },
        Forgery {
            case: "another port",
            authorization: None,
            key_url: Some(b64(&key_url.replace(
                &emulator_port.to_string(),
                &(emulator_port ^ 1).to_string(),
            ))),
            body: sent.body.clone(),
            status: StatusCode::FORBIDDEN,
            code: "UntrustedKeyUrl",
        },
        Forgery {
            case: "another scheme",
            authorization: None,
            key_url: Some(b64(&key_url.replace("http://", "https://"))),
            body: sent.body.clone(),
            status: StatusCode::FORBIDDEN,
            code: "UntrustedKeyUrl",
        },
        Forgery {
            case: "bad base64",
            authorization: Some("@@not-base64@@".to_owned()),
            key_url: None,
            body: sent.body.clone(),
            status: StatusCode::BAD_REQUEST,
            code: "InvalidHeader",
        },
        Forgery {
            case: "bad signature",
            authorization: Some(b64(
                "sixty-four bytes that are not the RSA signature of anything....",
            )),
            key_url: None,
            body: sent.body.clone(),
            status: StatusCode::FORBIDDEN,
            code: "SignatureDoesNotMatch",
        },
        Forgery {
            case: "tampered body",
            authorization: None,
            key_url: None,
            body: sent.body.replacen("size=", "size=1", 1),
            status: StatusCode::FORBIDDEN,
            code: "SignatureDoesNotMatch",
        },
    ];
    for forgery in cases {
        let (status, reply) = sent
            .resend(
                &server,
                forgery.authorization.as_deref(),
                forgery.key_url.as_deref(),
                &forgery.body,
            )
            .await;
        assert_eq!(status, forgery.status, "{}: {reply}", forgery.case);
        assert_eq!(reply["code"], forgery.code, "{}: {reply}", forgery.case);
    }

    let metrics = client()
        .get(format!("{}/metrics", server.app_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("reason=\"signature_mismatch\"} 2"),
        "{metrics}"
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn disallowed_content_type_is_rejected_by_the_bucket() {
    let dir = tempfile::tempdir().unwrap();
    let mut sources = ConfigSources::default();
    sources.set("upload.content_types", vec!["image/png"]);
    let server = start(dir.path(), sources).await;

    // The token names image/png, and the browser swaps the form's type.
    let token_url = format!(
        "{}/api/upload-token?filename=a.png&contentType=image%2Fpng",
        server.app_url
    );
    let raw = client()
        .get(&token_url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let token: Value = serde_json::from_slice(&raw).unwrap();
    let fields: Vec<(String, String)> = common::ordered_fields(&raw)
        .into_iter()
        .map(|(name, value)| {
            if name == "Content-Type" {
                (name, "text/html".to_owned())
            } else {
                (name, value)
            }
        })
        .collect();
    let (status, body) = post_form(
        token["url"].as_str().unwrap(),
        &fields,
        "a.png",
        "text/html",
        png(),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("Policy Condition failed"), "{body}");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn restart_keeps_credentials_and_records() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), ConfigSources::default()).await;
    let (_, reply) = upload_with_token(&server, "first.png").await;
    server.stop().await.unwrap();

    let server = start(dir.path(), ConfigSources::default()).await;
    let list = get_json(&format!("{}/api/uploads", server.app_url)).await;
    assert_eq!(list["uploads"][0]["id"], reply["id"]);
    upload_with_token(&server, "second.png").await;
    let list = get_json(&format!("{}/api/uploads", server.app_url)).await;
    assert_eq!(list["uploads"].as_array().unwrap().len(), 2);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn v1_token_uploads_too() {
    let dir = tempfile::tempdir().unwrap();
    let mut sources = ConfigSources::default();
    sources.set("oss.signature_version", "v1");
    let server = start(dir.path(), sources).await;
    let (token, reply) = upload_with_token(&server, "v1.png").await;
    assert_eq!(token["signatureVersion"], "v1");
    assert!(token["fields"]["Signature"].is_string(), "{token}");
    assert_eq!(reply["Status"], "OK");

    // The V1 presigned URL reads the object back.
    let object = client()
        .get(reply["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(object.status(), StatusCode::OK);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn filename_strategy_stores_the_file_name() {
    let dir = tempfile::tempdir().unwrap();
    let mut sources = ConfigSources::default();
    sources.set("upload.key_strategy", "filename");
    let server = start(dir.path(), sources).await;
    let (token, reply) = upload_with_token(&server, "holiday.png").await;
    assert_eq!(
        reply["object"],
        format!("{}holiday.png", token["dir"].as_str().unwrap())
    );
    assert_eq!(reply["filename"], "holiday.png");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn shutdown_records_upload_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), ConfigSources::default()).await;

    // The emulator pauses before its callback, so the upload is still in
    // flight when shutdown begins.
    let faults = client()
        .post(format!("{}/_emulator/faults", server.emulator_url))
        .json(&serde_json::json!({"callback_delay_ms": 1500}))
        .send()
        .await
        .unwrap();
    assert_eq!(faults.status(), StatusCode::OK);
    let token_url = format!(
        "{}/api/upload-token?filename=late.png&contentType=image%2Fpng",
        server.app_url
    );
    let raw = client()
        .get(&token_url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let token: Value = serde_json::from_slice(&raw).unwrap();
    let fields = common::ordered_fields(&raw);
    let upload_url = token["url"].as_str().unwrap().to_owned();
    let upload = tokio::spawn(async move {
        post_form(&upload_url, &fields, "late.png", "image/png", png()).await
    });
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;

    // While the emulator drains, the app server turns away new requests.
    let app_url = server.app_url.clone();
    let stopping = tokio::spawn(server.stop());
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let late = client()
        .get(format!("{app_url}/api/limits"))
        .send()
        .await
        .unwrap();
    assert_eq!(late.status(), StatusCode::SERVICE_UNAVAILABLE);

    // The upload completes with the app server's answer.
    let (status, body) = upload.await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    let reply: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(reply["Status"], "OK");
    stopping.await.unwrap().unwrap();

    // After a restart the upload is on record.
    let server = start(dir.path(), ConfigSources::default()).await;
    let list = get_json(&format!("{}/api/uploads", server.app_url)).await;
    let uploads = list["uploads"].as_array().unwrap();
    assert_eq!(uploads.len(), 1);
    assert_eq!(uploads[0]["object"], token["key"]);
    server.stop().await.unwrap();
}

/// Requests a token for `a.png` with `query` and returns it with its fields in order.
async fn token_with_fields(server: &DevServer, query: &str) -> (Value, Vec<(String, String)>) {
    let token_url = format!("{}/api/upload-token?{query}", server.app_url);
    let response = client().get(&token_url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let raw = response.bytes().await.unwrap();
    (
        serde_json::from_slice(&raw).unwrap(),
        common::ordered_fields(&raw),
    )
}

async fn upload_count(server: &DevServer) -> usize {
    let list = get_json(&format!("{}/api/uploads", server.app_url)).await;
    list["uploads"].as_array().unwrap().len()
}

#[tokio::test]
async fn browser_cannot_make_object_public() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), ConfigSources::default()).await;
    let (token, fields) =
        token_with_fields(&server, "filename=a.png&contentType=image%2Fpng").await;
    let url = token["url"].as_str().unwrap();

    // A changed ACL field fails the policy.
    let public: Vec<(String, String)> = fields
        .iter()
        .map(|(name, value)| match name.as_str() {
            "x-oss-object-acl" => (name.clone(), "public-read".to_owned()),
            _ => (name.clone(), value.clone()),
        })
        .collect();
    let (status, body) = post_form(url, &public, "a.png", "image/png", png()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("Policy Condition failed"), "{body}");
    assert!(body.contains("x-oss-object-acl"), "{body}");

    // So does a form without it.
    let without: Vec<(String, String)> = fields
        .iter()
        .filter(|(name, _)| name != "x-oss-object-acl")
        .cloned()
        .collect();
    let (status, body) = post_form(url, &without, "a.png", "image/png", png()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    assert_eq!(upload_count(&server).await, 0);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn token_cannot_overwrite_its_object() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), ConfigSources::default()).await;
    let (token, fields) =
        token_with_fields(&server, "filename=a.png&contentType=image%2Fpng").await;
    let url = token["url"].as_str().unwrap();

    let (status, body) = post_form(url, &fields, "a.png", "image/png", png()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let reply: Value = serde_json::from_str(&body).unwrap();

    // The same token again, with other bytes.
    let (status, body) = post_form(url, &fields, "a.png", "image/png", b"other".to_vec()).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body.contains("FileAlreadyExists"), "{body}");

    // The first upload's record and bytes stand.
    assert_eq!(upload_count(&server).await, 1);
    let object = client()
        .get(reply["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(object.bytes().await.unwrap().to_vec(), png());
    server.stop().await.unwrap();
}

#[tokio::test]
async fn declared_size_bounds_the_upload() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), ConfigSources::default()).await;
    let declared = png().len() - 1;
    let (token, fields) = token_with_fields(
        &server,
        &format!("filename=a.png&size={declared}&contentType=image%2Fpng"),
    )
    .await;
    assert_eq!(token["maxSize"], declared);

    let (status, body) = post_form(
        token["url"].as_str().unwrap(),
        &fields,
        "a.png",
        "image/png",
        png(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("EntityTooLarge"), "{body}");
    assert_eq!(upload_count(&server).await, 0);
    server.stop().await.unwrap();
}
