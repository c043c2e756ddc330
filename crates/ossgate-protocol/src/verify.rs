//! Upload-callback verification and signing.
//!
//! OSS signs `url_decode(path) [+ "?" + raw_query] + "\n" + body` with
//! RSASSA-PKCS1-v1_5 over MD5, and names the key in `x-oss-pub-key-url`
//! (base64 of a URL). Only path, query and body are signed: no header and no
//! timestamp, so replay protection is the application's job.

use rsa::{RsaPrivateKey, RsaPublicKey};

/// Why a callback was rejected. One variant per cause.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the {0} header is missing")]
    MissingHeader(&'static str),
    #[error("the {header} header is not valid base64")]
    BadBase64 { header: &'static str },
    #[error("untrusted public key URL {url:?}: {reason}")]
    UntrustedKeyUrl {
        url: String,
        reason: UntrustedReason,
    },
    #[error("the public key at {url:?} is unavailable: {reason}")]
    KeyUnavailable { url: String, reason: String },
    #[error("invalid public key: {0}")]
    BadKey(String),
    #[error("invalid percent-escape in the callback path {0:?}")]
    InvalidPathEscape(String),
    #[error("the callback signature does not match")]
    SignatureMismatch,
}

/// Why a key URL is not trusted. Each forgery class has its own variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UntrustedReason {
    #[error("it is not a valid absolute URL")]
    NotAUrl,
    #[error("only http and https key URLs are accepted")]
    Scheme,
    #[error("a key URL must not carry user information")]
    UserInfo,
    #[error("a key URL must not name a port")]
    ExplicitPort,
    #[error("the host is not gosspublic.alicdn.com and no trusted prefix matches")]
    ForeignHost,
}

/// An RSA public key for callbacks, 512 to 4096 bits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallbackPublicKey(RsaPublicKey);

impl CallbackPublicKey {
    /// Parses PEM: `BEGIN PUBLIC KEY` (SubjectPublicKeyInfo) or `BEGIN RSA
    /// PUBLIC KEY` (PKCS#1), with or without a trailing newline.
    pub fn from_pem(pem: &str) -> Result<Self, VerifyError> {
        let _ = pem;
        todo!()
    }

    /// The built-in OSS key.
    pub fn oss() -> &'static Self {
        todo!()
    }

    pub fn bits(&self) -> usize {
        todo!()
    }

    pub fn as_rsa(&self) -> &RsaPublicKey {
        &self.0
    }
}

/// Returns the string to sign for a raw request target (`/path` or
/// `/path?query`, as on the request line) and a raw body: the path
/// percent-decoded once (`+` stays `+`; an invalid escape is an error), then
/// `?` and the raw query when the query is non-empty, then `\n`, then the body.
pub fn string_to_sign(request_target: &str, body: &[u8]) -> Result<Vec<u8>, VerifyError> {
    let _ = (request_target, body);
    todo!()
}

/// Verifies a callback: `authorization` is the base64 header value.
pub fn verify(
    request_target: &str,
    body: &[u8],
    authorization: &str,
    key: &CallbackPublicKey,
) -> Result<(), VerifyError> {
    let _ = (request_target, body, authorization, key);
    todo!()
}

/// Returns the base64 `authorization` value for a target and body: what OSS
/// (or the emulator) sends.
pub fn sign(request_target: &str, body: &[u8], key: &RsaPrivateKey) -> Result<String, VerifyError> {
    let _ = (request_target, body, key);
    todo!()
}

/// Which key URLs are trusted, checked before any network I/O.
///
/// By default only `http(s)://gosspublic.alicdn.com/...` with no userinfo and
/// no explicit port. Extra trusted prefixes (for a local emulator) are matched
/// as plain string prefixes of the decoded URL.
#[derive(Clone, Debug, Default)]
pub struct KeyUrlPolicy {
    pub extra_prefixes: Vec<String>,
}

/// A key URL that passed the policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrustedKeyUrl {
    /// One of OSS's URLs for the built-in key: no fetch needed.
    Oss(String),
    /// Another URL on gosspublic.alicdn.com: must be fetched.
    OssHost(String),
    /// A URL under a configured extra prefix: must be fetched.
    Extra(String),
}

impl TrustedKeyUrl {
    pub fn url(&self) -> &str {
        match self {
            Self::Oss(url) | Self::OssHost(url) | Self::Extra(url) => url,
        }
    }

    /// The built-in key when this is one of OSS's key URLs.
    pub fn builtin_key(&self) -> Option<&'static CallbackPublicKey> {
        match self {
            Self::Oss(_) => Some(CallbackPublicKey::oss()),
            _ => None,
        }
    }
}

impl KeyUrlPolicy {
    pub fn with_extra_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.extra_prefixes.push(prefix.into());
        self
    }

    /// Decodes the base64 `x-oss-pub-key-url` value and applies the policy.
    pub fn check_header(&self, header_value: &str) -> Result<TrustedKeyUrl, VerifyError> {
        let _ = header_value;
        todo!()
    }

    /// Applies the policy to a decoded URL.
    pub fn check_url(&self, url: &str) -> Result<TrustedKeyUrl, VerifyError> {
        let _ = url;
        todo!()
    }
}
