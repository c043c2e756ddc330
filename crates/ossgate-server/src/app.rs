//! The shared state, the router with its layers, and the serve loop with its
//! header timeout and shutdown deadline.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, DefaultBodyLimit};
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder as ConnectionBuilder;
use ossgate_protocol::CallbackPublicKey;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tower::{Service as _, ServiceBuilder};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::timeout::TimeoutLayer;

use crate::auth::Authenticator;
use crate::config::ServerConfig;
use crate::db::Database;
use crate::error::ServerError;
use crate::handlers;
use crate::keys::KeyResolver;
use crate::metrics::Metrics;
use crate::middleware::{RequestLayer, RouteLayer, REQUEST_ID};
use crate::token::TokenIssuer;

/// Everything a handler needs. Cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    config: ServerConfig,
    issuer: TokenIssuer,
    auth: Authenticator,
    keys: KeyResolver,
    db: Database,
    metrics: Arc<Metrics>,
    /// The security headers of every page file, built once from the bucket URL.
    page_headers: [(HeaderName, HeaderValue); 5],
}

impl AppState {
    /// Builds the state for validated settings and an open database.
    ///
    /// # Errors
    ///
    /// The JWT key or the HTTP client for key fetches cannot be set up.
    pub fn new(config: ServerConfig, db: Database) -> Result<Self, ServerError> {
        Self::with_pinned_keys(config, db, Vec::new())
    }

    /// Like [`AppState::new`], with keys pinned to key URLs so that callbacks
    /// naming them need no fetch.
    ///
    /// # Errors
    ///
    /// See [`AppState::new`].
    pub fn with_pinned_keys(
        config: ServerConfig,
        db: Database,
        pinned: Vec<(String, CallbackPublicKey)>,
    ) -> Result<Self, ServerError> {
        let metrics = Arc::new(Metrics::default());
        let mut keys = KeyResolver::new(&config.trusted_key_url_prefixes, Arc::clone(&metrics))?;
        for (url, key) in pinned {
            keys.pin(url, key);
        }
        let auth = Authenticator::new(&config.auth).map_err(|error| {
            ServerError::Config(crate::config::ConfigErrors(vec![
                crate::config::ConfigError {
                    setting: "auth.jwt_public_key_file".to_owned(),
                    message: format!("invalid RS256 public key: {error}"),
                },
            ]))
        })?;
        Ok(Self(Arc::new(Inner {
            issuer: TokenIssuer::new(&config),
            page_headers: crate::web::security_headers(&config.bucket_url),
            config,
            auth,
            keys,
            db,
            metrics,
        })))
    }

    pub fn config(&self) -> &ServerConfig {
        &self.0.config
    }

    pub fn issuer(&self) -> &TokenIssuer {
        &self.0.issuer
    }

    pub fn auth(&self) -> &Authenticator {
        &self.0.auth
    }

    pub fn keys(&self) -> &KeyResolver {
        &self.0.keys
    }

    pub fn db(&self) -> &Database {
        &self.0.db
    }

    pub fn metrics(&self) -> &Metrics {
        &self.0.metrics
    }

    /// Returns the headers to send with every page file.
    pub fn page_headers(&self) -> &[(HeaderName, HeaderValue)] {
        &self.0.page_headers
    }
}

/// Builds the router: the API, the callback, operations endpoints and the
/// upload page, with request ids, tracing, body limits, CORS for the API,
/// latency metrics, and timeouts on the routes that do I/O.
pub fn router(state: AppState) -> Router {
    let config = state.config();

    // Routes that wait on the database or the network get a deadline. The
    // token endpoints only compute, and a tokio timer per request wakes the
    // runtime's I/O driver, one extra system call on every request.
    let deadline =
        TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, config.request_timeout);

    let tokens = Router::new()
        .route("/api/limits", get(handlers::limits))
        .route("/api/upload-token", get(handlers::upload_token))
        .route("/api/policy", get(handlers::legacy_policy));
    let uploads = Router::new()
        .route("/api/uploads", get(handlers::list_uploads))
        .route("/api/uploads/{id}", get(handlers::get_upload))
        .layer(deadline);
    // Each group gets the JSON 405 handler before its layers are added.
    // Setting it later would replace axum's default 405 handler together with
    // the layers around it, and CORS handles preflight requests there.
    let api = tokens
        .merge(uploads)
        .method_not_allowed_fallback(handlers::method_not_allowed)
        .layer(cors_layer(&config.cors_origins));

    let callback = Router::new()
        .route(
            &config.callback_path,
            post(handlers::callback).layer(DefaultBodyLimit::disable()),
        )
        .method_not_allowed_fallback(handlers::method_not_allowed)
        .layer(deadline);

    let operations = Router::new()
        .route("/healthz", get(handlers::healthz))
        .route("/readyz", get(handlers::readyz).layer(deadline))
        .route("/metrics", get(handlers::metrics))
        .method_not_allowed_fallback(handlers::method_not_allowed);

    let routes = Router::new()
        .merge(api)
        .merge(callback)
        .merge(operations)
        .route_layer(RouteLayer)
        .fallback(handlers::static_file)
        .with_state(state.clone());

    // Layers around the whole router wrap it once. `Router::layer` would wrap
    // every route, adding a boxed service clone per layer to every request.
    let service = ServiceBuilder::new()
        .layer(RequestLayer::new(Arc::clone(&state.0.metrics)))
        .layer(DefaultBodyLimit::max(config.body_limit))
        .service(routes);
    Router::new().fallback_service(service)
}

/// CORS for the API: the configured origins, `Authorization` and
/// `x-request-id` allowed, `x-request-id` readable, never credentials. No
/// origins means no CORS headers (same-origin use only).
fn cors_layer(origins: &[String]) -> CorsLayer {
    let layer = CorsLayer::new()
        .allow_methods([Method::GET])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, REQUEST_ID])
        .expose_headers([REQUEST_ID])
        .max_age(std::time::Duration::from_secs(600));
    if origins.iter().any(|origin| origin == "*") {
        return layer.allow_origin(AllowOrigin::any());
    }
    let list: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|origin| HeaderValue::from_str(origin).ok())
        .collect();
    layer.allow_origin(AllowOrigin::list(list))
}

/// How long a client may take to send a request's headers, and how long
/// in-flight requests get to finish after the shutdown signal.
#[derive(Clone, Copy, Debug)]
pub struct ServeOptions {
    /// Time from when the server waits for a request (a new connection, or
    /// a kept-alive one after its last response) until the request's headers
    /// are complete. A slower client is disconnected, so it cannot hold a
    /// connection by sending headers slowly. Idle kept-alive connections
    /// close after this time too.
    pub header_read_timeout: Duration,
    /// Time from the shutdown signal until connections still open are closed.
    pub shutdown_grace: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then finishes the
/// requests in flight, with the default [`ServeOptions`].
///
/// Returns `Ok` once shut down. Accept errors are logged and retried as in
/// `axum::serve`, so today no listener error ends serving.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, router, shutdown, ServeOptions::default()).await
}

/// Serves `router` on `listener` until `shutdown` resolves. Then it stops
/// accepting, tells every connection to finish its request in flight and
/// close, and after `options.shutdown_grace` closes the connections still
/// open.
///
/// HTTP/1 and HTTP/2 (prior knowledge) are served as `axum::serve` serves
/// them, and handlers get the peer address as `ConnectInfo<SocketAddr>`.
/// Returns as [`serve`] does.
pub async fn serve_with(
    mut listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    options: ServeOptions,
) -> std::io::Result<()> {
    let mut builder = ConnectionBuilder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_read_timeout);
    builder.http2().enable_connect_protocol();
    let builder = Arc::new(builder);

    // Accept until the signal, reaping finished connection tasks on the way.
    let (stop, stopping) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            (stream, remote) = axum::serve::Listener::accept(&mut listener) => {
                connections.spawn(serve_connection(
                    Arc::clone(&builder),
                    stream,
                    remote,
                    router.clone(),
                    stopping.clone(),
                    options.header_read_timeout,
                ));
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            () = &mut shutdown => break,
        }
    }
    drop(listener);

    // Let the requests in flight finish, then close what is left.
    let open = connections.len();
    tracing::info!(
        open,
        grace_secs = options.shutdown_grace.as_secs_f64(),
        "shutting down: waiting for open connections"
    );
    let _ = stop.send(true);
    let drained = tokio::time::timeout(options.shutdown_grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        let cut = connections.len();
        tracing::warn!(
            cut,
            grace_secs = options.shutdown_grace.as_secs_f64(),
            "closed connections still open at the shutdown deadline"
        );
        connections.shutdown().await;
    }
    Ok(())
}

/// Serves one connection until it closes, the client misses the header
/// deadline, or the server shuts down.
///
/// hyper's HTTP/1 header timeout covers each request once the protocol is
/// known, but not the bytes before that (the protocol sniff) nor HTTP/2. So
/// a connection whose first request has not reached the router within
/// `header_read_timeout` is closed here.
async fn serve_connection(
    builder: Arc<ConnectionBuilder<TokioExecutor>>,
    stream: tokio::net::TcpStream,
    remote: SocketAddr,
    router: Router,
    mut stopping: watch::Receiver<bool>,
    header_read_timeout: Duration,
) {
    let first_request_seen = Arc::new(AtomicBool::new(false));
    let service = hyper::service::service_fn({
        let first_request_seen = Arc::clone(&first_request_seen);
        move |mut request: http::Request<hyper::body::Incoming>| {
            first_request_seen.store(true, Ordering::Relaxed);
            request.extensions_mut().insert(ConnectInfo(remote));
            router.clone().call(request)
        }
    });
    let mut connection =
        std::pin::pin!(builder.serve_connection_with_upgrades(TokioIo::new(stream), service));
    let mut first_request_deadline = std::pin::pin!(tokio::time::sleep(header_read_timeout));
    let mut deadline_checked = false;
    let mut shutting_down = false;

    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%remote, %error, "connection ended with an error");
                }
                return;
            }
            () = &mut first_request_deadline, if !deadline_checked => {
                deadline_checked = true;
                if !first_request_seen.load(Ordering::Relaxed) {
                    tracing::debug!(
                        %remote,
                        "closed a connection that sent no complete request headers in time"
                    );
                    return;
                }
            }
            _ = stopping.changed(), if !shutting_down => {
                shutting_down = true;
                connection.as_mut().graceful_shutdown();
            }
        }
    }
}
