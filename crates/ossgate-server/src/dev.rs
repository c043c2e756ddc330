//! `ossgate dev`: the app server and an embedded OSS emulator on 127.0.0.1.
//!
//! The emulator serves one private bucket, `ossgate-dev`, whose CORS rules
//! allow the app's origin to POST forms. Dev credentials and the ticket secret
//! are generated on first start and kept in `<data dir>/dev-secrets.toml`, so a
//! restart keeps existing tokens and presigned URLs working. The emulator's
//! key URL is trusted (and its key pinned) in this mode only. Both servers
//! listen on loopback addresses only: the dev credentials are not secret
//! enough for anything else.
//!
//! Shutdown runs in two phases, so an upload in flight is still recorded.
//! First the emulator stops accepting connections and finishes the requests
//! it has, each with its callback, for up to [`EMULATOR_DRAIN_TIMEOUT`]. Meanwhile the app server keeps its
//! listener open for those callbacks but answers every other request with
//! 503. Then the app server stops too.

use std::convert::Infallible;
use std::future::{Future, Ready};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::future::RouteFuture;
use futures_util::future::Either;

use ossgate_emulator::{BucketConfig, CorsRule, CredentialConfig, Emulator, EmulatorConfig};
use ossgate_protocol::CallbackPublicKey;
use rand::distributions::{Alphanumeric, DistString};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tower::Service;
use zeroize::Zeroizing;

use crate::app::AppState;
use crate::config::{ConfigErrors, ConfigSources, Mode, ServerConfig, DEFAULT_CALLBACK_PATH};
use crate::db::Database;
use crate::error::ServerError;

/// The bucket the dev emulator serves.
pub const DEV_BUCKET: &str = "ossgate-dev";

/// The region the dev emulator and the dev signatures use.
pub const DEV_REGION: &str = "cn-hangzhou";

/// How long shutdown waits for the emulator's requests in flight, callbacks
/// included, before it stops the emulator anyway.
pub const EMULATOR_DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// The options `ossgate dev` is started with.
#[derive(Clone, Debug)]
pub struct DevOptions {
    /// The app server's address; port 0 picks a free port.
    pub listen: SocketAddr,
    /// The emulator's address; port 0 picks a free port.
    pub emulator_listen: SocketAddr,
    /// The directory for the emulator's objects, the SQLite file and the dev secrets.
    pub data_dir: PathBuf,
    /// Further settings (limits, auth, signature version) from a file, the
    /// environment and flags. The bucket, credentials, callback URL and
    /// ticket secret are replaced by the dev ones.
    pub sources: ConfigSources,
}

impl Default for DevOptions {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            emulator_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: PathBuf::from(".ossgate-dev"),
            sources: ConfigSources::default(),
        }
    }
}

/// Credentials and the ticket secret generated for dev mode.
#[derive(Deserialize, Serialize)]
struct DevSecrets {
    access_key_id: String,
    access_key_secret: String,
    ticket_secret: String,
}

/// The running app server and emulator.
pub struct DevServer {
    /// The app server's base URL, e.g. `http://127.0.0.1:8080`.
    pub app_url: String,
    /// The emulator's base URL, e.g. `http://127.0.0.1:40123`.
    pub emulator_url: String,
    pub state: AppState,
    /// Turns true when the emulator is to stop accepting and drain. From then
    /// on the app server answers only callbacks.
    stop_emulator: watch::Sender<bool>,
    /// Turns true when the app server is to stop.
    stop_app: watch::Sender<bool>,
    app_task: JoinHandle<std::io::Result<()>>,
    emulator_task: JoinHandle<std::io::Result<()>>,
}

impl DevServer {
    /// Binds both listeners, starts the emulator and the app server, and
    /// returns once both accept connections.
    ///
    /// # Errors
    ///
    /// A non-loopback address, an address in use, an unusable data directory,
    /// invalid settings, or an emulator that fails to start.
    pub async fn start(options: DevOptions) -> Result<Self, ServerError> {
        for (flag, address) in [
            ("--listen", options.listen),
            ("--emulator-listen", options.emulator_listen),
        ] {
            if !address.ip().is_loopback() {
                return Err(ServerError::Config(ConfigErrors::single(
                    flag,
                    format!(
                        "{address} is not a loopback address: ossgate dev listens on loopback \
                         addresses only, because its credentials are not secret; use \
                         127.0.0.1, or run `ossgate serve` for a real deployment"
                    ),
                )));
            }
        }
        let secrets = load_or_create_secrets(&options.data_dir)?;

        // Bind first: the URLs depend on the ports actually chosen.
        let app_listener = bind(options.listen, "--listen").await?;
        let emulator_listener = bind(options.emulator_listen, "--emulator-listen").await?;
        let app_address = local_address(&app_listener)?;
        let emulator_address = local_address(&emulator_listener)?;
        let app_url = format!("http://{app_address}");
        let emulator_url = format!("http://{emulator_address}");
        let key_url = Emulator::key_url(&emulator_url);

        // The emulator: one bucket that the page's origin may POST to.
        let mut origins = vec![app_url.clone()];
        if app_address.ip().is_loopback() {
            origins.push(format!("http://localhost:{}", app_address.port()));
        }
        let origin_refs: Vec<&str> = origins.iter().map(String::as_str).collect();
        let mut bucket = BucketConfig::new(DEV_BUCKET);
        bucket.cors = vec![CorsRule::permissive(&origin_refs, &["POST", "GET", "HEAD"])];
        let emulator = Emulator::new(EmulatorConfig {
            listen: emulator_address,
            data_dir: options.data_dir.join("emulator"),
            region: DEV_REGION.to_owned(),
            buckets: vec![bucket],
            credentials: vec![CredentialConfig::new(
                &secrets.access_key_id,
                &secrets.access_key_secret,
            )],
            ..EmulatorConfig::default()
        })
        .map_err(|error| ServerError::Emulator(error.to_string()))?;
        let emulator_key = CallbackPublicKey::from_pem(emulator.callback_public_key_pem())
            .map_err(|error| ServerError::Emulator(format!("unusable callback key: {error}")))?;

        // The app server's settings: the caller's, with the dev values on top.
        let mut sources = options.sources.clone();
        let raw = sources.load()?;
        let callback_path = raw
            .callback
            .path
            .clone()
            .unwrap_or_else(|| DEFAULT_CALLBACK_PATH.to_owned());
        sources.set("listen", app_address.to_string());
        sources.set(
            "database",
            options.data_dir.join("ossgate.db").display().to_string(),
        );
        sources.set("oss.bucket", DEV_BUCKET);
        sources.set("oss.region", DEV_REGION);
        sources.set("oss.bucket_url", format!("{emulator_url}/{DEV_BUCKET}"));
        sources.set("oss.access_key_id", secrets.access_key_id.clone());
        sources.set("oss.access_key_secret", secrets.access_key_secret.clone());
        sources.set("callback.url", format!("{app_url}{callback_path}"));
        sources.set("callback.trusted_key_url_prefixes", vec![key_url.clone()]);
        sources.set("callback.ticket_secret", secrets.ticket_secret.clone());
        let config = ServerConfig::load(&sources, Mode::Dev)?;

        let db = Database::open(&config.database.0).await?;
        let callback_path = config.callback_path.clone();
        let state = AppState::with_pinned_keys(config, db, vec![(key_url, emulator_key)])?;

        // The emulator stops first and the app server last; see the module doc.
        let (stop_emulator, emulator_stopping) = watch::channel(false);
        let (stop_app, app_stopping) = watch::channel(false);
        let router = axum::Router::new().fallback_service(DrainGuard {
            inner: crate::app::router(state.clone()),
            emulator_stopping: emulator_stopping.clone(),
            callback_path: callback_path.into(),
        });
        let emulator_task = tokio::spawn(ossgate_emulator::serve(
            emulator,
            emulator_listener,
            wait_for_stop(emulator_stopping),
        ));
        let app_task = tokio::spawn(crate::app::serve(
            app_listener,
            router,
            wait_for_stop(app_stopping),
        ));
        tracing::info!(%app_url, %emulator_url, data_dir = %options.data_dir.display(), "dev servers started");

        Ok(Self {
            app_url,
            emulator_url,
            state,
            stop_emulator,
            stop_app,
            app_task,
            emulator_task,
        })
    }

    /// Runs until `shutdown` resolves or a server fails, then stops both
    /// servers gracefully.
    ///
    /// # Errors
    ///
    /// The I/O error that stopped a server.
    pub async fn run_until(
        mut self,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), ServerError> {
        let early = tokio::select! {
            () = shutdown => None,
            result = &mut self.app_task => Some(("app server", result)),
            result = &mut self.emulator_task => Some(("emulator", result)),
        };
        if let Some((name, result)) = early {
            let _ = self.stop_emulator.send(true);
            let _ = self.stop_app.send(true);
            let error = match result {
                Ok(Ok(())) => std::io::Error::other("stopped unexpectedly"),
                Ok(Err(error)) => error,
                Err(join) => std::io::Error::other(join.to_string()),
            };
            return Err(ServerError::Io {
                context: format!("the {name} failed"),
                source: error,
            });
        }
        self.stop().await
    }

    /// Stops both servers, waiting for requests in flight: first the
    /// emulator's, whose callbacks the app server still accepts, then the app
    /// server's.
    ///
    /// # Errors
    ///
    /// The I/O error that stopped a server.
    pub async fn stop(mut self) -> Result<(), ServerError> {
        let _ = self.stop_emulator.send(true);
        let emulator_result =
            match tokio::time::timeout(EMULATOR_DRAIN_TIMEOUT, &mut self.emulator_task).await {
                Ok(result) => result,
                Err(_) => {
                    tracing::warn!(
                        timeout_secs = EMULATOR_DRAIN_TIMEOUT.as_secs(),
                        "the emulator did not finish its requests in time, so it is stopped \
                         and uploads still in flight are not recorded"
                    );
                    self.emulator_task.abort();
                    Ok(Ok(()))
                }
            };

        let _ = self.stop_app.send(true);
        let app_result = (&mut self.app_task).await;
        for (name, result) in [("emulator", emulator_result), ("app server", app_result)] {
            match result {
                Ok(Ok(())) => {}
                Ok(Err(source)) => {
                    return Err(ServerError::Io {
                        context: format!("the {name} failed"),
                        source,
                    })
                }
                Err(join) => {
                    return Err(ServerError::Io {
                        context: format!("the {name} task failed"),
                        source: std::io::Error::other(join.to_string()),
                    })
                }
            }
        }
        self.state.db().close().await;
        tracing::info!("dev servers stopped");
        Ok(())
    }
}

/// Rejects every request but a callback with [`shutting_down`] once the
/// emulator drains, so that no new upload starts while the callbacks of
/// uploads in flight still reach the app server.
#[derive(Clone)]
struct DrainGuard {
    inner: axum::Router,
    emulator_stopping: watch::Receiver<bool>,
    callback_path: Arc<str>,
}

impl Service<Request> for DrainGuard {
    type Response = Response;
    type Error = Infallible;
    type Future = Either<Ready<Result<Response, Infallible>>, RouteFuture<Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Service::<Request>::poll_ready(&mut self.inner, cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let draining = *self.emulator_stopping.borrow();
        if draining && request.uri().path() != &*self.callback_path {
            return Either::Left(std::future::ready(Ok(shutting_down())));
        }
        Either::Right(self.inner.call(request))
    }
}

/// The answer to any request but a callback while the emulator drains.
fn shutting_down() -> Response {
    let body = serde_json::json!({
        "Status": "Error",
        "code": "ShuttingDown",
        "message": "ossgate dev is shutting down; start it again to continue",
    });
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::CONNECTION, "close")],
        axum::Json(body),
    )
        .into_response()
}

async fn wait_for_stop(mut stopped: watch::Receiver<bool>) {
    let _ = stopped.wait_for(|stop| *stop).await;
}

async fn bind(address: SocketAddr, flag: &str) -> Result<TcpListener, ServerError> {
    TcpListener::bind(address)
        .await
        .map_err(|source| ServerError::Io {
            context: format!(
                "cannot listen on {address} ({flag}); pick another port, or 0 for any free one"
            ),
            source,
        })
}

fn local_address(listener: &TcpListener) -> Result<SocketAddr, ServerError> {
    listener.local_addr().map_err(|source| ServerError::Io {
        context: "cannot read the bound address".to_owned(),
        source,
    })
}

/// Loads the dev secrets from the data directory, generating and saving them
/// (readable by the owner only) on first use.
fn load_or_create_secrets(data_dir: &Path) -> Result<DevSecrets, ServerError> {
    let path = data_dir.join("dev-secrets.toml");
    let io_error = |context: String| move |source| ServerError::Io { context, source };

    if path.exists() {
        let text = Zeroizing::new(
            std::fs::read_to_string(&path)
                .map_err(io_error(format!("cannot read {}", path.display())))?,
        );
        return toml::from_str(&text).map_err(|error| ServerError::Io {
            context: format!(
                "{} is not a valid dev secrets file ({}); delete it to generate new dev credentials",
                path.display(),
                error.message()
            ),
            source: std::io::Error::from(std::io::ErrorKind::InvalidData),
        });
    }

    std::fs::create_dir_all(data_dir).map_err(io_error(format!(
        "cannot create the data directory {}",
        data_dir.display()
    )))?;
    let mut rng = rand::thread_rng();
    let secrets = DevSecrets {
        access_key_id: format!("LTAIdev{}", Alphanumeric.sample_string(&mut rng, 17)),
        access_key_secret: Alphanumeric.sample_string(&mut rng, 30),
        ticket_secret: Alphanumeric.sample_string(&mut rng, 48),
    };
    let text = Zeroizing::new(
        "# Generated by `ossgate dev` for the local emulator only. Delete to regenerate.\n"
            .to_owned()
            + &toml::to_string(&secrets).expect("the secrets serialise"),
    );

    // Written to a temporary file first, so a crash never leaves half a file.
    let temporary = data_dir.join(".dev-secrets.toml.tmp");
    write_private(&temporary, text.as_bytes())
        .map_err(io_error(format!("cannot write {}", temporary.display())))?;
    std::fs::rename(&temporary, &path)
        .map_err(io_error(format!("cannot create {}", path.display())))?;
    tracing::info!(path = %path.display(), "generated dev credentials");
    Ok(secrets)
}

fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_generated_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create_secrets(dir.path()).unwrap();
        let second = load_or_create_secrets(dir.path()).unwrap();
        assert_eq!(first.access_key_id, second.access_key_id);
        assert_eq!(first.access_key_secret, second.access_key_secret);
        assert_eq!(first.ticket_secret, second.ticket_secret);
        assert!(first.ticket_secret.len() >= 32);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("dev-secrets.toml"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[tokio::test]
    async fn dev_refuses_non_loopback_addresses() {
        let dir = tempfile::tempdir().unwrap();
        let options = DevOptions {
            listen: SocketAddr::from(([0, 0, 0, 0], 0)),
            data_dir: dir.path().to_owned(),
            ..DevOptions::default()
        };
        let error = DevServer::start(options).await.err().expect("rejected");
        assert!(error.to_string().contains("loopback"), "{error}");
    }
}
