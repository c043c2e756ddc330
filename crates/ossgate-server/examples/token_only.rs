//! The token work alone, for `bench/load.sh`: a bare hyper server like
//! `bare.rs` that responds to every request with a newly issued upload token
//! for `photo.png` (120,000 bytes, `image/png`), with no routing,
//! middleware, authentication or logging. Between the ceiling and the full app server,
//! it shows how much of the gap the token itself costs.
//!
//! The settings mirror `ossgate dev`'s: V4, server-chosen keys, no
//! content-type list, the user `dev`. Nothing is sent to OSS.
//!
//! Usage: `cargo run --release -p ossgate-server --example token_only [ADDR]`
//! (default `127.0.0.1:0`). Prints `listening on http://<addr>` once ready.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use ossgate_server::config::{ConfigSources, Mode, ServerConfig};
use ossgate_server::token::{TokenIssuer, TokenRequest};

/// The allocator of the `ossgate` binary, so that allocation costs the same.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Builds an issuer with settings like `ossgate dev`'s.
fn issuer() -> TokenIssuer {
    let env = [
        ("OSSGATE_BUCKET", "ossgate-dev"),
        ("OSSGATE_REGION", "cn-hangzhou"),
        (
            "OSSGATE_CALLBACK_URL",
            "http://127.0.0.1:8080/api/oss/callback",
        ),
        (
            "OSSGATE_TICKET_SECRET",
            "bench-ticket-secret-0123456789abcdef",
        ),
        ("OSSGATE_AUTH_MODE", "none"),
        ("OSS_ACCESS_KEY_ID", "LTAI5tBenchKeyId"),
        ("OSS_ACCESS_KEY_SECRET", "bench-access-key-secret"),
    ];
    let sources = ConfigSources {
        env: env
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect(),
        ..ConfigSources::default()
    };
    let config = ServerConfig::load(&sources, Mode::Serve).expect("the bench settings are valid");
    TokenIssuer::new(&config)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let address: SocketAddr = std::env::args()
        .nth(1)
        .map(|text| text.parse().expect("ADDR is IP:PORT, e.g. 127.0.0.1:0"))
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
    let issuer = Arc::new(issuer());
    let listener = tokio::net::TcpListener::bind(address).await?;
    println!("listening on http://{}", listener.local_addr()?);

    loop {
        let (stream, _) = listener.accept().await?;
        let issuer = Arc::clone(&issuer);
        tokio::spawn(async move {
            let service = service_fn(move |_request: Request<hyper::body::Incoming>| {
                let issuer = Arc::clone(&issuer);
                async move {
                    let request = TokenRequest {
                        filename: Some("photo.png".to_owned()),
                        size: Some(120_000),
                        content_type: Some("image/png".to_owned()),
                    };
                    let token = issuer
                        .issue("dev", &request, chrono::Utc::now())
                        .expect("the declared file is within the limits");
                    let response = Response::builder()
                        .header("content-type", "application/json")
                        .header("cache-control", "no-store")
                        .body(Full::new(Bytes::from(token.to_json())))
                        .expect("static headers are valid");
                    Ok::<_, Infallible>(response)
                }
            });
            // A client that goes away mid-request is not an error worth reporting here.
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
