//! Public key fetches from a trusted URL, over a real 127.0.0.1 socket: one
//! fetch per URL however many callbacks arrive at once, failures not cached,
//! size cap and no redirects.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use axum::Router;
use common::*;

struct KeyServer {
    base: String,
    hits: Arc<AtomicUsize>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

/// Serves the test key at `/keys/good.pem`, a 404 at `/keys/missing.pem`, a
/// 20 KiB document at `/keys/huge.pem` and a redirect at `/keys/moved.pem`.
async fn key_server() -> KeyServer {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    let pem = public_key_pem();
    let app = Router::new()
        .route(
            "/keys/good.pem",
            get(move || {
                let counter = Arc::clone(&counter);
                let pem = pem.clone();
                async move {
                    counter.fetch_add(1, Ordering::SeqCst);
                    // Slow enough that concurrent callbacks overlap.
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                    pem
                }
            }),
        )
        .route("/keys/missing.pem", get(|| async { StatusCode::NOT_FOUND }))
        .route("/keys/huge.pem", get(|| async { "A".repeat(20 * 1024) }))
        .route(
            "/keys/moved.pem",
            get(|| async { Redirect::temporary("/keys/good.pem").into_response() }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (sender, receiver) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = receiver.await;
            })
            .await
            .unwrap();
    });
    KeyServer {
        base,
        hits,
        _shutdown: sender,
    }
}

async fn app_trusting(server: &KeyServer) -> TestApp {
    let mut sources = sources();
    sources.set(
        "callback.trusted_key_url_prefixes",
        vec![format!("{}/keys/", server.base)],
    );
    app(sources).await
}

async fn callback_naming(app: &TestApp, key_url: &str) -> common::Answer {
    let token = token(app, "filename=a.png").await;
    let body = render(
        token["fields"]["callback"].as_str().unwrap(),
        &stored(token["key"].as_str().unwrap(), 10, "image/png"),
    );
    let authorization = sign("/api/oss/callback", &body);
    app.callback(
        "/api/oss/callback",
        &body,
        Some(&authorization),
        Some(&b64(key_url)),
    )
    .await
}

#[tokio::test]
async fn concurrent_callbacks_share_one_fetch() {
    let server = key_server().await;
    let app = Arc::new(app_trusting(&server).await);
    let url = format!("{}/keys/good.pem", server.base);

    let mut tasks = Vec::new();
    for _ in 0..5 {
        let app = Arc::clone(&app);
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            callback_naming(&app, &url).await.status
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), StatusCode::OK);
    }
    assert_eq!(server.hits.load(Ordering::SeqCst), 1);

    // Later callbacks use the cached key.
    assert_eq!(callback_naming(&app, &url).await.status, StatusCode::OK);
    assert_eq!(server.hits.load(Ordering::SeqCst), 1);
    let metrics = String::from_utf8(app.get("/metrics", None).await.body).unwrap();
    assert!(
        metrics.contains("ossgate_key_fetches_total{outcome=\"ok\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn failed_fetch_is_rejected_and_retried_later() {
    let server = key_server().await;
    let app = app_trusting(&server).await;
    let url = format!("{}/keys/missing.pem", server.base);
    for _ in 0..2 {
        let answer = callback_naming(&app, &url).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN);
        assert_eq!(answer.code(), "KeyUnavailable");
    }
    let metrics = String::from_utf8(app.get("/metrics", None).await.body).unwrap();
    assert!(
        metrics.contains("ossgate_key_fetches_total{outcome=\"error\"} 2"),
        "{metrics}"
    );
}

#[tokio::test]
async fn oversized_key_document_is_rejected() {
    let server = key_server().await;
    let app = app_trusting(&server).await;
    let answer = callback_naming(&app, &format!("{}/keys/huge.pem", server.base)).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(answer.code(), "KeyUnavailable");
}

#[tokio::test]
async fn redirect_is_not_followed() {
    let server = key_server().await;
    let app = app_trusting(&server).await;
    let answer = callback_naming(&app, &format!("{}/keys/moved.pem", server.base)).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(answer.code(), "KeyUnavailable");
    assert_eq!(server.hits.load(Ordering::SeqCst), 0);
}
