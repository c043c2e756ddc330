//! OSS4-HMAC-SHA256: the credential scope, the signing-key chain and the
//! canonical request shared by form, header and query signing.
//!
//! Signing key: `k1 = HMAC-SHA256("aliyun_v4" + secret, yyyymmdd)`,
//! `k2 = HMAC(k1, region)`, `k3 = HMAC(k2, "oss")`, `k4 = HMAC(k3, "aliyun_v4_request")`.

use chrono::{DateTime, NaiveDate, Utc};

use crate::secret::AccessKeySecret;

pub const ALGORITHM: &str = "OSS4-HMAC-SHA256";

/// Strips a leading `oss-` from a region id: `oss-cn-hangzhou` -> `cn-hangzhou`.
pub fn normalize_region(region: &str) -> &str {
    region.strip_prefix("oss-").unwrap_or(region)
}

/// Formats an instant as `x-oss-date`: `YYYYMMDDTHHMMSSZ`.
pub fn format_x_oss_date(instant: DateTime<Utc>) -> String {
    instant.format("%Y%m%dT%H%M%SZ").to_string()
}

/// Parses `x-oss-date` (`YYYYMMDDTHHMMSSZ`).
pub fn parse_x_oss_date(value: &str) -> Option<DateTime<Utc>> {
    let _ = value;
    todo!()
}

/// A V4 credential: `<AccessKeyId>/<yyyymmdd>/<region>/oss/aliyun_v4_request`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credential {
    pub access_key_id: String,
    pub date: NaiveDate,
    pub region: String,
}

/// An invalid `x-oss-credential` value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid x-oss-credential {value:?}: {reason}")]
pub struct CredentialError {
    pub value: String,
    pub reason: &'static str,
}

impl Credential {
    /// Builds the credential for `instant`'s UTC date; the region is normalised.
    pub fn new(access_key_id: &str, instant: DateTime<Utc>, region: &str) -> Self {
        let _ = (access_key_id, instant, region);
        todo!()
    }

    /// The `<yyyymmdd>/<region>/oss/aliyun_v4_request` part.
    pub fn scope(&self) -> String {
        todo!()
    }

    pub fn parse(value: &str) -> Result<Self, CredentialError> {
        let _ = value;
        todo!()
    }
}

impl std::fmt::Display for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let _ = f;
        todo!()
    }
}

/// A derived V4 signing key. Zeroed on drop; `Debug` is redacted.
#[derive(Clone)]
pub struct SigningKey(zeroize::Zeroizing<[u8; 32]>);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

impl SigningKey {
    /// Derives the key for a secret, a UTC date and a region (normalised).
    pub fn derive(secret: &AccessKeySecret, date: NaiveDate, region: &str) -> Self {
        let _ = (secret, date, region);
        todo!()
    }

    /// Returns lowercase hex HMAC-SHA256 of `string_to_sign` under this key.
    pub fn sign(&self, string_to_sign: &[u8]) -> String {
        let _ = string_to_sign;
        todo!()
    }

    /// Exposes the raw key bytes, for comparing with published vectors.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// Caches signing keys per (secret, date, region), so that signing many forms
/// in one day derives the key once. Safe to share between threads.
#[derive(Debug, Default)]
pub struct SigningKeyCache {
    _private: (),
}

impl SigningKeyCache {
    pub fn new() -> Self {
        todo!()
    }

    pub fn get(&self, secret: &AccessKeySecret, date: NaiveDate, region: &str) -> SigningKey {
        let _ = (secret, date, region);
        todo!()
    }
}

/// A request to sign with V4 headers or query parameters.
#[derive(Clone, Debug)]
pub struct CanonicalRequest<'a> {
    pub method: &'a str,
    /// `/<bucket>/<key>`, not yet URI-encoded.
    pub resource: &'a str,
    /// Query parameters, not yet encoded. Sorted when the request is built.
    pub query: Vec<(String, String)>,
    /// Headers to sign; names are lowercased and sorted when the request is built.
    pub headers: Vec<(String, String)>,
    /// Lowercase names of additional headers to sign (`x-oss-additional-headers`).
    pub additional_headers: Vec<String>,
    /// The hashed payload, `UNSIGNED-PAYLOAD` in practice.
    pub payload_hash: &'a str,
}

impl CanonicalRequest<'_> {
    /// Returns the canonical request text.
    pub fn to_canonical_string(&self) -> String {
        todo!()
    }

    /// Returns `OSS4-HMAC-SHA256\n<x-oss-date>\n<scope>\n<hex sha256(canonical)>`.
    pub fn string_to_sign(&self, x_oss_date: &str, scope: &str) -> String {
        let _ = (x_oss_date, scope);
        todo!()
    }
}
