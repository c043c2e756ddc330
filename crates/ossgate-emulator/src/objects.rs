//! GetObject, HeadObject, DeleteObject and ListObjects.

use axum::extract::Request;
use axum::response::Response;

use crate::error::OssError;
use crate::routes::RequestContext;
use crate::AppState;

pub(crate) async fn get(
    _state: &AppState,
    _context: &RequestContext,
    _request: Request,
) -> Result<Response, OssError> {
    Err(OssError::not_implemented("GetObject"))
}

pub(crate) async fn delete(
    _state: &AppState,
    _context: &RequestContext,
    _request: Request,
) -> Result<Response, OssError> {
    Err(OssError::not_implemented("DeleteObject"))
}

pub(crate) async fn list(
    _state: &AppState,
    _context: &RequestContext,
    _request: Request,
) -> Result<Response, OssError> {
    Err(OssError::not_implemented("ListObjects"))
}
