//! The ossgate application server: signed upload tokens for direct browser
//! uploads to Alibaba Cloud OSS, verified upload callbacks, upload records,
//! and the upload page.
//!
//! Modules, from settings to serving:
//!
//! - [`config`]: typed settings from a TOML file, the environment and flags,
//!   validated with errors that name the setting and the fix.
//! - [`auth`]: who the caller is (none, static bearer tokens, or JWTs).
//! - [`ticket`]: the HMAC-sealed ticket a token's callback carries back.
//! - [`token`]: policies and signed form fields for one upload.
//! - [`keys`]: the public key a callback names, built in, pinned or fetched.
//! - [`callback`]: callback verification and recording.
//! - [`db`]: upload records in SQLite, with migrations.
//! - [`metrics`]: Prometheus counters and latency histograms.
//! - [`middleware`]: request ids, the request span and latency by route.
//! - [`web`]: the upload page, embedded at build time.
//! - [`handlers`] and [`app`]: the HTTP API, its layers and the serve loop.
//! - [`dev`]: `ossgate dev`, the app server with an embedded OSS emulator.
//!
//! What it deliberately does not do: talk to OSS itself. Uploads go from the
//! browser to the bucket; OSS tells the server about them through callbacks.

pub mod app;
pub mod auth;
pub mod callback;
pub mod config;
pub mod db;
pub mod dev;
pub mod error;
pub mod handlers;
pub mod keys;
pub mod metrics;
pub mod middleware;
pub mod ticket;
pub mod token;
pub mod web;

pub use app::{router, serve, AppState};
pub use config::{ConfigSources, Mode, ServerConfig};
pub use db::Database;
pub use dev::{DevOptions, DevServer};
pub use error::{ApiError, ServerError};

/// Opens the database the settings name and builds the state and router.
///
/// # Errors
///
/// The database cannot be opened or migrated, or the state cannot be built.
pub async fn build(config: ServerConfig) -> Result<(AppState, axum::Router), ServerError> {
    let db = Database::open(&config.database.0).await?;
    let state = AppState::new(config, db)?;
    let router = router(state.clone());
    Ok((state, router))
}
