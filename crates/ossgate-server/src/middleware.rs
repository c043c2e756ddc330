//! The per-request middleware: request ids, the request's tracing span, and
//! latency metrics by route.
//!
//! It is one hand-written layer around the whole router instead of a stack
//! of `Router::layer` calls. Each of those wraps every route in one more boxed
//! service, which is cloned and driven through a `oneshot` on every request.
//! Measured with callgrind on `ossgate dev`, one `GET /healthz` took about
//! 42,000 instructions with four such layers and 31,000 with this one. A bare
//! hyper server takes about 7,700 per request.
//!
//! Two parts work together:
//!
//! - [`RouteLayer`] goes on the routes (`Router::route_layer`) and copies the
//!   matched route template into the response's extensions.
//! - [`RequestLayer`] goes around the router. It takes the client's
//!   `x-request-id` when it is 1 to 128 characters of `A-Z a-z 0-9 . _ : -`
//!   and makes one otherwise, runs the request inside a span that carries the
//!   id, copies the id to the response, and records the latency under the
//!   route template. Requests that no route matched went to the static-file
//!   fallback: they are recorded under the route `static` when it served a
//!   file (it marks the response with [`RouteLabel`]) and `unmatched` when not.
//!   It also completes the JSON body of 405 responses marked with
//!   [`RejectedMethod`], because axum adds their `Allow` header only after
//!   the handler has returned.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::response::{IntoResponse, Response};
use http::{header, HeaderName, HeaderValue, Method};
use tower::{Layer, Service};
use tracing::Span;

use crate::error::ApiError;
use crate::metrics::Metrics;

/// The request id header, taken from the client when it is a valid id and
/// always sent back.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Maximum length of a client's request id. The id goes into every log line
/// of the request, so a longer one is replaced.
const MAX_REQUEST_ID_LEN: usize = 128;

/// The route label of requests that no route matched and that got no file.
const UNMATCHED_ROUTE: &str = "unmatched";

/// A route label for a response that no route template describes, such as
/// a static file's, set by the handler in the response's extensions.
#[derive(Clone, Copy, Debug)]
pub struct RouteLabel(pub &'static str);

/// A mark on the 405 response of a route that exists but does not take the
/// request's method. [`RequestLayer`] rewrites the response's message to list
/// the methods of the `Allow` header.
#[derive(Clone, Debug)]
pub struct RejectedMethod {
    pub method: Method,
    pub path: String,
}

/// Request ids, spans and latency metrics around the whole router.
#[derive(Clone)]
pub struct RequestLayer {
    metrics: Arc<Metrics>,
}

impl RequestLayer {
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Self { metrics }
    }
}

impl<S> Layer<S> for RequestLayer {
    type Service = RequestService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestService {
            inner,
            metrics: Arc::clone(&self.metrics),
        }
    }
}

/// The service [`RequestLayer`] builds.
#[derive(Clone)]
pub struct RequestService<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

impl<S> Service<Request> for RequestService<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = RequestFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let started = Instant::now();
        let request_id = match request.headers().get(&REQUEST_ID) {
            Some(value) if is_valid_request_id(value.as_bytes()) => value.clone(),
            _ => new_request_id(),
        };
        let span = tracing::info_span!(
            "request",
            method = %request.method(),
            path = %request.uri().path(),
            request_id = request_id.to_str().unwrap_or("-"),
        );
        let method = request.method().clone();
        let inner = span.in_scope(|| self.inner.call(request));
        RequestFuture {
            inner,
            state: Some(Finish {
                span,
                request_id,
                method,
                started,
                metrics: Arc::clone(&self.metrics),
            }),
        }
    }
}

/// The state [`RequestFuture`] uses once the response is ready.
struct Finish {
    span: Span,
    request_id: HeaderValue,
    method: Method,
    started: Instant,
    metrics: Arc<Metrics>,
}

pin_project_lite::pin_project! {
    /// The response future of [`RequestService`]: polls the inner future
    /// inside the request's span.
    pub struct RequestFuture<F> {
        #[pin]
        inner: F,
        state: Option<Finish>,
    }
}

impl<F> Future for RequestFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let finish = this
            .state
            .as_ref()
            .expect("RequestFuture polled after it completed");
        let poll = {
            let _entered = finish.span.enter();
            this.inner.poll(cx)
        };
        let Ok(mut response) = ready!(poll);
        let finish = this.state.take().expect("checked above");

        let elapsed = finish.started.elapsed();
        let status = response.status();
        let extensions = response.extensions();
        let route = match extensions.get::<MatchedPath>() {
            Some(matched) => matched.as_str(),
            None => extensions
                .get::<RouteLabel>()
                .map_or(UNMATCHED_ROUTE, |label| label.0),
        };
        finish
            .metrics
            .request(&finish.method, route, status.as_u16(), elapsed);
        finish.span.in_scope(|| {
            tracing::debug!(
                status = status.as_u16(),
                latency_us = elapsed.as_micros(),
                "request finished"
            );
        });

        if status == http::StatusCode::METHOD_NOT_ALLOWED {
            if let Some(rejected) = response.extensions_mut().remove::<RejectedMethod>() {
                name_allowed_methods(&mut response, rejected);
            }
        }
        response
            .headers_mut()
            .entry(REQUEST_ID)
            .or_insert(finish.request_id);
        Poll::Ready(Ok(response))
    }
}

/// Replaces the body of a 405 response with one that also lists the methods
/// of its `Allow` header. The status and headers stay as they are.
fn name_allowed_methods(response: &mut Response, rejected: RejectedMethod) {
    let Some(allow) = response
        .headers()
        .get(header::ALLOW)
        .and_then(|value| value.to_str().ok())
    else {
        return;
    };
    let allowed: Vec<&str> = allow.split(',').map(str::trim).collect();
    let error = ApiError::MethodNotAllowed {
        method: rejected.method.to_string(),
        path: rejected.path,
        allowed: Some(allowed.join(", ")),
    };
    *response.body_mut() = error.into_response().into_body();
    response.headers_mut().remove(header::CONTENT_LENGTH);
}

/// Checks a client's request id: 1 to 128 bytes of ASCII letters, digits and
/// `._:-`. These are safe in logs and headers without quoting.
fn is_valid_request_id(id: &[u8]) -> bool {
    (1..=MAX_REQUEST_ID_LEN).contains(&id.len())
        && id
            .iter()
            .all(|byte| byte.is_ascii_alphanumeric() || b"._:-".contains(byte))
}

/// Makes a request id: 128 random bits in hex.
fn new_request_id() -> HeaderValue {
    let id = crate::token::random_id_bytes();
    HeaderValue::from_maybe_shared(bytes::Bytes::copy_from_slice(&id))
        .expect("hex digits are a valid header value")
}

/// Copies the matched route template into the response's extensions, for
/// [`RequestLayer`]'s metrics.
#[derive(Clone, Copy, Debug, Default)]
pub struct RouteLayer;

impl<S> Layer<S> for RouteLayer {
    type Service = RouteService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RouteService { inner }
    }
}

/// The service [`RouteLayer`] builds.
#[derive(Clone)]
pub struct RouteService<S> {
    inner: S,
}

impl<S> Service<Request> for RouteService<S>
where
    S: Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = RouteFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let route = request.extensions().get::<MatchedPath>().cloned();
        RouteFuture {
            inner: self.inner.call(request),
            route,
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`RouteService`].
    pub struct RouteFuture<F> {
        #[pin]
        inner: F,
        route: Option<MatchedPath>,
    }
}

impl<F, E> Future for RouteFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = ready!(this.inner.poll(cx))?;
        if let Some(route) = this.route.take() {
            response.extensions_mut().insert(route);
        }
        Poll::Ready(Ok(response))
    }
}
