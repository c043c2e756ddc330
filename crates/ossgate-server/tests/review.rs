//! Regression tests for flaws a security review found in callback handling
//! and shutdown.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use axum::Router;
use chrono::Utc;
use common::*;
use ossgate_server::ticket::{Ticket, TicketKey, TicketScope};
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

/// Posts a callback signed with the test key, like `signed_callback`, plus an
/// `x-oss-request-id` header.
async fn signed_callback_with_request_id(app: &TestApp, body: &str, request_id: &str) -> Answer {
    let target = "/api/oss/callback";
    let request = Request::post(target)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("authorization", sign(target, body))
        .header("x-oss-pub-key-url", b64(TEST_KEY_URL))
        .header("x-oss-request-id", request_id)
        .body(Body::from(body.to_owned()))
        .unwrap();
    app.send(request).await
}

/// Reads the OSS request id recorded for alice's upload `id`.
async fn recorded_request_id(app: &TestApp, id: &Value) -> Option<String> {
    let upload = app
        .state
        .db()
        .get("alice", id.as_i64().unwrap())
        .await
        .unwrap()
        .expect("the upload is recorded for alice");
    upload.oss_request_id
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

#[tokio::test]
async fn reupload_under_directory_token_is_recorded() {
    let app = app(sources()).await;

    // The official plupload client keeps one `/api/policy` answer and posts
    // `key = dir + "${filename}"`, so a second upload reuses token and key.
    let policy = app.get("/api/policy", Some(ALICE_TOKEN)).await.json();
    let callback = policy["callback"].as_str().unwrap();
    let object = format!("{}notes.txt", policy["dir"].as_str().unwrap());
    let mut first = stored(&object, 11, "text/plain");
    first.req_id = "5C00000000000000000000000001".to_owned();
    let mut second = stored(&object, 19, "text/plain");
    second.req_id = "5C00000000000000000000000002".to_owned();

    let first_answer = app
        .signed_callback("/api/oss/callback", &render(callback, &first))
        .await;
    assert_eq!(first_answer.status, StatusCode::OK);
    let second_answer = app
        .signed_callback("/api/oss/callback", &render(callback, &second))
        .await;
    assert_eq!(
        second_answer.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&second_answer.body)
    );
    let (first_reply, second_reply) = (first_answer.json(), second_answer.json());
    assert_ne!(first_reply["id"], second_reply["id"]);
    assert_eq!(second_reply["size"], 19);

    // Both uploads are listed, the newest first.
    let list = app.get("/api/uploads", Some(ALICE_TOKEN)).await.json();
    let uploads = list["uploads"].as_array().unwrap();
    assert_eq!(uploads.len(), 2);
    assert_eq!(uploads[0]["id"], second_reply["id"]);
    assert_eq!(uploads[0]["size"], 19);
    assert_eq!(uploads[1]["id"], first_reply["id"]);
    assert_eq!(uploads[1]["size"], 11);

    // A replay of the second callback still adds no row.
    let replay = app
        .signed_callback("/api/oss/callback", &render(callback, &second))
        .await;
    assert_eq!(replay.status, StatusCode::OK);
    assert_eq!(replay.json()["id"], second_reply["id"]);
    let list = app.get("/api/uploads", Some(ALICE_TOKEN)).await.json();
    assert_eq!(list["uploads"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn callback_without_request_id_is_rejected() {
    let app = app(sources()).await;
    let token = token_for(&app, ALICE_TOKEN, "filename=cat.png").await;
    let body = callback_body(&token, token["key"].as_str().unwrap(), 68, "");
    assert!(body.contains("&reqId=&"), "{body}");
    let answer = app.signed_callback("/api/oss/callback", &body).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.code(), "MalformedCallbackBody");
    let message = answer.json()["message"].as_str().unwrap().to_owned();
    assert!(message.contains("reqId"), "{message}");
}

#[tokio::test]
async fn callback_without_request_id_field_is_rejected() {
    let app = app(sources()).await;
    let token = token_for(&app, ALICE_TOKEN, "filename=cat.png").await;
    let rendered = callback_body(&token, token["key"].as_str().unwrap(), 68, "");
    let body = rendered.replace("&reqId=&", "&");
    assert!(!body.contains("reqId"), "{body}");
    let answer = app.signed_callback("/api/oss/callback", &body).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.code(), "MalformedCallbackBody");
    let message = answer.json()["message"].as_str().unwrap().to_owned();
    assert!(message.contains("reqId"), "{message}");
}

#[tokio::test]
async fn request_id_header_replaces_empty_body_field() {
    let app = app(sources()).await;
    let token = token_for(&app, ALICE_TOKEN, "filename=cat.png").await;
    let body = callback_body(&token, token["key"].as_str().unwrap(), 68, "");
    assert!(body.contains("&reqId=&"), "{body}");
    let header_id = "5C0000000000000000000000EADE";

    let answer = signed_callback_with_request_id(&app, &body, header_id).await;
    assert_eq!(
        answer.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let id = answer.json()["id"].clone();
    assert_eq!(
        recorded_request_id(&app, &id).await.as_deref(),
        Some(header_id)
    );

    // The header now identifies the upload, so a replay adds no row.
    let replay = signed_callback_with_request_id(&app, &body, header_id).await;
    assert_eq!(replay.status, StatusCode::OK);
    assert_eq!(replay.json()["id"], id);
    let list = app.get("/api/uploads", Some(ALICE_TOKEN)).await.json();
    assert_eq!(list["uploads"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn invalid_request_id_header_is_rejected() {
    let app = app(sources()).await;
    let token = token_for(&app, ALICE_TOKEN, "filename=cat.png").await;
    let body = callback_body(&token, token["key"].as_str().unwrap(), 68, "");
    let too_long = "A".repeat(129);
    for header_id in ["", "5C00 0000", too_long.as_str()] {
        let answer = signed_callback_with_request_id(&app, &body, header_id).await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "header {header_id:?}"
        );
        assert_eq!(
            answer.code(),
            "MalformedCallbackBody",
            "header {header_id:?}"
        );
    }
    let list = app.get("/api/uploads", Some(ALICE_TOKEN)).await.json();
    assert_eq!(list["uploads"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn body_request_id_wins_over_header() {
    let app = app(sources()).await;
    let token = token_for(&app, ALICE_TOKEN, "filename=cat.png").await;
    let body_id = "5C000000000000000000000B0DE1";
    let body = callback_body(&token, token["key"].as_str().unwrap(), 68, body_id);

    let answer = signed_callback_with_request_id(&app, &body, "5C0000000000000000000000EADE").await;
    assert_eq!(
        answer.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let id = answer.json()["id"].clone();
    assert_eq!(
        recorded_request_id(&app, &id).await.as_deref(),
        Some(body_id)
    );
}

/// A 127.0.0.1 server that serves the test public key at `/keys/key.pem` and
/// counts the requests it receives. It stops when dropped.
struct CountingKeyServer {
    base: String,
    requests: Arc<AtomicUsize>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn counting_key_server() -> CountingKeyServer {
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&requests);
    let pem = public_key_pem();
    let router = Router::new().fallback(get(move || {
        counter.fetch_add(1, Ordering::SeqCst);
        let pem = pem.clone();
        async move { pem }
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });
    CountingKeyServer {
        base,
        requests,
        _stop: stop,
    }
}

#[tokio::test]
async fn forged_ticket_triggers_no_key_fetch() {
    let key_server = counting_key_server().await;
    let mut sources = sources();
    sources.set(
        "callback.trusted_key_url_prefixes",
        vec![format!("{}/keys/", key_server.base)],
    );
    let app = app(sources).await;
    let key_url = b64(&format!("{}/keys/key.pem", key_server.base));
    let token = token_for(&app, ALICE_TOKEN, "filename=cat.png").await;
    let object = token["key"].as_str().unwrap();

    // A ticket sealed under a guessed secret, in a correctly signed body.
    let forged_ticket = TicketKey::new(b"a-guess-at-the-server-secret-000000").seal(&Ticket {
        user: "alice".into(),
        scope: TicketScope::Dir("uploads/".into()),
        expires: Utc::now().timestamp() + 60,
        token_id: "forged".into(),
        filename: None,
    });
    let genuine = callback_body(&token, object, 68, "5C00000000000000000000000F0F");
    let (head, _) = genuine.rsplit_once("&ticket=").unwrap();
    let forged = format!("{head}&ticket={forged_ticket}");
    let answer = app
        .callback(
            "/api/oss/callback",
            &forged,
            Some(&sign("/api/oss/callback", &forged)),
            Some(&key_url),
        )
        .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(answer.code(), "InvalidTicket");
    assert_eq!(key_server.requests.load(Ordering::SeqCst), 0);

    // An anonymous POST with no ticket at all.
    let answer = app
        .callback(
            "/api/oss/callback",
            "bucket=x",
            Some(&b64("not a signature")),
            Some(&key_url),
        )
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.code(), "MalformedCallbackBody");
    assert_eq!(key_server.requests.load(Ordering::SeqCst), 0);

    // The genuine callback does fetch the key, so the counter works.
    let answer = app
        .callback(
            "/api/oss/callback",
            &genuine,
            Some(&sign("/api/oss/callback", &genuine)),
            Some(&key_url),
        )
        .await;
    assert_eq!(
        answer.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    assert_eq!(key_server.requests.load(Ordering::SeqCst), 1);
}
