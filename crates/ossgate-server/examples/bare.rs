//! The ceiling for `bench/load.sh`: a bare hyper server that responds to every
//! request with the same 600-byte JSON body, with no routing, middleware,
//! signing or logging. The app server's throughput is compared against it in
//! the same run on the same machine.
//!
//! Usage: `cargo run --release -p ossgate-server --example bare [ADDR]`
//! (default `127.0.0.1:0`). Prints `listening on http://<addr>` once ready.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

/// Size of the response body, in bytes: about the size of an upload token.
const BODY_SIZE: usize = 600;

/// Builds a JSON object padded to exactly [`BODY_SIZE`] bytes.
fn body() -> Bytes {
    let head = r#"{"Status":"OK","padding":""#;
    let tail = r#""}"#;
    let padding = "x".repeat(BODY_SIZE - head.len() - tail.len());
    Bytes::from(format!("{head}{padding}{tail}"))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let address: SocketAddr = std::env::args()
        .nth(1)
        .map(|text| text.parse().expect("ADDR is IP:PORT, e.g. 127.0.0.1:0"))
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
    let listener = tokio::net::TcpListener::bind(address).await?;
    println!("listening on http://{}", listener.local_addr()?);

    let body = body();
    assert_eq!(body.len(), BODY_SIZE);
    loop {
        let (stream, _) = listener.accept().await?;
        let body = body.clone();
        tokio::spawn(async move {
            let service = service_fn(move |_request: Request<hyper::body::Incoming>| {
                let body = body.clone();
                async move {
                    let response = Response::builder()
                        .header("content-type", "application/json")
                        .body(Full::new(body))
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
