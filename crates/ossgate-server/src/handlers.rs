//! The HTTP handlers. Each pulls what it needs out of the request, calls the
//! module that does the work, and builds the JSON response.

use axum::body::Body;
use axum::extract::{OriginalUri, Path, RawQuery, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, SecondsFormat, Utc};
use ossgate_protocol::presign::{presign_get, ObjectLocation};
use serde::Serialize;
use serde_json::json;

use crate::app::AppState;
use crate::callback::{self, CallbackRequest};
use crate::config::version_name;
use crate::db::Upload;
use crate::error::{ApiError, CallbackRejection};
use crate::middleware::{RejectedMethod, RouteLabel};
use crate::token::TokenRequest;
use crate::web;

/// The default and largest page size of `GET /api/uploads`.
const DEFAULT_PAGE: u32 = 20;
const MAX_PAGE: u32 = 100;

/// `GET /api/limits`: what the page needs to know before asking for a token.
pub async fn limits(State(state): State<AppState>) -> Json<serde_json::Value> {
    let config = state.config();
    Json(json!({
        "maxSize": config.max_size,
        "contentTypes": config.content_types,
        "signatureVersion": version_name(config.signature_version),
        "tokenLifetime": config.token_lifetime.as_secs(),
        "authMode": config.auth.mode_name(),
    }))
}

/// `GET /api/upload-token?filename=&size=&contentType=`.
pub async fn upload_token(
    State(state): State<AppState>,
    request: Request,
) -> Result<Response, ApiError> {
    // The request is taken whole: the `HeaderMap` extractor would copy it.
    let method = request.method().clone();
    let user = state.auth().authenticate(request.headers())?;
    let request = parse_token_query(request.uri().query().unwrap_or(""))?;
    let token = state.issuer().issue(&user, &request, Utc::now())?;

    // A HEAD response has no body, so the client never receives the token.
    if method == Method::GET {
        state.metrics().token_issued("upload-token");
        tracing::debug!(user, token_id = token.token_id, "upload token issued");
    }
    Ok(no_store(json_text(token.to_json())))
}

/// `GET /api/policy`: the legacy token shape for the official plupload client.
pub async fn legacy_policy(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let user = state.auth().authenticate(&headers)?;
    if state.config().credentials.security_token.is_some() {
        return Err(ApiError::LegacyPolicyWithSts);
    }
    let policy = state.issuer().issue_legacy(&user, Utc::now());
    if method == Method::GET {
        state.metrics().token_issued("policy");
    }
    Ok(no_store(json_body(&policy, TOKEN_BODY_CAPACITY)?))
}

/// `POST <callback path>`: the OSS upload callback.
pub async fn callback(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    request: Request,
) -> Result<Response, ApiError> {
    let config = state.config();
    let limit = config.callback_body_limit;

    // The raw body, capped, and the raw request target with the proxy prefix.
    let (parts, body) = request.into_parts();
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(reject_oversized(&state, limit));
    }
    let body = match axum::body::to_bytes(body, limit).await {
        Ok(body) => body,
        Err(error) if is_over_limit(&error) => return Err(reject_oversized(&state, limit)),
        Err(error) => return Err(reject_unreadable(&state, &error)),
    };
    let path_and_query = uri.path_and_query().map_or("/", |target| target.as_str());
    let target = format!("{}{}", config.public_path_prefix, path_and_query);

    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|value| value.to_str().ok())
    };
    let request = CallbackRequest {
        target: &target,
        authorization: header("authorization"),
        pub_key_url: header("x-oss-pub-key-url"),
        oss_request_id: header("x-oss-request-id"),
        body: &body,
    };
    let now = Utc::now();
    let (upload, _) = callback::handle(&state, request, now).await?;

    // OSS relays this body to the browser; axum sets Content-Length for it.
    Ok(Json(json!({
        "Status": "OK",
        "id": upload.id,
        "object": upload.object,
        "filename": upload.display_filename(),
        "size": upload.size,
        "mimeType": upload.mime_type,
        "url": presigned_url(&state, &upload.object, now),
    }))
    .into_response())
}

fn reject_oversized(state: &AppState, limit: usize) -> ApiError {
    let rejection = CallbackRejection::BodyTooLarge { limit };
    state.metrics().callback("rejected", rejection.reason());
    tracing::warn!(reason = rejection.reason(), limit, "callback rejected");
    rejection.into()
}

/// Rejects a callback whose body failed to arrive for a reason other than
/// its size, such as the sender closing the connection early.
fn reject_unreadable(state: &AppState, error: &axum::Error) -> ApiError {
    let rejection = CallbackRejection::BodyReadFailed {
        detail: error.to_string(),
    };
    state.metrics().callback("rejected", rejection.reason());
    tracing::warn!(reason = rejection.reason(), %error, "callback rejected");
    rejection.into()
}

/// Checks whether `to_bytes` failed because the body passed its limit. The
/// limit error is the one `http_body_util::Limited` raises, and the body's
/// own errors come wrapped in the same chain, so the chain is searched.
fn is_over_limit(error: &axum::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = cause {
        if current.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        cause = current.source();
    }
    false
}

/// One upload as the API lists it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UploadView {
    id: i64,
    bucket: String,
    object: String,
    /// The file's original name, or the key's last segment for rows recorded
    /// without one.
    filename: String,
    size: i64,
    etag: String,
    mime_type: String,
    image_width: Option<i64>,
    image_height: Option<i64>,
    image_format: Option<String>,
    url: String,
    created_at: String,
}

fn view(state: &AppState, upload: Upload, now: DateTime<Utc>) -> UploadView {
    UploadView {
        url: presigned_url(state, &upload.object, now),
        created_at: upload.created_at.to_rfc3339_opts(SecondsFormat::Secs, true),
        filename: upload.display_filename().to_owned(),
        id: upload.id,
        bucket: upload.bucket,
        object: upload.object,
        size: upload.size,
        etag: upload.etag,
        mime_type: upload.mime_type,
        image_width: upload.image_width,
        image_height: upload.image_height,
        image_format: upload.image_format,
    }
}

/// `GET /api/uploads?limit=&before=`: the caller's uploads, newest first.
pub async fn list_uploads(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let user = state.auth().authenticate(&headers)?;
    let mut limit = DEFAULT_PAGE;
    let mut before = None;
    for (name, value) in url::form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes()) {
        match name.as_ref() {
            "limit" => {
                limit = value
                    .parse()
                    .ok()
                    .filter(|limit| (1..=MAX_PAGE).contains(limit))
                    .ok_or_else(|| ApiError::InvalidArgument {
                        name: "limit",
                        reason: format!("{value:?} is not a number from 1 to {MAX_PAGE}"),
                    })?;
            }
            "before" if !value.is_empty() => {
                before = Some(
                    value
                        .parse::<i64>()
                        .map_err(|_| ApiError::InvalidArgument {
                            name: "before",
                            reason: format!("{value:?} is not a cursor from a previous \"next\""),
                        })?,
                );
            }
            _ => {}
        }
    }

    // Fetching one extra row shows whether another page exists.
    let mut rows = state.db().list(&user, limit + 1, before).await?;
    let next = if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last().map(|upload| upload.id.to_string())
    } else {
        None
    };
    let now = Utc::now();
    let uploads: Vec<UploadView> = rows
        .into_iter()
        .map(|upload| view(&state, upload, now))
        .collect();
    Ok(no_store(Json(json!({"uploads": uploads, "next": next}))))
}

/// `GET /api/uploads/{id}`: one of the caller's uploads.
pub async fn get_upload(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let user = state.auth().authenticate(&headers)?;
    let not_found = || ApiError::NotFound(format!("upload {id:?}"));
    let number: i64 = id.parse().map_err(|_| not_found())?;
    let upload = state.db().get(&user, number).await?.ok_or_else(not_found)?;
    Ok(no_store(Json(view(&state, upload, Utc::now()))))
}

/// `GET /healthz`: the process is up.
pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// `GET /readyz`: 200 when the database responds to a query, else 503.
pub async fn readyz(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    match state.db().ping().await {
        Ok(()) => Ok(Json(json!({"status": "ready"}))),
        Err(error) => {
            tracing::warn!(%error, "readiness check failed: the database does not respond");
            Err(ApiError::Unavailable)
        }
    }
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics().render(),
    )
        .into_response()
}

/// Returns the JSON 405 for a request to a route that does not take its
/// method. axum adds the `Allow` header after this returns, and the request
/// middleware then adds the allowed methods to the message.
pub async fn method_not_allowed(method: Method, uri: axum::http::Uri) -> Response {
    let path = uri.path().to_owned();
    let mut response = ApiError::MethodNotAllowed {
        method: method.to_string(),
        path: path.clone(),
        allowed: None,
    }
    .into_response();
    response
        .extensions_mut()
        .insert(RejectedMethod { method, path });
    response
}

/// Everything else: an embedded page file for GET and HEAD, else 404.
pub async fn static_file(
    State(state): State<AppState>,
    method: Method,
    uri: axum::http::Uri,
) -> Response {
    let asset = (method == Method::GET || method == Method::HEAD)
        .then(|| web::asset(uri.path()))
        .flatten();
    match asset {
        Some(asset) => {
            let body = if method == Method::HEAD {
                Body::empty()
            } else {
                Body::from(asset.body)
            };
            let mut response = Response::new(body);
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type),
            );
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            for (name, value) in state.page_headers() {
                headers.insert(name.clone(), value.clone());
            }
            if method == Method::HEAD {
                headers.insert(header::CONTENT_LENGTH, HeaderValue::from(asset.body.len()));
            }
            response.extensions_mut().insert(RouteLabel("static"));
            response
        }
        None => ApiError::NotFound(format!("{:?}", uri.path())).into_response(),
    }
}

fn presigned_url(state: &AppState, object: &str, now: DateTime<Utc>) -> String {
    let config = state.config();
    presign_get(
        &config.credentials,
        config.signature_version,
        &config.region,
        &ObjectLocation {
            bucket_url: &config.bucket_url,
            bucket: &config.bucket,
            key: object,
        },
        now,
        config.presign_lifetime.as_secs(),
    )
}

/// The initial buffer for a token response: a V4 token is about 3 KB, and
/// growing a small buffer to that size costs several copies per request.
const TOKEN_BODY_CAPACITY: usize = 4096;

/// Serialises `value` into a JSON response, starting with `capacity` bytes.
fn json_body(value: &impl Serialize, capacity: usize) -> Result<Response, ApiError> {
    let mut body = Vec::with_capacity(capacity);
    serde_json::to_writer(&mut body, value)
        .map_err(|error| ApiError::Internal(format!("cannot serialise a response: {error}")))?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response())
}

/// Wraps JSON text in a response with its content type.
fn json_text(body: String) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

fn no_store(body: impl IntoResponse) -> Response {
    let mut response = body.into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn parse_token_query(query: &str) -> Result<TokenRequest, ApiError> {
    let mut request = TokenRequest::default();
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match name.as_ref() {
            "filename" => {
                request.filename = Some(value.into_owned()).filter(|name| !name.is_empty())
            }
            "size" if !value.is_empty() => {
                request.size = Some(value.parse().map_err(|_| ApiError::InvalidArgument {
                    name: "size",
                    reason: format!("{value:?} is not a size in bytes"),
                })?);
            }
            "contentType" => {
                request.content_type = Some(value.into_owned()).filter(|value| !value.is_empty())
            }
            _ => {}
        }
    }
    Ok(request)
}
