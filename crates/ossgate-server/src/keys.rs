//! Callback public keys: which key a callback's `x-oss-pub-key-url` names.
//!
//! The URL is checked against the trust policy before any network I/O. OSS's
//! own key URLs resolve to the built-in key with no fetch. Keys pinned at
//! start resolve without a fetch too. Any other trusted URL is fetched once
//! with a 3 s timeout, no redirects and a 16 KiB cap, then cached per URL.
//! Concurrent callbacks naming the same URL share one fetch. Failures are not
//! cached, so a later callback tries again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ossgate_protocol::{CallbackPublicKey, KeyUrlPolicy, VerifyError};
use tokio::sync::{OnceCell, Semaphore};

use crate::metrics::Metrics;

/// How long a key fetch may take.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(3);

/// The largest key document accepted, in bytes.
pub const MAX_KEY_BYTES: usize = 16 * 1024;

/// Maximum number of URLs whose keys are cached. Keys of further URLs are fetched every time.
const MAX_CACHED_URLS: usize = 64;

/// Maximum number of key fetches running at once, across all URLs.
const MAX_CONCURRENT_FETCHES: usize = 4;

/// Resolves key URLs to public keys.
pub struct KeyResolver {
    policy: KeyUrlPolicy,
    pinned: HashMap<String, Arc<CallbackPublicKey>>,
    client: reqwest::Client,
    cache: Mutex<HashMap<String, Arc<OnceCell<Arc<CallbackPublicKey>>>>>,
    fetches: Semaphore,
    metrics: Arc<Metrics>,
}

impl KeyResolver {
    /// Creates a resolver trusting OSS's key host and the `extra_prefixes`.
    ///
    /// # Errors
    ///
    /// The HTTP client cannot be built.
    pub fn new(extra_prefixes: &[String], metrics: Arc<Metrics>) -> Result<Self, reqwest::Error> {
        let mut policy = KeyUrlPolicy::default();
        for prefix in extra_prefixes {
            policy = policy.with_extra_prefix(prefix.clone());
        }
        // NOTE: key fetches ignore HTTP proxy settings and go straight to the host.
        let client = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .connect_timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()?;
        Ok(Self {
            policy,
            pinned: HashMap::new(),
            client,
            cache: Mutex::new(HashMap::new()),
            fetches: Semaphore::new(MAX_CONCURRENT_FETCHES),
            metrics,
        })
    }

    /// Pins the key for a URL: a callback naming exactly `url` uses `key`
    /// without a fetch. The URL must still pass the trust policy.
    pub fn pin(&mut self, url: impl Into<String>, key: CallbackPublicKey) {
        self.pinned.insert(url.into(), Arc::new(key));
    }

    /// Checks the base64 `x-oss-pub-key-url` value and returns its key.
    ///
    /// # Errors
    ///
    /// The header is not base64 or names an untrusted URL, or the key cannot
    /// be fetched or parsed.
    pub async fn resolve(&self, header_value: &str) -> Result<Arc<CallbackPublicKey>, VerifyError> {
        let trusted = self.policy.check_header(header_value)?;
        if let Some(key) = trusted.builtin_key() {
            return Ok(Arc::new(key.clone()));
        }
        let url = trusted.url();
        if let Some(key) = self.pinned.get(url) {
            return Ok(Arc::clone(key));
        }
        // Keys on OSS's host are downloaded over https whatever scheme the
        // header names; the cache is keyed by the download URL.
        match trusted.fetch_url() {
            Some(download_url) => self.cached_fetch(&download_url).await,
            None => Err(VerifyError::KeyUnavailable {
                url: url.to_owned(),
                reason: "the URL has neither a built-in key nor a download URL".to_owned(),
            }),
        }
    }

    async fn cached_fetch(&self, url: &str) -> Result<Arc<CallbackPublicKey>, VerifyError> {
        let cell = {
            let mut cache = self
                .cache
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            match cache.get(url) {
                Some(cell) => Some(Arc::clone(cell)),
                None if cache.len() < MAX_CACHED_URLS => {
                    let cell = Arc::new(OnceCell::new());
                    cache.insert(url.to_owned(), Arc::clone(&cell));
                    Some(cell)
                }
                None => None,
            }
        };
        match cell {
            Some(cell) => cell
                .get_or_try_init(|| self.fetch(url))
                .await
                .map(Arc::clone),
            None => self.fetch(url).await,
        }
    }

    async fn fetch(&self, url: &str) -> Result<Arc<CallbackPublicKey>, VerifyError> {
        let _permit = self
            .fetches
            .acquire()
            .await
            .map_err(|_| unavailable(url, "shutting down"))?;
        let result = self.fetch_pem(url).await.and_then(|pem| {
            let text = std::str::from_utf8(&pem).map_err(|_| {
                VerifyError::BadKey("the key document is not UTF-8 text".to_owned())
            })?;
            CallbackPublicKey::from_pem(text)
        });
        match &result {
            Ok(_) => {
                self.metrics.key_fetch("ok");
                tracing::info!(url, "fetched a callback public key");
            }
            Err(error) => {
                self.metrics.key_fetch("error");
                tracing::warn!(url, %error, "callback public key fetch failed");
            }
        }
        result.map(Arc::new)
    }

    async fn fetch_pem(&self, url: &str) -> Result<Vec<u8>, VerifyError> {
        let mut response = self
            .client
            .get(url)
            .send()
            .await
            .map_err(|error| unavailable(url, &error.to_string()))?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(unavailable(url, &format!("status {}", response.status())));
        }
        if response
            .content_length()
            .is_some_and(|length| length > MAX_KEY_BYTES as u64)
        {
            return Err(unavailable(url, "the document is larger than 16 KiB"));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|error| unavailable(url, &error.to_string()))?
        {
            if body.len() + chunk.len() > MAX_KEY_BYTES {
                return Err(unavailable(url, "the document is larger than 16 KiB"));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

fn unavailable(url: &str, reason: &str) -> VerifyError {
    VerifyError::KeyUnavailable {
        url: url.to_owned(),
        reason: reason.to_owned(),
    }
}
