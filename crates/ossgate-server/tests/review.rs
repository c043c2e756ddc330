//! Regression tests for flaws a security review found in callback handling
//! and shutdown.

mod common;

use axum::http::StatusCode;
use common::*;
use serde_json::Value;

/// Requests an upload token as the user holding `bearer`.
async fn token_for(app: &TestApp, bearer: &str, query: &str) -> Value {
    let answer = app
        .get(&format!("/api/upload-token?{query}"), Some(bearer))
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    answer.json()
}

/// Renders the callback OSS would send for `object` stored under `token`,
/// with the given OSS request id.
fn callback_body(token: &Value, object: &str, size: u64, request_id: &str) -> String {
    let mut context = stored(object, size, "image/png");
    context.req_id = request_id.to_owned();
    render(token["fields"]["callback"].as_str().unwrap(), &context)
}

#[tokio::test]
async fn replay_with_another_users_request_id_is_rejected() {
    let app = app(sources()).await;

    // Bob uploads a private file.
    let bob_token = token_for(&app, BOB_TOKEN, "filename=secret.png").await;
    let bob_key = bob_token["key"].as_str().unwrap();
    let bob_body = callback_body(&bob_token, bob_key, 68, "5C0000000000000000000000B0B");
    let bob_answer = app.signed_callback("/api/oss/callback", &bob_body).await;
    assert_eq!(bob_answer.status, StatusCode::OK);

    // A signed callback with alice's ticket and object but bob's request id.
    let alice_token = token_for(&app, ALICE_TOKEN, "filename=cat.png").await;
    let alice_key = alice_token["key"].as_str().unwrap();
    let forged = callback_body(&alice_token, alice_key, 68, "5C0000000000000000000000B0B");
    let answer = app.signed_callback("/api/oss/callback", &forged).await;
    assert_eq!(
        answer.status,
        StatusCode::FORBIDDEN,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    assert_eq!(answer.code(), "ReplayMismatch");
    let text = String::from_utf8_lossy(&answer.body);
    assert!(!text.contains(bob_key), "{text}");

    // Nothing was recorded for alice, and the rejection is counted.
    let list = app.get("/api/uploads", Some(ALICE_TOKEN)).await.json();
    assert_eq!(list["uploads"].as_array().unwrap().len(), 0);
    let metrics = String::from_utf8(app.get("/metrics", None).await.body).unwrap();
    assert!(
        metrics
            .contains("ossgate_callbacks_total{outcome=\"rejected\",reason=\"replay_mismatch\"} 1"),
        "{metrics}"
    );
}
