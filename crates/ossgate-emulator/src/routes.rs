//! Bucket addressing, dispatch to the operations, and the headers every
//! response carries.
//!
//! A request names its bucket either in the `Host` header (`<bucket>.<host>`,
//! virtual-hosted) or in the first path segment (`/<bucket>/<key>`,
//! path-style). The host form wins when its first label is a configured
//! bucket and the host is not an IP address. Every response gets
//! `x-oss-request-id`, `Server: AliyunOSS` and `Date`; responses to bucket
//! requests get CORS headers when a rule matches.

use std::net::SocketAddr;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Utc};

use crate::config::BucketConfig;
use crate::error::OssError;
use crate::{cors, hooks, objects, post_object, AppState};

/// The request facts a handler needs besides the body.
#[derive(Clone, Debug)]
pub(crate) struct RequestContext {
    /// 24 uppercase hex digits, like OSS's request ids.
    pub request_id: String,
    /// The host the client addressed, for `HostId` in error bodies.
    pub host_id: String,
    pub bucket: BucketConfig,
    /// The decoded object key; `None` for requests to the bucket itself.
    pub key: Option<String>,
    /// The bucket's URL as the client addressed it, with no trailing slash:
    /// `http://<bucket>.<host>` or `http://<host>/<bucket>`.
    pub bucket_url: String,
    pub client_ip: String,
    /// The emulator's clock, with the clock-offset fault applied.
    pub now: DateTime<Utc>,
}

pub(crate) fn router(state: AppState) -> Router {
    let mut router = Router::new().route("/callback_pub_key_v1.pem", get(public_key));
    if state.inner.config.test_hooks {
        router = router.nest("/_emulator", hooks::routes());
    }
    router.fallback(dispatch).with_state(state)
}

/// Serves the public half of the callback signing key.
async fn public_key(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/x-pem-file")],
        state.inner.callback_key.public_pem.clone(),
    )
        .into_response()
}

/// Returns a new request id: 24 uppercase hex digits.
pub(crate) fn new_request_id() -> String {
    let id = uuid::Uuid::new_v4()
        .simple()
        .to_string()
        .to_ascii_uppercase();
    id[..24].to_owned()
}

/// The target of a request: a bucket name (maybe unknown) and an encoded key.
struct Target<'a> {
    bucket: Option<String>,
    raw_key: &'a str,
    virtual_hosted: bool,
}

/// Splits host and path into bucket and raw (still percent-encoded) key.
fn resolve_target<'a>(state: &AppState, host: &str, path: &'a str) -> Target<'a> {
    let hostname = host_without_port(host);
    let is_ip = hostname.parse::<std::net::IpAddr>().is_ok()
        || hostname
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok();
    if !is_ip {
        if let Some((label, rest)) = hostname.split_once('.') {
            if !rest.is_empty() && state.inner.config.bucket(label).is_some() {
                return Target {
                    bucket: Some(label.to_owned()),
                    raw_key: path.strip_prefix('/').unwrap_or(path),
                    virtual_hosted: true,
                };
            }
        }
    }

    let path = path.strip_prefix('/').unwrap_or(path);
    match path.split_once('/') {
        Some((bucket, key)) => Target {
            bucket: Some(bucket.to_owned()),
            raw_key: key,
            virtual_hosted: false,
        },
        None if path.is_empty() => Target {
            bucket: None,
            raw_key: "",
            virtual_hosted: false,
        },
        None => Target {
            bucket: Some(path.to_owned()),
            raw_key: "",
            virtual_hosted: false,
        },
    }
}

fn host_without_port(host: &str) -> &str {
    if host.starts_with('[') {
        // An IPv6 literal: `[::1]:9000`.
        return host
            .split_once(']')
            .map_or(host, |(h, _)| &host[..h.len() + 1]);
    }
    host.rsplit_once(':').map_or(host, |(h, _)| h)
}

/// Handles every request that is not a reserved route.
async fn dispatch(State(state): State<AppState>, request: Request) -> Response {
    let started = Instant::now();
    let request_id = new_request_id();
    let method = request.method().clone();
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| request.uri().authority().map(|a| a.to_string()))
        .unwrap_or_default();
    let client_ip = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip().to_string())
        .unwrap_or_default();
    let path = request.uri().path().to_owned();
    let target = resolve_target(&state, &host, &path);

    let mut cors_headers = None;
    let result = match &target.bucket {
        None => Err(match method {
            Method::GET => OssError::not_implemented("ListBuckets"),
            _ => OssError::method_not_allowed(),
        }),
        Some(name) => match state.inner.config.bucket(name) {
            None => Err(OssError::no_such_bucket(name)),
            Some(bucket) => match decode_key(target.raw_key) {
                Err(error) => Err(error),
                Ok(key) => {
                    let context = RequestContext {
                        request_id: request_id.clone(),
                        host_id: host.clone(),
                        bucket: bucket.clone(),
                        key,
                        bucket_url: if target.virtual_hosted {
                            format!("http://{host}")
                        } else {
                            format!("http://{host}/{name}")
                        },
                        client_ip,
                        now: state.inner.recorder.now(),
                    };
                    if method != Method::OPTIONS {
                        cors_headers =
                            cors::actual_request(&bucket.cors, method.as_str(), request.headers());
                    }
                    run_operation(&state, &context, request).await
                }
            },
        },
    };

    let mut response = match result {
        Ok(response) => response,
        Err(error) => {
            let status = error.status;
            if status.is_server_error() {
                tracing::warn!(%request_id, %method, %path, code = error.code, "request failed");
            } else {
                tracing::debug!(%request_id, %method, %path, code = error.code, message = %error.message, "request rejected");
            }
            error.into_response(&request_id, &host, method == Method::HEAD)
        }
    };

    let headers = response.headers_mut();
    if let Some(cors_headers) = cors_headers {
        headers.extend(cors_headers);
    }
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        headers.insert("x-oss-request-id", value);
    }
    headers.insert(header::SERVER, HeaderValue::from_static("AliyunOSS"));
    let date = httpdate::fmt_http_date(state.inner.recorder.now().into());
    if let Ok(value) = HeaderValue::from_str(&date) {
        headers.insert(header::DATE, value);
    }
    tracing::debug!(
        %request_id,
        %method,
        %path,
        status = response.status().as_u16(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "request finished"
    );
    response
}

/// Percent-decodes the key part of the path; an empty key means the bucket itself.
fn decode_key(raw_key: &str) -> Result<Option<String>, OssError> {
    if raw_key.is_empty() {
        return Ok(None);
    }
    percent_encoding::percent_decode_str(raw_key)
        .decode_utf8()
        .map(|key| Some(key.into_owned()))
        .map_err(|_| OssError::invalid_object_name("the object name is not valid UTF-8"))
}

async fn run_operation(
    state: &AppState,
    context: &RequestContext,
    request: Request,
) -> Result<Response, OssError> {
    let method = request.method().clone();
    match (method, context.key.is_some()) {
        (Method::OPTIONS, _) => {
            let headers = cors::preflight(&context.bucket.cors, request.headers())?;
            let mut response = Response::new(Body::empty());
            *response.status_mut() = StatusCode::OK;
            response.headers_mut().extend(headers);
            Ok(response)
        }
        (Method::POST, false) => post_object::handle(state, context, request).await,
        (Method::GET, false) => objects::list(state, context, request).await,
        (Method::GET, true) | (Method::HEAD, true) => objects::get(state, context, request).await,
        (Method::DELETE, true) => objects::delete(state, context, request).await,
        (Method::PUT, true) => Err(OssError::not_implemented("PutObject")),
        (Method::PUT, false) => Err(OssError::not_implemented("PutBucket")),
        (Method::DELETE, false) => Err(OssError::not_implemented("DeleteBucket")),
        (Method::HEAD, false) => Err(OssError::not_implemented("GetBucketInfo")),
        _ => Err(OssError::method_not_allowed()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_have_24_uppercase_hex_digits() {
        let id = new_request_id();
        assert_eq!(id.len(), 24);
        assert!(id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b)));
    }

    #[test]
    fn host_port_is_stripped() {
        assert_eq!(
            host_without_port("bucket.localhost:9000"),
            "bucket.localhost"
        );
        assert_eq!(host_without_port("127.0.0.1"), "127.0.0.1");
        assert_eq!(host_without_port("[::1]:9000"), "[::1]");
    }

    #[test]
    fn keys_are_percent_decoded() {
        assert_eq!(decode_key("a%20b/c%2B").unwrap().as_deref(), Some("a b/c+"));
        assert_eq!(decode_key("").unwrap(), None);
        assert!(decode_key("%FF").is_err());
    }
}
