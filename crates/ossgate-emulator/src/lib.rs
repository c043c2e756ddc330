//! A local Alibaba Cloud OSS emulator for browser uploads: PostObject with
//! signature and policy checks, signed upload callbacks, CORS and object reads.
//!
//! Real OSS cannot call back a laptop, and no maintained emulator checks
//! PostObject signatures or sends callbacks. This one runs the whole
//! browser-upload flow on one machine and is as strict as OSS where the
//! protocol is known, so a client bug fails here the way it fails on OSS.
//!
//! Modules:
//! - [`config`]: the settings, from code or TOML.
//! - [`error`]: start-up errors and the OSS error type with its XML body.
//! - `routes`: bucket addressing (virtual-hosted and path-style), common
//!   response headers, dispatch to the operations.
//! - `post_object`: PostObject: streaming multipart parsing, form rules,
//!   signature, policy and size checks, object attributes, responses.
//! - `auth`: V1/V4/STS form signature checks and presigned-URL checks, on top
//!   of the protocol crate.
//! - `callback`: upload callbacks: rendering, signing, sending, OSS's success rules.
//! - `objects`: GetObject, HeadObject, DeleteObject, ListObjects (V1 and V2).
//! - `cors`: per-bucket CORS rules, preflight and actual requests.
//! - `storage`: objects on disk with atomic commits.
//! - `hooks`: JSON test hooks under `/_emulator/` and fault injection.
//!
//! # Known differences from real OSS
//!
//! - Callback URLs may name loopback and private addresses, such as
//!   `127.0.0.1`: the emulator exists to call back a local app server. Real OSS
//!   refuses private addresses and cannot reach a laptop.
//! - Callbacks are signed with the emulator's own RSA key (2048 bits unless
//!   `callback_key_bits` sets another size), and `x-oss-pub-key-url` is the
//!   base64 of `<emulator URL>/callback_pub_key_v1.pem`, not a
//!   `gosspublic.alicdn.com` URL. An app server must trust that URL prefix
//!   in development.
//! - The callback time budget applies to each callback URL separately; real
//!   OSS documents 5 seconds without saying how several URLs share it. The
//!   callback request is sent over HTTP/1.1 by a general-purpose client, with
//!   `User-Agent: aliyun-oss-callback`; OSS's internal headers
//!   (`eagleeye-rpcid`, `x-oss-owner`, `x-oss-requester`) are not sent.
//! - `CallbackFailed` messages for causes OSS has no documented text for (a
//!   response without `Content-Length`, a body over 3 MB) are the
//!   emulator's own wording.
//! - Only the operations a browser-upload flow needs exist: PostObject,
//!   GetObject, HeadObject, DeleteObject, ListObjects (V1 and V2) and OPTIONS.
//!   PutObject, multipart upload, bucket management, versioning,
//!   encryption and image processing answer `NotImplemented`.
//!   `x-oss-storage-class` and `x-oss-server-side-encryption` are validated
//!   and stored, but the data is neither archived nor encrypted.
//! - Requests signed with an `Authorization` header are not verified; signed
//!   reads and deletes use presigned URLs (V1 or V4), which are.
//! - Keys with a `..` path segment, a carriage return, a line feed or a NUL
//!   are rejected as `InvalidObjectName`. OSS's published naming rules only
//!   forbid a leading `/` or `\\` and names over 1023 bytes, so OSS may accept
//!   some keys the emulator rejects.
//! - Error texts OSS does not publish are the emulator's own wording, in
//!   OSS's style: missing or malformed V4 form fields, a V4 policy without a
//!   required condition, a missing `policy` field ("Post request policy is
//!   empty."), fields after the `file` part, `FieldItemTooLong`, and a form
//!   with more than [`post_object::MAX_FIELDS`] fields (the emulator's limit).
//! - A `callback` whose `callbackUrl` is empty is rejected as
//!   `InvalidArgument`; OSS's documentation says an empty URL means no
//!   callback. Leave the `callback` field out instead.
//! - `HostId` in error bodies is the `Host` the client sent, not
//!   `<bucket>.oss-<region>.aliyuncs.com`.
//! - A wrong STS security token gives `InvalidSecurityToken`; the OSS
//!   documentation lists the EC detail code but not the error code.
//! - An upload cut off for exceeding `content-length-range` gets its error
//!   response while the rest of the request body is read and discarded (up to
//!   [`post_object::DRAIN_LIMIT_BYTES`] or [`post_object::DRAIN_TIME_LIMIT`]),
//!   so the client reliably sees the error; nothing of it is stored.
//! - Listing reads every metadata file of a bucket, so it suits test data
//!   sets, not millions of objects. Objects are not fsynced before commit.
//! - Stored objects and their metadata are plain files under the data
//!   directory; nothing but this process should write there.

pub mod config;
pub mod error;
pub mod hooks;
pub mod post_object;
pub mod storage;

mod auth;
mod callback;
mod callback_key;
mod cors;
mod objects;
mod routes;
mod xml;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use base64::Engine as _;

pub use config::{BucketAcl, BucketConfig, CorsRule, CredentialConfig, EmulatorConfig};
pub use error::{EmulatorError, OssError};

use crate::callback_key::CallbackKey;
use crate::hooks::Recorder;
use crate::storage::Storage;

/// The emulator: configuration, storage, callback key, records. Cheap to clone.
#[derive(Clone)]
pub struct Emulator {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) config: EmulatorConfig,
    pub(crate) storage: Storage,
    pub(crate) callback_key: CallbackKey,
    pub(crate) recorder: Recorder,
    /// The client for callbacks: rustls, no proxy, no redirects.
    pub(crate) http: reqwest::Client,
}

/// The router's state: the emulator and its own address.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) inner: Arc<Inner>,
    /// `x-oss-pub-key-url`: base64 of the emulator's key URL.
    pub(crate) key_url_header: Arc<str>,
}

impl Emulator {
    /// Validates the configuration, prepares the data directory and loads or
    /// generates the callback signing key.
    ///
    /// # Errors
    /// [`EmulatorError`] naming the invalid setting, the directory that could
    /// not be prepared or the unusable key file.
    pub fn new(config: EmulatorConfig) -> Result<Emulator, EmulatorError> {
        config.validate()?;

        let bucket_names: Vec<&str> = config.buckets.iter().map(|b| b.name.as_str()).collect();
        let storage = Storage::open(&config.data_dir, &bucket_names)?;

        let (key_path, explicit) = match &config.callback_key_path {
            Some(path) => (path.clone(), true),
            None => (config.data_dir.join("callback_private_key.pem"), false),
        };
        let callback_key =
            CallbackKey::load_or_generate(&key_path, config.callback_key_bits, !explicit)?;

        let http = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|error| {
                EmulatorError::Config(format!("failed to build the callback HTTP client: {error}"))
            })?;

        tracing::info!(
            data_dir = %config.data_dir.display(),
            buckets = ?bucket_names,
            region = %config.region,
            callback_key_bits = callback_key.bits(),
            "emulator ready"
        );
        Ok(Emulator {
            inner: Arc::new(Inner {
                config,
                storage,
                callback_key,
                recorder: Recorder::default(),
                http,
            }),
        })
    }

    pub fn config(&self) -> &EmulatorConfig {
        &self.inner.config
    }

    /// Returns the PEM public key the emulator signs callbacks with, as served
    /// at `/callback_pub_key_v1.pem`.
    pub fn callback_public_key_pem(&self) -> &str {
        &self.inner.callback_key.public_pem
    }

    /// Builds the router for every bucket, path-style (`/<bucket>/<key>`) and
    /// virtual-hosted (`Host: <bucket>.<host>`), plus `/callback_pub_key_v1.pem`
    /// and, when enabled, the test hooks under `/_emulator/`.
    ///
    /// `base_url` is the emulator's own address, such as
    /// `http://127.0.0.1:9000` with no trailing slash; callbacks name
    /// `{base_url}/callback_pub_key_v1.pem` in `x-oss-pub-key-url`.
    ///
    /// Serve it with `into_make_service_with_connect_info::<SocketAddr>()`, as
    /// [`serve`] does, so that `${clientIp}` in callback bodies is filled in;
    /// without connection info it is empty.
    pub fn router(&self, base_url: &str) -> axum::Router {
        let key_url = Self::key_url(base_url);
        let state = AppState {
            inner: self.inner.clone(),
            key_url_header: base64::engine::general_purpose::STANDARD
                .encode(key_url)
                .into(),
        };
        routes::router(state)
    }

    /// The callback key URL for a base URL: `{base_url}/callback_pub_key_v1.pem`.
    pub fn key_url(base_url: &str) -> String {
        format!("{}/callback_pub_key_v1.pem", base_url.trim_end_matches('/'))
    }
}

/// Serves the emulator on `listener` until `shutdown` resolves, then waits for
/// requests in flight to finish.
///
/// # Errors
/// The I/O error that stopped the server.
pub async fn serve(
    emulator: Emulator,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let address = listener.local_addr()?;
    let router = emulator.router(&format!("http://{address}"));
    tracing::info!(%address, "emulator listening");
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await?;
    tracing::info!(%address, "emulator stopped");
    Ok(())
}
