//! PostObject.

use std::time::Duration;

use axum::extract::Request;
use axum::response::Response;

use crate::error::OssError;
use crate::routes::RequestContext;
use crate::AppState;

/// After an early error, at most this much of the rest of the body is read and discarded.
pub const DRAIN_LIMIT_BYTES: u64 = 5 * 1024 * 1024 * 1024;
/// After an early error, the rest of the body is read for at most this long.
pub const DRAIN_TIME_LIMIT: Duration = Duration::from_secs(10);

pub(crate) async fn handle(
    _state: &AppState,
    _context: &RequestContext,
    _request: Request,
) -> Result<Response, OssError> {
    Err(OssError::not_implemented("PostObject"))
}
