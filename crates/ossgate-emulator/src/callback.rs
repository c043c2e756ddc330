//! Upload callbacks: the request the emulator sends after storing an object,
//! and how it judges the response.
//!
//! For each URL of `callbackUrl`, in order, the emulator renders the body,
//! signs `url_decode(path) [+ "?" + query] + "\n" + body` with its RSA key
//! (via the protocol crate) and POSTs it with the headers OSS sends. The first
//! URL whose answer passes OSS's rules wins: status 200, a `Content-Length`,
//! a body of at most 3 MB that parses as JSON, all within the time budget.
//! Every attempt is recorded for the test hooks.

use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::{Bytes, BytesMut};
use md5::{Digest as _, Md5};
use ossgate_protocol::callback::{render_body, CallbackParam, ImageInfo, RenderContext};
use ossgate_protocol::verify;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use crate::hooks::CallbackRecord;
use crate::AppState;

/// The largest callback response OSS relays: 3 MB.
pub const MAX_RESPONSE_BYTES: usize = 3 * 1024 * 1024;

/// The result of a callback, as sent back to the uploader.
#[derive(Debug)]
pub(crate) enum CallbackOutcome {
    /// A URL whose response passed the rules: its body, relayed verbatim.
    Succeeded { body: Bytes },
    /// Every URL failed: the message of the last failure, for `CallbackFailed`.
    Failed { message: String },
}

/// The cause of one failed attempt. The message goes into `CallbackFailed`.
#[derive(Debug)]
struct AttemptFailure {
    outcome: &'static str,
    message: String,
    status: Option<u16>,
    body: Option<String>,
}

impl AttemptFailure {
    fn new(outcome: &'static str, message: String) -> Self {
        Self {
            outcome,
            message,
            status: None,
            body: None,
        }
    }
}

/// Maps an image type to the name OSS gives it in `${imageInfo.format}`;
/// `None` for types OSS does not treat as images.
fn oss_image_format(image_type: imagesize::ImageType) -> Option<&'static str> {
    use imagesize::ImageType;
    match image_type {
        ImageType::Jpeg => Some("jpg"),
        ImageType::Png => Some("png"),
        ImageType::Gif => Some("gif"),
        ImageType::Bmp => Some("bmp"),
        ImageType::Webp => Some("webp"),
        ImageType::Tiff => Some("tiff"),
        ImageType::Heif(imagesize::Compression::Av1) => Some("avif"),
        ImageType::Heif(_) => Some("heic"),
        _ => None,
    }
}

/// Reads the image format and size from the start of a file; `None` for
/// anything that is not a complete image header of a type OSS supports.
pub(crate) fn image_info(header: &[u8]) -> Option<ImageInfo> {
    let format = oss_image_format(imagesize::image_type(header).ok()?)?;
    let size = imagesize::blob_size(header).ok()?;
    Some(ImageInfo {
        width: size.width as u64,
        height: size.height as u64,
        format: format.to_owned(),
    })
}

/// Returns the request target of a URL as it goes on the request line: the
/// path and, when present, `?` and the query.
fn request_target(url: &reqwest::Url) -> String {
    match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    }
}

/// Returns the `Host` header for a URL when `callbackHost` is not given.
fn default_host(url: &reqwest::Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

/// Sends the callback to each URL in turn until one succeeds.
pub(crate) async fn run(
    state: &AppState,
    param: &CallbackParam,
    context: &RenderContext,
) -> CallbackOutcome {
    let body = render_body(&param.body, param.effective_body_type(), context);
    let mut last_message = String::from(
        "Error status : -1. OSS can not connect to your callbackUrl, please check it.",
    );

    for url in &param.urls {
        let delay = state.inner.recorder.faults().callback_delay_ms;
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }

        let started = Instant::now();
        let (headers, result) = attempt(state, param, url, &body, context).await;
        let duration_ms = started.elapsed().as_millis() as u64;

        let record = |outcome: &'static str,
                      message: Option<String>,
                      status: Option<u16>,
                      response_body: Option<String>| CallbackRecord {
            request_id: context.req_id.clone(),
            url: url.clone(),
            request_headers: headers
                .iter()
                .map(|(name, value)| {
                    (
                        name.as_str().to_owned(),
                        serde_json::Value::String(value.to_str().unwrap_or_default().to_owned()),
                    )
                })
                .collect(),
            body: body.clone(),
            response_status: status,
            response_body,
            duration_ms,
            outcome,
            message,
            time: state.inner.recorder.now(),
        };

        match result {
            Ok(response_body) => {
                state.inner.recorder.record_callback(record(
                    "ok",
                    None,
                    Some(200),
                    Some(String::from_utf8_lossy(&response_body).into_owned()),
                ));
                tracing::info!(request_id = %context.req_id, %url, duration_ms, "callback succeeded");
                return CallbackOutcome::Succeeded {
                    body: response_body,
                };
            }
            Err(failure) => {
                tracing::warn!(
                    request_id = %context.req_id,
                    %url,
                    duration_ms,
                    outcome = failure.outcome,
                    message = %failure.message,
                    "callback failed"
                );
                state.inner.recorder.record_callback(record(
                    failure.outcome,
                    Some(failure.message.clone()),
                    failure.status,
                    failure.body,
                ));
                last_message = failure.message;
            }
        }
    }
    CallbackOutcome::Failed {
        message: last_message,
    }
}

/// Builds the headers for one URL and sends the request within the budget.
/// Returns the headers sent (for the record) and the response body or the failure.
async fn attempt(
    state: &AppState,
    param: &CallbackParam,
    url_text: &str,
    body: &str,
    context: &RenderContext,
) -> (HeaderMap, Result<Bytes, AttemptFailure>) {
    let budget = state.inner.config.callback_timeout;
    let connect_failure = || {
        AttemptFailure::new(
            "connect_failed",
            "Error status : -1. OSS can not connect to your callbackUrl, please check it."
                .to_owned(),
        )
    };

    let Ok(url) = reqwest::Url::parse(url_text) else {
        return (HeaderMap::new(), Err(connect_failure()));
    };
    let target = request_target(&url);
    let authorization =
        match verify::sign(&target, body.as_bytes(), &state.inner.callback_key.private) {
            Ok(signature) => signature,
            Err(error) => {
                return (
                    HeaderMap::new(),
                    Err(AttemptFailure::new(
                        "connect_failed",
                        format!("Error status : -1. The callback could not be signed: {error}."),
                    )),
                )
            }
        };

    let host = param.host.clone().unwrap_or_else(|| default_host(&url));
    let content_md5 =
        base64::engine::general_purpose::STANDARD.encode(Md5::digest(body.as_bytes()));
    let date = httpdate::fmt_http_date(state.inner.recorder.now().into());
    let mut headers = HeaderMap::new();
    let pairs: [(&str, &str); 12] = [
        ("host", &host),
        ("content-type", param.effective_body_type().as_str()),
        ("content-md5", &content_md5),
        ("date", &date),
        ("user-agent", "aliyun-oss-callback"),
        ("authorization", &authorization),
        ("x-oss-pub-key-url", &state.key_url_header),
        ("x-oss-request-id", &context.req_id),
        ("x-oss-bucket", &context.bucket),
        ("x-oss-signature-version", "1.0"),
        ("x-oss-tag", "CALLBACK"),
        ("connection", "close"),
    ];
    for (name, value) in pairs {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }

    let started = Instant::now();
    let exchange = async {
        let response = state
            .inner
            .http
            .post(url.clone())
            .headers(headers.clone())
            .body(body.to_owned())
            .send()
            .await
            .map_err(|_| connect_failure())?;
        read_response(response).await
    };
    let result = match tokio::time::timeout(budget, exchange).await {
        Ok(result) => result,
        Err(_) => Err(AttemptFailure::new(
            "timeout",
            format!(
                "Error status : -1. OSS reply timeout, cost: {} MS, timeout: {} MS.",
                started.elapsed().as_millis(),
                budget.as_millis()
            ),
        )),
    };
    (headers, result)
}

/// Applies OSS's rules to a callback response and reads its body.
async fn read_response(mut response: reqwest::Response) -> Result<Bytes, AttemptFailure> {
    let status = response.status().as_u16();
    let declared_length = response
        .headers()
        .get(reqwest::header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());

    // Read at most 3 MB and one byte, enough to tell an oversized body.
    let mut body = BytesMut::new();
    while let Some(chunk) = response.chunk().await.map_err(|error| {
        AttemptFailure::new(
            "connect_failed",
            format!("Error status : -1. The callback response could not be read: {error}."),
        )
    })? {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_RESPONSE_BYTES {
            break;
        }
    }
    let body = body.freeze();
    let failure = |outcome, message: String| AttemptFailure {
        outcome,
        message,
        status: Some(status),
        body: Some(String::from_utf8_lossy(&body).into_owned()),
    };

    if status != 200 {
        return Err(failure("bad_status", format!("Error status : {status}.")));
    }
    if declared_length.is_none() {
        return Err(failure(
            "no_content_length",
            "Response has no Content-Length header.".to_owned(),
        ));
    }
    if body.len() > MAX_RESPONSE_BYTES || declared_length > Some(MAX_RESPONSE_BYTES as u64) {
        return Err(failure(
            "too_large",
            "Response body is larger than 3 MB.".to_owned(),
        ));
    }
    if serde_json::from_slice::<serde::de::IgnoredAny>(&body).is_err() {
        return Err(failure(
            "not_json",
            "Response body is not valid json format.".to_owned(),
        ));
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_header_gives_image_info() {
        // A PNG signature and IHDR chunk for a 3x2 image.
        let mut png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR".to_vec();
        png.extend_from_slice(&3u32.to_be_bytes());
        png.extend_from_slice(&2u32.to_be_bytes());
        png.extend_from_slice(&[8, 6, 0, 0, 0]);
        let info = image_info(&png).unwrap();
        assert_eq!(info.width, 3);
        assert_eq!(info.height, 2);
        assert_eq!(info.format, "png");
    }

    #[test]
    fn text_is_not_an_image() {
        assert!(image_info(b"hello world, not an image").is_none());
    }

    #[test]
    fn request_target_keeps_the_raw_query() {
        let url = reqwest::Url::parse("http://127.0.0.1:8080/api/oss%20cb?id=1&x=a%2Fb").unwrap();
        assert_eq!(request_target(&url), "/api/oss%20cb?id=1&x=a%2Fb");
        assert_eq!(default_host(&url), "127.0.0.1:8080");
        let bare = reqwest::Url::parse("http://example.com").unwrap();
        assert_eq!(request_target(&bare), "/");
        assert_eq!(default_host(&bare), "example.com");
    }
}
