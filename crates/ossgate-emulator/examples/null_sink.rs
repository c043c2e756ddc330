//! A null sink for the PostObject benchmark: an HTTP server on 127.0.0.1 that
//! reads each request body to the end, discards it and returns 204. It prints
//! `Null sink listening on http://127.0.0.1:<port>` once bound.
//!
//! Run: `cargo run --release -p ossgate-emulator --example null_sink`.

use std::io::Write as _;

use axum::body::Body;
use axum::extract::Request;
use axum::http::StatusCode;
use futures_util::StreamExt as _;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let app = axum::Router::new().fallback(|request: Request| async move {
        let mut body = request.into_body().into_data_stream();
        let mut received = 0u64;
        while let Some(chunk) = body.next().await {
            match chunk {
                Ok(chunk) => received += chunk.len() as u64,
                Err(_) => return (StatusCode::BAD_REQUEST, Body::empty()),
            }
        }
        let _ = received;
        (StatusCode::NO_CONTENT, Body::empty())
    });

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("Null sink listening on http://{}", listener.local_addr()?);
    std::io::stdout().flush()?;
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
}
