//! Errors: [`ServerError`] for starting the server, [`ApiError`] for HTTP
//! error responses. [`ApiError`] is mapped to a status and a JSON body
//! `{"Status":"Error","code","message"}` in exactly one place, its
//! `IntoResponse` impl. Internal errors give the client a generic message and
//! the log the detail.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::config::ConfigErrors;

/// A failure to set up the server.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Config(#[from] ConfigErrors),
    #[error("cannot open the database {path}: {source}")]
    Database {
        path: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("cannot apply the database migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start the emulator: {0}")]
    Emulator(String),
    #[error("cannot build the HTTP client for key fetches: {0}")]
    HttpClient(#[from] reqwest::Error),
}

/// A reason a callback was rejected. Each variant is one cause, with its own
/// metrics label.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CallbackRejection {
    #[error("the callback body is larger than {limit} bytes")]
    BodyTooLarge { limit: usize },
    #[error(
        "the callback body could not be read to its end ({detail}); the sender must send the \
         whole body again"
    )]
    BodyReadFailed { detail: String },
    #[error("{0}")]
    Verify(#[from] ossgate_protocol::VerifyError),
    #[error("the callback body has no valid {0} field")]
    MalformedBody(&'static str),
    #[error("invalid ticket: {0}")]
    InvalidTicket(crate::ticket::TicketError),
    #[error("expired ticket: {0}")]
    TicketExpired(crate::ticket::TicketError),
    #[error("the bucket {bucket:?} is not this server's bucket")]
    WrongBucket { bucket: String },
    #[error("the object {object:?} is outside the directory or key the token allowed")]
    ObjectOutsideScope { object: String },
    #[error("the object is {size} bytes, more than the {max} bytes allowed")]
    EntityTooLarge { size: u64, max: u64 },
    #[error("the content type {content_type:?} is not allowed")]
    InvalidContentType { content_type: String },
    #[error(
        "the OSS request id {request_id:?} is already recorded for another upload \
         (record {existing_id}); a replay must repeat the same request id, token and object"
    )]
    ReplayMismatch {
        request_id: String,
        existing_id: i64,
    },
}

impl CallbackRejection {
    /// The reason label used in logs and metrics.
    pub fn reason(&self) -> &'static str {
        use ossgate_protocol::verify::UntrustedReason;
        use ossgate_protocol::VerifyError;
        match self {
            Self::BodyTooLarge { .. } => "body_too_large",
            Self::BodyReadFailed { .. } => "body_read_failed",
            Self::Verify(error) => match error {
                VerifyError::MissingHeader(_) => "missing_header",
                VerifyError::BadBase64 { .. } => "bad_base64",
                VerifyError::UntrustedKeyUrl { reason, .. } => match reason {
                    UntrustedReason::NotAUrl => "key_url_not_a_url",
                    UntrustedReason::Scheme => "key_url_scheme",
                    UntrustedReason::UserInfo => "key_url_userinfo",
                    UntrustedReason::ExplicitPort => "key_url_port",
                    UntrustedReason::ForeignHost => "key_url_foreign_host",
                    UntrustedReason::LookalikeHost => "key_url_lookalike_host",
                    _ => "key_url_malformed",
                },
                VerifyError::KeyUnavailable { .. } => "key_unavailable",
                VerifyError::BadKey(_) => "bad_key",
                VerifyError::InvalidPathEscape(_) => "invalid_path_escape",
                VerifyError::PathContainsLineBreak(_) => "path_line_break",
                VerifyError::SignatureMismatch => "signature_mismatch",
            },
            Self::MalformedBody(_) => "malformed_body",
            Self::InvalidTicket(_) => "invalid_ticket",
            Self::TicketExpired(_) => "ticket_expired",
            Self::WrongBucket { .. } => "wrong_bucket",
            Self::ObjectOutsideScope { .. } => "object_outside_scope",
            Self::EntityTooLarge { .. } => "entity_too_large",
            Self::InvalidContentType { .. } => "invalid_content_type",
            Self::ReplayMismatch { .. } => "replay_mismatch",
        }
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        use ossgate_protocol::VerifyError;
        match self {
            Self::BodyTooLarge { .. } => (StatusCode::BAD_REQUEST, "CallbackBodyTooLarge"),
            Self::BodyReadFailed { .. } => (StatusCode::BAD_REQUEST, "CallbackBodyReadFailed"),
            Self::Verify(error) => match error {
                VerifyError::MissingHeader(_) => (StatusCode::BAD_REQUEST, "MissingHeader"),
                VerifyError::BadBase64 { .. } => (StatusCode::BAD_REQUEST, "InvalidHeader"),
                VerifyError::InvalidPathEscape(_) | VerifyError::PathContainsLineBreak(_) => {
                    (StatusCode::BAD_REQUEST, "InvalidPath")
                }
                VerifyError::UntrustedKeyUrl { .. } => (StatusCode::FORBIDDEN, "UntrustedKeyUrl"),
                VerifyError::KeyUnavailable { .. } | VerifyError::BadKey(_) => {
                    (StatusCode::FORBIDDEN, "KeyUnavailable")
                }
                VerifyError::SignatureMismatch => (StatusCode::FORBIDDEN, "SignatureDoesNotMatch"),
            },
            Self::MalformedBody(_) => (StatusCode::BAD_REQUEST, "MalformedCallbackBody"),
            Self::InvalidTicket(_) => (StatusCode::FORBIDDEN, "InvalidTicket"),
            Self::TicketExpired(_) => (StatusCode::FORBIDDEN, "TicketExpired"),
            Self::WrongBucket { .. } => (StatusCode::FORBIDDEN, "WrongBucket"),
            Self::ObjectOutsideScope { .. } => (StatusCode::FORBIDDEN, "ObjectOutsideScope"),
            Self::EntityTooLarge { .. } => (StatusCode::BAD_REQUEST, "EntityTooLarge"),
            Self::InvalidContentType { .. } => (StatusCode::BAD_REQUEST, "InvalidContentType"),
            Self::ReplayMismatch { .. } => (StatusCode::FORBIDDEN, "ReplayMismatch"),
        }
    }
}

/// An error answer from the API.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(
        "the declared size {size} is larger than the maximum of {max} bytes; choose a smaller file"
    )]
    EntityTooLarge { size: u64, max: u64 },
    #[error("the content type {content_type:?} is not allowed; allowed types: {allowed}")]
    InvalidContentType {
        content_type: String,
        allowed: String,
    },
    #[error("invalid {name}: {reason}")]
    InvalidArgument { name: &'static str, reason: String },
    #[error("missing Authorization header: send \"Authorization: Bearer <token>\"")]
    MissingToken,
    #[error("invalid bearer token: {0}")]
    InvalidToken(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error(
        "the method {method} is not allowed on {path:?}{}",
        allowed_methods_suffix(.allowed.as_deref())
    )]
    MethodNotAllowed {
        method: String,
        path: String,
        /// The methods of the route, as the `Allow` header lists them.
        allowed: Option<String>,
    },
    #[error(
        "GET /api/policy cannot be used with STS credentials: its response has no field for the \
         security token, so OSS would reject every upload. Use GET /api/upload-token, or \
         long-term RAM user credentials"
    )]
    LegacyPolicyWithSts,
    #[error("{0}")]
    Callback(#[from] CallbackRejection),
    #[error("the database is not reachable")]
    Unavailable,
    /// The detail goes to the log only.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::EntityTooLarge { .. } => (StatusCode::BAD_REQUEST, "EntityTooLarge"),
            Self::InvalidContentType { .. } => (StatusCode::BAD_REQUEST, "InvalidContentType"),
            Self::InvalidArgument { .. } => (StatusCode::BAD_REQUEST, "InvalidArgument"),
            Self::MissingToken => (StatusCode::UNAUTHORIZED, "MissingToken"),
            Self::InvalidToken(_) => (StatusCode::UNAUTHORIZED, "InvalidToken"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "NotFound"),
            Self::MethodNotAllowed { .. } => (StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed"),
            Self::LegacyPolicyWithSts => (StatusCode::CONFLICT, "LegacyPolicyWithSts"),
            Self::Callback(rejection) => rejection.status_and_code(),
            Self::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "Unavailable"),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "InternalError"),
        }
    }
}

fn allowed_methods_suffix(allowed: Option<&str>) -> String {
    allowed.map_or_else(String::new, |allowed| format!("; use {allowed}"))
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        Self::Internal(format!("database: {error}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let message = match &self {
            Self::Internal(detail) => {
                tracing::error!(%detail, "request failed");
                "the server failed to handle the request; see its log".to_owned()
            }
            Self::Callback(rejection) => callback_message(rejection),
            other => other.to_string(),
        };
        let mut response = (
            status,
            Json(json!({"Status": "Error", "code": code, "message": message})),
        )
            .into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

/// What a rejected callback's sender is told. The key URL and the ticket
/// contents stay in the log: the sender may be a forger probing the checks.
fn callback_message(rejection: &CallbackRejection) -> String {
    match rejection {
        CallbackRejection::Verify(ossgate_protocol::VerifyError::UntrustedKeyUrl {
            reason,
            ..
        }) => {
            format!("the public key URL is not trusted: {reason}")
        }
        CallbackRejection::Verify(ossgate_protocol::VerifyError::KeyUnavailable { .. }) => {
            "the public key could not be fetched".to_owned()
        }
        CallbackRejection::InvalidTicket(_) => "the callback ticket is invalid".to_owned(),
        CallbackRejection::ReplayMismatch { .. } => {
            "the OSS request id is already recorded for another upload".to_owned()
        }
        other => other.to_string(),
    }
}
