//! Upload callbacks: what the emulator sends, how the receiver verifies it
//! with the protocol crate and the key the emulator serves, and each way a
//! callback can fail (203 CallbackFailed) while the object is kept.

mod common;

use std::time::Duration;

use base64::Engine as _;
use common::*;
use ossgate_protocol::callback::{CallbackBodyType, CallbackParam};
use ossgate_protocol::form::SignatureVersion;
use ossgate_protocol::verify::{self, CallbackPublicKey};
use ossgate_protocol::FormFields;

const FORM_BODY: &str =
    "bucket=${bucket}&object=${object}&etag=${etag}&size=${size}&mimeType=${mimeType}\
&height=${imageInfo.height}&width=${imageInfo.width}&format=${imageInfo.format}&my_var=${x:my_var}";

fn callback_fields(key: &str, param: &CallbackParam, extra: &[(&str, &str)]) -> FormFields {
    let mut fields = signed_fields(key, policy(vec![]), SignatureVersion::V1);
    fields.push("success_action_status", "200");
    fields.push("callback", param.to_base64());
    for (name, value) in extra {
        fields.push(*name, *value);
    }
    fields
}

/// Fetches the key named by `x-oss-pub-key-url` and verifies the callback with it.
async fn verify_callback(emulator: &TestEmulator, callback: &ReceivedCallback) {
    let key_url_b64 = callback.headers["x-oss-pub-key-url"].to_str().unwrap();
    let key_url = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(key_url_b64)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        key_url,
        format!("{}/callback_pub_key_v1.pem", emulator.base_url)
    );
    let pem = emulator
        .client
        .get(&key_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let key = CallbackPublicKey::from_pem(&pem).unwrap();
    assert_eq!(key.bits(), 512);
    let authorization = callback.headers["authorization"].to_str().unwrap();

    verify::verify(&callback.target, &callback.body, authorization, &key)
        .expect("the callback signature verifies");
}

#[tokio::test]
async fn successful_callback_relays_body() {
    let emulator = TestEmulator::start().await;
    let receiver = CallbackReceiver::start(Reply::Json(r#"{"Status":"OK","id":7}"#)).await;
    let mut param = CallbackParam::new(receiver.url.clone(), FORM_BODY);
    param.host = Some("app.example.com".to_owned());
    let fields = callback_fields("img/pic.png", &param, &[("x:my_var", "hello world")]);

    let response = emulator
        .post(
            "photos",
            &fields,
            FilePart::bytes("pic.png", "image/png", tiny_png()),
        )
        .await;

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let request_id = response.headers()["x-oss-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(response.text().await.unwrap(), r#"{"Status":"OK","id":7}"#);

    let received = receiver.requests();
    assert_eq!(received.len(), 1);
    let callback = &received[0];
    assert_eq!(callback.target, "/api/oss/callback?token=abc%2Fdef&x=1");
    let etag_hex = etag.trim_matches('"');
    assert_eq!(
        String::from_utf8(callback.body.to_vec()).unwrap(),
        format!(
            "bucket=photos&object=img%2Fpic.png&etag={etag_hex}&size={}&mimeType=image%2Fpng\
&height=2&width=3&format=png&my_var=hello%20world",
            tiny_png().len()
        )
    );
    let header = |name: &str| callback.headers[name].to_str().unwrap().to_owned();
    assert_eq!(header("host"), "app.example.com");
    assert_eq!(header("content-type"), "application/x-www-form-urlencoded");
    assert_eq!(header("x-oss-bucket"), "photos");
    assert_eq!(header("x-oss-request-id"), request_id);
    assert_eq!(header("user-agent"), "aliyun-oss-callback");
    assert!(httpdate::parse_http_date(&header("date")).is_ok());
    use md5::Digest as _;
    assert_eq!(
        header("content-md5"),
        base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(&callback.body))
    );
    verify_callback(&emulator, callback).await;
    assert_eq!(emulator.object_keys("photos").await, ["img/pic.png"]);
}

#[tokio::test]
async fn json_callback_body_is_rendered() {
    let emulator = TestEmulator::start().await;
    let receiver = CallbackReceiver::start(Reply::Json(r#"{"ok":true}"#)).await;
    let mut param = CallbackParam::new(
        receiver.url.clone(),
        r#"{"object":${object},"size":${size},"width":${imageInfo.width},"crc":${crc64},"op":${operation}}"#,
    );
    param.body_type = Some(CallbackBodyType::Json);
    let fields = callback_fields("notes/a.txt", &param, &[]);

    let response = emulator
        .post("photos", &fields, FilePart::text("hello"))
        .await;

    assert_eq!(response.status(), 200);
    let crc = response.headers()["x-oss-hash-crc64ecma"]
        .to_str()
        .unwrap()
        .to_owned();
    let callback = &receiver.requests()[0];
    assert_eq!(callback.headers["content-type"], "application/json");
    let body: serde_json::Value = serde_json::from_slice(&callback.body).unwrap();
    assert_eq!(body["object"], "notes/a.txt");
    assert_eq!(body["size"], 5);
    assert_eq!(body["width"], "");
    assert_eq!(body["crc"], crc.as_str());
    assert_eq!(body["op"], "PostObject");
    verify_callback(&emulator, callback).await;
}

/// Posts with a callback to `url` and asserts a 203 CallbackFailed with `message`.
async fn assert_callback_fails(emulator: &TestEmulator, url: &str, message: &str) {
    let param = CallbackParam::new(url, "object=${object}");
    let fields = callback_fields("kept.txt", &param, &[]);

    let response = emulator
        .post("photos", &fields, FilePart::text("kept"))
        .await;

    assert_eq!(response.status(), 203);
    assert!(response.headers().contains_key("etag"));
    let body = error_body(response).await;
    assert_eq!(body.code, "CallbackFailed", "{}", body.xml);
    assert_eq!(body.message, message, "{}", body.xml);
    assert_eq!(
        emulator.object_keys("photos").await,
        ["kept.txt"],
        "the object is kept"
    );
}

#[tokio::test]
async fn non_json_response_fails_callback() {
    let emulator = TestEmulator::start().await;
    let receiver = CallbackReceiver::start(Reply::Text("OK")).await;

    assert_callback_fails(
        &emulator,
        &receiver.url,
        "Response body is not valid json format.",
    )
    .await;
}

#[tokio::test]
async fn error_status_fails_callback() {
    let emulator = TestEmulator::start().await;
    let receiver = CallbackReceiver::start(Reply::Status(500, r#"{"error":"boom"}"#)).await;

    assert_callback_fails(&emulator, &receiver.url, "Error status : 500.").await;
}

#[tokio::test]
async fn other_2xx_status_fails_callback() {
    let emulator = TestEmulator::start().await;
    let receiver = CallbackReceiver::start(Reply::Status(201, r#"{"a":1}"#)).await;

    assert_callback_fails(&emulator, &receiver.url, "Error status : 201.").await;
}

#[tokio::test]
async fn closed_port_fails_callback() {
    let emulator = TestEmulator::start().await;
    let url = closed_url().await;

    assert_callback_fails(
        &emulator,
        &url,
        "Error status : -1. OSS can not connect to your callbackUrl, please check it.",
    )
    .await;
}

#[tokio::test]
async fn response_without_content_length_fails_callback() {
    let emulator = TestEmulator::start().await;
    let receiver = CallbackReceiver::start(Reply::Chunked(r#"{"a":1}"#)).await;

    assert_callback_fails(
        &emulator,
        &receiver.url,
        "Response has no Content-Length header.",
    )
    .await;
}

#[tokio::test]
async fn slow_receiver_times_out() {
    let emulator =
        TestEmulator::start_with(|config| config.callback_timeout = Duration::from_millis(300))
            .await;
    let receiver = CallbackReceiver::start(Reply::Sleep(Duration::from_secs(2))).await;
    let param = CallbackParam::new(receiver.url.clone(), "object=${object}");
    let fields = callback_fields("slow.txt", &param, &[]);

    let started = std::time::Instant::now();
    let response = emulator.post("photos", &fields, FilePart::text("x")).await;

    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "the budget cuts the wait short"
    );
    assert_eq!(response.status(), 203);
    let body = error_body(response).await;
    assert_eq!(body.code, "CallbackFailed");
    assert!(
        body.message
            .starts_with("Error status : -1. OSS reply timeout, cost: "),
        "{}",
        body.message
    );
    assert!(
        body.message.ends_with("timeout: 300 MS."),
        "{}",
        body.message
    );
    assert_eq!(emulator.object_keys("photos").await, ["slow.txt"]);
}

#[tokio::test]
async fn later_url_is_tried_after_failure() {
    let emulator = TestEmulator::start().await;
    let closed = closed_url().await;
    let receiver = CallbackReceiver::start(Reply::Json(r#"{"second":true}"#)).await;
    let mut param = CallbackParam::new(closed.clone(), "object=${object}");
    param.urls.push(receiver.url.clone());
    let fields = callback_fields("two.txt", &param, &[]);

    let response = emulator.post("photos", &fields, FilePart::text("x")).await;

    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), r#"{"second":true}"#);
    let records: serde_json::Value = emulator
        .client
        .get(format!("{}/_emulator/callbacks", emulator.base_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let records = records["callbacks"].as_array().unwrap();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0]["url"], closed.as_str());
    assert_eq!(records[0]["outcome"], "connect_failed");
    assert_eq!(records[1]["outcome"], "ok");
    assert_eq!(records[1]["responseStatus"], 200);
    assert_eq!(records[1]["responseBody"], r#"{"second":true}"#);
    assert_eq!(records[1]["body"], "object=two.txt");
    assert!(records[1]["requestHeaders"]["authorization"].is_string());
}

#[tokio::test]
async fn callback_delay_fault_delays_callback() {
    let emulator = TestEmulator::start().await;
    emulator
        .set_faults(serde_json::json!({ "callback_delay_ms": 400 }))
        .await;
    let receiver = CallbackReceiver::start(Reply::Json("{}")).await;
    let param = CallbackParam::new(receiver.url.clone(), "object=${object}");
    let fields = callback_fields("delayed.txt", &param, &[]);

    let started = std::time::Instant::now();
    let response = emulator.post("photos", &fields, FilePart::text("x")).await;

    assert_eq!(response.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(400));
}

#[tokio::test]
async fn invalid_custom_variable_name_is_rejected() {
    let emulator = TestEmulator::start().await;
    let receiver = CallbackReceiver::start(Reply::Json("{}")).await;
    let param = CallbackParam::new(receiver.url.clone(), "v=${x:Upper}");
    let fields = callback_fields("v.txt", &param, &[("x:Upper", "1")]);

    let response = emulator.post("photos", &fields, FilePart::text("x")).await;

    assert_eq!(response.status(), 400);
    assert_eq!(error_body(response).await.code, "InvalidArgument");
    assert!(receiver.requests().is_empty());
    assert!(emulator.object_keys("photos").await.is_empty());
}
