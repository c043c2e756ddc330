//! OSS4-HMAC-SHA256: the credential scope, the signing-key chain and the
//! canonical request shared by form, header and query signing.
//!
//! Signing key: `k1 = HMAC-SHA256("aliyun_v4" + secret, yyyymmdd)`,
//! `k2 = HMAC(k1, region)`, `k3 = HMAC(k2, "oss")`, `k4 = HMAC(k3, "aliyun_v4_request")`.
//! A form signature is `hex(HMAC(k4, policy_base64))`; a header or query
//! signature is `hex(HMAC(k4, string_to_sign))` over a canonical request.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Mutex;

use chrono::{DateTime, Datelike as _, NaiveDate, NaiveDateTime, Timelike as _, Utc};
use hmac::{Hmac, Mac};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::secret::AccessKeySecret;

pub const ALGORITHM: &str = "OSS4-HMAC-SHA256";

/// The last element of every V4 credential scope.
pub const SCOPE_TERMINATOR: &str = "aliyun_v4_request";

/// The service name in the credential scope.
pub const SERVICE: &str = "oss";

/// The payload hash that presigned URLs and most header-signed requests use.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

type HmacSha256 = Hmac<Sha256>;

/// Strips a leading `oss-` from a region id: `oss-cn-hangzhou` -> `cn-hangzhou`.
pub fn normalize_region(region: &str) -> &str {
    region.strip_prefix("oss-").unwrap_or(region)
}

/// An invalid region id.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not a region id: use lowercase ASCII letters, digits and hyphens, such as \
     cn-hangzhou or oss-cn-hangzhou"
)]
pub struct RegionError(pub String);

/// Normalises a region id with [`normalize_region`] and checks it: what is
/// left must be lowercase ASCII letters, digits and hyphens, not empty and
/// not starting with a hyphen, so that it is one part of a credential scope.
///
/// # Errors
///
/// A [`RegionError`] naming the region as given.
pub fn parse_region(region: &str) -> Result<&str, RegionError> {
    let normalized = normalize_region(region);
    let valid = !normalized.is_empty()
        && !normalized.starts_with('-')
        && normalized
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-');
    if valid {
        Ok(normalized)
    } else {
        Err(RegionError(region.to_owned()))
    }
}

/// Formats an instant as `x-oss-date`: `YYYYMMDDTHHMMSSZ`.
///
/// Years 0 to 9999 are written field by field, because chrono's strftime
/// parser showed up in the token endpoint's profile. Other years, and a leap
/// second, go through chrono's strftime so that the output stays the same.
pub fn format_x_oss_date(instant: DateTime<Utc>) -> String {
    let leap_second = instant.nanosecond() >= 1_000_000_000;
    if leap_second || !(0..=9999).contains(&instant.year()) {
        return instant.format("%Y%m%dT%H%M%SZ").to_string();
    }
    let mut text = String::with_capacity(16);
    let _ = write!(
        text,
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        instant.year(),
        instant.month(),
        instant.day(),
        instant.hour(),
        instant.minute(),
        instant.second()
    );
    text
}

/// Parses `x-oss-date` (`YYYYMMDDTHHMMSSZ`). A leap second (`60`) is
/// rejected, because [`format_x_oss_date`] can never write one.
pub fn parse_x_oss_date(value: &str) -> Option<DateTime<Utc>> {
    if value.len() != 16 || !value.is_ascii() {
        return None;
    }
    let naive = NaiveDateTime::parse_from_str(value, "%Y%m%dT%H%M%SZ").ok()?;

    // chrono stores second 60 as nanoseconds past 999_999_999.
    if naive.nanosecond() >= 1_000_000_000 {
        return None;
    }
    Some(naive.and_utc())
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
        Self {
            access_key_id: access_key_id.to_owned(),
            date: instant.date_naive(),
            region: normalize_region(region).to_owned(),
        }
    }

    /// Returns the `<yyyymmdd>/<region>/oss/aliyun_v4_request` part.
    pub fn scope(&self) -> String {
        format!(
            "{}/{}/{SERVICE}/{SCOPE_TERMINATOR}",
            self.date.format("%Y%m%d"),
            self.region
        )
    }

    /// Parses `<AccessKeyId>/<yyyymmdd>/<region>/oss/aliyun_v4_request`. The
    /// region is taken as written; a region with the `oss-` prefix is an error
    /// because OSS never signs with one.
    ///
    /// # Errors
    ///
    /// A [`CredentialError`] naming the value and the part that is wrong.
    pub fn parse(value: &str) -> Result<Self, CredentialError> {
        let error = |reason| CredentialError {
            value: value.to_owned(),
            reason,
        };

        let parts: Vec<&str> = value.split('/').collect();
        let [access_key_id, date, region, service, terminator] = parts[..] else {
            return Err(error(
                "expected 5 parts: <AccessKeyId>/<yyyymmdd>/<region>/oss/aliyun_v4_request",
            ));
        };
        if access_key_id.is_empty() {
            return Err(error("the AccessKeyId is empty"));
        }
        if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
            return Err(error("the date must be written yyyymmdd"));
        }
        let date = NaiveDate::parse_from_str(date, "%Y%m%d")
            .map_err(|_| error("the date is not a calendar date"))?;
        if region.is_empty() {
            return Err(error("the region is empty"));
        }
        if region.starts_with("oss-") {
            return Err(error(
                "the region must be written without the oss- prefix, such as cn-hangzhou",
            ));
        }
        if service != SERVICE {
            return Err(error("the service must be oss"));
        }
        if terminator != SCOPE_TERMINATOR {
            return Err(error("the credential must end with aliyun_v4_request"));
        }

        Ok(Self {
            access_key_id: access_key_id.to_owned(),
            date,
            region: region.to_owned(),
        })
    }
}

impl std::fmt::Display for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.access_key_id, self.scope())
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
        let mut initial = Zeroizing::new(String::with_capacity(9 + secret.expose().len()));
        initial.push_str("aliyun_v4");
        initial.push_str(secret.expose());

        let date = date.format("%Y%m%d").to_string();
        let k1 = hmac_sha256(initial.as_bytes(), date.as_bytes());
        let k2 = hmac_sha256(&k1[..], normalize_region(region).as_bytes());
        let k3 = hmac_sha256(&k2[..], SERVICE.as_bytes());
        let k4 = hmac_sha256(&k3[..], SCOPE_TERMINATOR.as_bytes());
        Self(k4)
    }

    /// Returns lowercase hex HMAC-SHA256 of `string_to_sign` under this key.
    pub fn sign(&self, string_to_sign: &[u8]) -> String {
        hex::encode(&hmac_sha256(&self.0[..], string_to_sign)[..])
    }

    /// Returns the raw HMAC-SHA256 of `string_to_sign` under this key.
    pub fn sign_raw(&self, string_to_sign: &[u8]) -> [u8; 32] {
        *hmac_sha256(&self.0[..], string_to_sign)
    }

    /// Exposes the raw key bytes, for comparing with published vectors.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> Zeroizing<[u8; 32]> {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(message);
    Zeroizing::new(mac.finalize().into_bytes().into())
}

/// The maximum number of signing keys a [`SigningKeyCache`] stores.
/// One key serves one secret, region and day, so a server signing for a few
/// regions needs a handful; the bound only stops unbounded growth.
const SIGNING_KEY_CACHE_CAPACITY: usize = 64;

/// The cache key: the SHA-256 of the secret (so the map never contains
/// the secret itself), the date and the normalised region.
type CacheKey = ([u8; 32], NaiveDate, String);

/// Caches signing keys per (secret, date, region), so that signing many forms
/// in one day derives the key once. Safe to share between threads.
///
/// Entries are keyed by the SHA-256 of the secret, not the secret. The cache
/// stores at most 64 keys. When it is full, keys for dates before the
/// requested one are dropped, and if that frees nothing the cache is cleared.
#[derive(Default)]
pub struct SigningKeyCache {
    keys: Mutex<HashMap<CacheKey, SigningKey>>,
}

/// Shows only the number of keys: even the secret hashes stay out of logs.
impl std::fmt::Debug for SigningKeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyCache")
            .field("len", &self.len())
            .finish()
    }
}

impl SigningKeyCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// Returns the signing key for a secret, a UTC date and a region,
    /// deriving and storing it on first use.
    pub fn get(&self, secret: &AccessKeySecret, date: NaiveDate, region: &str) -> SigningKey {
        let secret_hash: [u8; 32] = Sha256::digest(secret.expose().as_bytes()).into();
        let cache_key = (secret_hash, date, normalize_region(region).to_owned());

        if let Some(key) = self.lock().get(&cache_key) {
            return key.clone();
        }

        // Derive outside the lock: two threads may both derive the same key
        // once, which is cheaper than making every reader wait.
        let key = SigningKey::derive(secret, date, region);
        let mut keys = self.lock();
        if keys.len() >= SIGNING_KEY_CACHE_CAPACITY {
            keys.retain(|(_, cached_date, _), _| *cached_date >= date);
            if keys.len() >= SIGNING_KEY_CACHE_CAPACITY {
                keys.clear();
            }
        }
        keys.insert(cache_key, key.clone());
        key
    }

    /// Returns the number of keys stored.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<CacheKey, SigningKey>> {
        // A panic while holding the lock cannot leave the map inconsistent
        // (each operation is a single insert, retain or clear), so a poisoned
        // lock is still usable.
        self.keys
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Characters OSS V4 percent-encodes in a query name or value: everything but
/// the RFC 3986 unreserved characters `A-Z a-z 0-9 - _ . ~`.
const QUERY_ENCODE_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Characters OSS V4 percent-encodes in a path: as in a query, but `/` is kept.
const PATH_ENCODE_SET: &AsciiSet = &QUERY_ENCODE_SET.remove(b'/');

/// Percent-encodes a resource path the way OSS V4 canonicalises it: unreserved
/// characters and `/` stay, every other byte of the UTF-8 text becomes `%XX`
/// with uppercase hex.
pub fn encode_path(path: &str) -> String {
    utf8_percent_encode(path, PATH_ENCODE_SET).to_string()
}

/// Percent-encodes a query name or value for the V4 canonical query: only
/// unreserved characters stay.
pub fn encode_query_component(component: &str) -> String {
    utf8_percent_encode(component, QUERY_ENCODE_SET).to_string()
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
    /// Returns the canonical request text:
    ///
    /// ```text
    /// METHOD
    /// /bucket/key            (percent-encoded, `/` kept)
    /// a=1&b                  (encoded, sorted; an empty value drops the `=`)
    /// name:value             (one line per header, names lowercase, sorted)
    ///                        (blank line ending the headers)
    /// host;range             (additional header names, sorted, `;`-joined)
    /// UNSIGNED-PAYLOAD
    /// ```
    ///
    /// Header values are trimmed of surrounding spaces and tabs.
    pub fn to_canonical_string(&self) -> String {
        let mut out = String::with_capacity(256);
        out.push_str(self.method);
        out.push('\n');
        out.push_str(&encode_path(self.resource));
        out.push('\n');
        out.push_str(&self.canonical_query());
        out.push('\n');
        for (name, value) in self.canonical_headers() {
            let _ = writeln!(out, "{name}:{value}");
        }
        out.push('\n');
        out.push_str(&self.canonical_additional_headers());
        out.push('\n');
        out.push_str(self.payload_hash);
        out
    }

    /// Returns `OSS4-HMAC-SHA256\n<x-oss-date>\n<scope>\n<hex sha256(canonical)>`.
    pub fn string_to_sign(&self, x_oss_date: &str, scope: &str) -> String {
        let digest = Sha256::digest(self.to_canonical_string().as_bytes());
        format!(
            "{ALGORITHM}\n{x_oss_date}\n{scope}\n{}",
            hex::encode(digest)
        )
    }

    /// Signs the request: the lowercase hex signature of
    /// [`CanonicalRequest::string_to_sign`] under `key`.
    pub fn sign(&self, key: &SigningKey, x_oss_date: &str, scope: &str) -> String {
        key.sign(self.string_to_sign(x_oss_date, scope).as_bytes())
    }

    fn canonical_query(&self) -> String {
        let mut encoded: Vec<(String, String)> = self
            .query
            .iter()
            .map(|(name, value)| (encode_query_component(name), encode_query_component(value)))
            .collect();
        encoded.sort();

        let mut out = String::new();
        for (index, (name, value)) in encoded.iter().enumerate() {
            if index > 0 {
                out.push('&');
            }
            out.push_str(name);
            if !value.is_empty() {
                out.push('=');
                out.push_str(value);
            }
        }
        out
    }

    fn canonical_headers(&self) -> Vec<(String, &str)> {
        let mut headers: Vec<(String, &str)> = self
            .headers
            .iter()
            .map(|(name, value)| {
                (
                    name.to_ascii_lowercase(),
                    value.trim_matches(|c| c == ' ' || c == '\t'),
                )
            })
            .collect();
        headers.sort();
        headers
    }

    fn canonical_additional_headers(&self) -> String {
        let mut names: Vec<String> = self
            .additional_headers
            .iter()
            .map(|name| name.to_ascii_lowercase())
            .collect();
        names.sort();
        names.dedup();
        names.join(";")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_encoding_keeps_slash_and_unreserved() {
        assert_eq!(encode_path("/b/a-b_c.d~e/f g+h"), "/b/a-b_c.d~e/f%20g%2Bh");
    }

    #[test]
    fn query_encoding_escapes_slash() {
        assert_eq!(encode_query_component("a/b c"), "a%2Fb%20c");
    }

    #[test]
    fn x_oss_date_matches_strftime() {
        let instants = [
            "0000-01-01T00:00:00Z",
            "0999-12-31T23:59:59.999Z",
            "2026-03-05T07:08:09.5Z",
            "9999-12-31T23:59:59Z",
            "+10000-01-01T00:00:00Z",
            "-0001-06-15T12:00:00Z",
        ];
        for text in instants {
            let instant: DateTime<Utc> = text.parse().unwrap();
            let expected = instant.format("%Y%m%dT%H%M%SZ").to_string();
            assert_eq!(format_x_oss_date(instant), expected, "{text}");
        }

        let leap = NaiveDate::from_ymd_opt(2016, 12, 31)
            .unwrap()
            .and_hms_milli_opt(23, 59, 59, 1_500)
            .unwrap()
            .and_utc();
        assert_eq!(format_x_oss_date(leap), "20161231T235960Z");
    }

    #[test]
    fn x_oss_date_round_trips() {
        let instant = parse_x_oss_date("20261204T083000Z").unwrap();
        assert_eq!(format_x_oss_date(instant), "20261204T083000Z");
        assert!(parse_x_oss_date("2026-12-04T08:30:00Z").is_none());
    }
}
