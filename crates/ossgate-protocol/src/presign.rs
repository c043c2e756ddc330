//! Presigned GET URLs, V1 (`OSSAccessKeyId`, `Expires`, `Signature`) and V4
//! (`x-oss-signature-version`, `x-oss-credential`, `x-oss-date`, `x-oss-expires`,
//! `x-oss-signature`), and their verification.
//!
//! The V4 canonical request is the one header signing uses (see
//! [`crate::v4::CanonicalRequest`]), with the query parameters in place of
//! signed headers.

use base64::Engine as _;
use chrono::{DateTime, TimeDelta, Utc};
use subtle::ConstantTimeEq;

use crate::form::{hmac_sha1, SignatureVersion};
use crate::secret::{AccessKeySecret, Credentials};
use crate::v4::{self, CanonicalRequest, Credential, SigningKey};

/// Where an object is, for building a URL: `scheme://host` and the path style.
#[derive(Clone, Debug)]
pub struct ObjectLocation<'a> {
    /// Base URL of the bucket endpoint with no trailing slash, e.g.
    /// `https://examplebucket.oss-cn-hangzhou.aliyuncs.com` (virtual-hosted) or
    /// `http://127.0.0.1:9000/examplebucket` (path-style).
    pub bucket_url: &'a str,
    pub bucket: &'a str,
    /// The object key, not encoded.
    pub key: &'a str,
}

/// Builds a presigned GET URL valid from `now` for `expires_in_secs` seconds.
/// `region` is used by V4 only.
///
/// V1 adds `OSSAccessKeyId`, `Expires` (Unix seconds) and `Signature`, the
/// base64 HMAC-SHA1 of `GET\n\n\n<Expires>\n/<bucket>/<key>`. With STS
/// credentials the signed resource ends in `?security-token=<token>`, and the
/// token is sent as the `security-token` parameter. V4 adds `x-oss-signature-version`,
/// `x-oss-credential`, `x-oss-date`, `x-oss-expires`, `x-oss-security-token`
/// for STS, and last `x-oss-signature`, the hex
/// signature of a canonical request whose query is all the other parameters,
/// with no signed headers and `UNSIGNED-PAYLOAD`.
///
/// The key is percent-encoded in the path with `/` kept.
///
/// `expires_in_secs` is not checked here. For V4 it must be 1 to
/// [`MAX_V4_EXPIRES_SECS`] (7 days), because OSS and [`verify_presigned`]
/// reject a URL with any other `x-oss-expires`.
pub fn presign_get(
    credentials: &Credentials,
    version: SignatureVersion,
    region: &str,
    location: &ObjectLocation<'_>,
    now: DateTime<Utc>,
    expires_in_secs: u64,
) -> String {
    let query = match version {
        SignatureVersion::V1 => presign_query_v1(credentials, location, now, expires_in_secs),
        SignatureVersion::V4 => {
            presign_query_v4(credentials, region, location, now, expires_in_secs)
        }
    };

    let mut url = format!(
        "{}/{}?",
        location.bucket_url.trim_end_matches('/'),
        v4::encode_path(location.key)
    );
    for (index, (name, value)) in query.iter().enumerate() {
        if index > 0 {
            url.push('&');
        }
        url.push_str(name);
        url.push('=');
        url.push_str(&v4::encode_query_component(value));
    }
    url
}

/// The maximum validity OSS allows for a V4 presigned URL: 7 days.
pub const MAX_V4_EXPIRES_SECS: u64 = 7 * 24 * 3600;

/// How far in the future an `x-oss-date` may lie, for clock skew: 15 minutes.
const MAX_CLOCK_SKEW_SECS: i64 = 15 * 60;

fn presign_query_v1(
    credentials: &Credentials,
    location: &ObjectLocation<'_>,
    now: DateTime<Utc>,
    expires_in_secs: u64,
) -> Vec<(&'static str, String)> {
    let expires_in = i64::try_from(expires_in_secs).unwrap_or(i64::MAX);
    let expires = now.timestamp().saturating_add(expires_in).to_string();
    let token = credentials.security_token.as_ref().map(|t| t.expose());
    let string_to_sign = v1_string_to_sign("GET", &expires, location.bucket, location.key, token);
    let signature = base64::engine::general_purpose::STANDARD.encode(hmac_sha1(
        &credentials.access_key_secret,
        string_to_sign.as_bytes(),
    ));

    let mut query = vec![
        (V1_ACCESS_KEY_ID, credentials.access_key_id.clone()),
        (V1_EXPIRES, expires),
        (V1_SIGNATURE, signature),
    ];
    if let Some(token) = token {
        query.push((V1_SECURITY_TOKEN, token.to_owned()));
    }
    query
}

fn presign_query_v4(
    credentials: &Credentials,
    region: &str,
    location: &ObjectLocation<'_>,
    now: DateTime<Utc>,
    expires_in_secs: u64,
) -> Vec<(&'static str, String)> {
    let credential = Credential::new(&credentials.access_key_id, now, region);
    let x_oss_date = v4::format_x_oss_date(now);

    let mut query = vec![
        (V4_SIGNATURE_VERSION, v4::ALGORITHM.to_owned()),
        (V4_CREDENTIAL, credential.to_string()),
        (V4_DATE, x_oss_date.clone()),
        (V4_EXPIRES, expires_in_secs.to_string()),
    ];
    if let Some(token) = &credentials.security_token {
        query.push((V4_SECURITY_TOKEN, token.expose().to_owned()));
    }

    let resource = format!("/{}/{}", location.bucket, location.key);
    let request = CanonicalRequest {
        method: "GET",
        resource: &resource,
        query: query
            .iter()
            .map(|(name, value)| ((*name).to_owned(), value.clone()))
            .collect(),
        headers: Vec::new(),
        additional_headers: Vec::new(),
        payload_hash: v4::UNSIGNED_PAYLOAD,
    };
    let key = SigningKey::derive(&credentials.access_key_secret, credential.date, region);
    let signature = request.sign(&key, &x_oss_date, &credential.scope());

    query.push((V4_SIGNATURE, signature));
    query
}

/// Returns the V1 string to sign for a request with no headers:
/// `METHOD\n\n\n<Expires>\n/<bucket>/<key>[?security-token=<token>]`.
fn v1_string_to_sign(
    method: &str,
    expires: &str,
    bucket: &str,
    key: &str,
    security_token: Option<&str>,
) -> String {
    let mut text = format!("{method}\n\n\n{expires}\n/{bucket}/{key}");
    if let Some(token) = security_token {
        text.push_str("?security-token=");
        text.push_str(token);
    }
    text
}

const V1_ACCESS_KEY_ID: &str = "OSSAccessKeyId";
const V1_EXPIRES: &str = "Expires";
const V1_SIGNATURE: &str = "Signature";
const V1_SECURITY_TOKEN: &str = "security-token";
const V4_SIGNATURE_VERSION: &str = "x-oss-signature-version";
const V4_CREDENTIAL: &str = "x-oss-credential";
const V4_DATE: &str = "x-oss-date";
const V4_EXPIRES: &str = "x-oss-expires";
const V4_SECURITY_TOKEN: &str = "x-oss-security-token";
const V4_SIGNATURE: &str = "x-oss-signature";

/// Why a presigned URL was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PresignError {
    #[error("the URL is not presigned: {0} is missing")]
    MissingParameter(&'static str),
    #[error("invalid {name}: {value:?}")]
    InvalidParameter { name: &'static str, value: String },
    #[error("the URL expired at {0}")]
    Expired(DateTime<Utc>),
    #[error("the AccessKeyId {0:?} does not exist")]
    UnknownAccessKeyId(String),
    #[error("the security token is missing or does not match the AccessKeyId")]
    InvalidSecurityToken,
    #[error("the request signature we calculated does not match the signature you provided")]
    SignatureDoesNotMatch,
}

/// A presigned GET request as received, with its query already split into
/// decoded pairs.
#[derive(Clone, Debug)]
pub struct PresignedRequest<'a> {
    pub method: &'a str,
    pub bucket: &'a str,
    pub key: &'a str,
    pub query: &'a [(String, String)],
}

/// What the verifier needs to know about an AccessKeyId.
pub struct KnownKey {
    pub secret: AccessKeySecret,
    /// The token an STS key must present; `None` for long-term keys.
    pub security_token: Option<String>,
}

/// Verifies a presigned V1 or V4 request at `now`. `lookup` returns the key for
/// an AccessKeyId, or `None` when it is unknown. Returns the AccessKeyId.
///
/// A request with `x-oss-signature-version` or `x-oss-signature` is V4, one
/// with `OSSAccessKeyId` or `Signature` is V1. The checks run in this order:
/// parameters present and well-formed, expiry, the AccessKeyId, the security
/// token (required for STS keys, rejected for long-term ones), and last the
/// signature, compared in constant time. For V4 the credential must name
/// `region` and the day of `x-oss-date`, `x-oss-expires` is at most 7 days,
/// and `x-oss-date` may be at most 15 minutes ahead of `now`.
///
/// # Errors
///
/// The first [`PresignError`] found.
pub fn verify_presigned(
    request: &PresignedRequest<'_>,
    region: &str,
    now: DateTime<Utc>,
    lookup: impl Fn(&str) -> Option<KnownKey>,
) -> Result<String, PresignError> {
    let has = |name: &str| query_value(request.query, name).is_some();
    if has(V4_SIGNATURE_VERSION) || has(V4_SIGNATURE) {
        verify_v4(request, region, now, lookup)
    } else if has(V1_ACCESS_KEY_ID) || has(V1_SIGNATURE) {
        verify_v1(request, now, lookup)
    } else {
        Err(PresignError::MissingParameter(V1_SIGNATURE))
    }
}

fn verify_v1(
    request: &PresignedRequest<'_>,
    now: DateTime<Utc>,
    lookup: impl Fn(&str) -> Option<KnownKey>,
) -> Result<String, PresignError> {
    let access_key_id = required(request.query, V1_ACCESS_KEY_ID)?;
    let expires_text = required(request.query, V1_EXPIRES)?;
    let signature = required(request.query, V1_SIGNATURE)?;
    let token = query_value(request.query, V1_SECURITY_TOKEN);

    let expires = expires_text
        .parse::<i64>()
        .ok()
        .and_then(|seconds| DateTime::from_timestamp(seconds, 0))
        .ok_or_else(|| invalid(V1_EXPIRES, expires_text))?;
    if now > expires {
        return Err(PresignError::Expired(expires));
    }

    let known = lookup(access_key_id)
        .ok_or_else(|| PresignError::UnknownAccessKeyId(access_key_id.to_owned()))?;
    check_security_token(known.security_token.as_deref(), token)?;

    let string_to_sign = v1_string_to_sign(
        request.method,
        expires_text,
        request.bucket,
        request.key,
        token,
    );
    let expected = hmac_sha1(&known.secret, string_to_sign.as_bytes());
    let provided = base64::engine::general_purpose::STANDARD
        .decode(signature)
        .map_err(|_| PresignError::SignatureDoesNotMatch)?;
    if bool::from(expected.as_slice().ct_eq(&provided)) {
        Ok(access_key_id.to_owned())
    } else {
        Err(PresignError::SignatureDoesNotMatch)
    }
}

fn verify_v4(
    request: &PresignedRequest<'_>,
    region: &str,
    now: DateTime<Utc>,
    lookup: impl Fn(&str) -> Option<KnownKey>,
) -> Result<String, PresignError> {
    let version = required(request.query, V4_SIGNATURE_VERSION)?;
    let credential_text = required(request.query, V4_CREDENTIAL)?;
    let date_text = required(request.query, V4_DATE)?;
    let expires_text = required(request.query, V4_EXPIRES)?;
    let signature = required(request.query, V4_SIGNATURE)?;
    let token = query_value(request.query, V4_SECURITY_TOKEN);

    if version != v4::ALGORITHM {
        return Err(invalid(V4_SIGNATURE_VERSION, version));
    }
    let credential =
        Credential::parse(credential_text).map_err(|_| invalid(V4_CREDENTIAL, credential_text))?;
    let date = v4::parse_x_oss_date(date_text).ok_or_else(|| invalid(V4_DATE, date_text))?;
    let expires_in = expires_text
        .parse::<u64>()
        .ok()
        .filter(|seconds| (1..=MAX_V4_EXPIRES_SECS).contains(seconds))
        .ok_or_else(|| invalid(V4_EXPIRES, expires_text))?;
    if credential.date != date.date_naive() || credential.region != v4::normalize_region(region) {
        return Err(invalid(V4_CREDENTIAL, credential_text));
    }

    if date - now > TimeDelta::seconds(MAX_CLOCK_SKEW_SECS) {
        return Err(invalid(V4_DATE, date_text));
    }
    let expires = date + TimeDelta::seconds(expires_in as i64);
    if now > expires {
        return Err(PresignError::Expired(expires));
    }

    let known = lookup(&credential.access_key_id)
        .ok_or_else(|| PresignError::UnknownAccessKeyId(credential.access_key_id.clone()))?;
    check_security_token(known.security_token.as_deref(), token)?;

    let resource = format!("/{}/{}", request.bucket, request.key);
    let canonical = CanonicalRequest {
        method: request.method,
        resource: &resource,
        query: request
            .query
            .iter()
            .filter(|(name, _)| name != V4_SIGNATURE)
            .cloned()
            .collect(),
        headers: Vec::new(),
        additional_headers: Vec::new(),
        payload_hash: v4::UNSIGNED_PAYLOAD,
    };
    let key = SigningKey::derive(&known.secret, credential.date, &credential.region);
    let string_to_sign = canonical.string_to_sign(date_text, &credential.scope());
    let expected = key.sign_raw(string_to_sign.as_bytes());
    let provided = hex::decode(signature).map_err(|_| PresignError::SignatureDoesNotMatch)?;
    if bool::from(expected.as_slice().ct_eq(&provided)) {
        Ok(credential.access_key_id)
    } else {
        Err(PresignError::SignatureDoesNotMatch)
    }
}

fn query_value<'q>(query: &'q [(String, String)], name: &str) -> Option<&'q str> {
    query
        .iter()
        .find(|(candidate, _)| candidate == name)
        .map(|(_, value)| value.as_str())
}

fn required<'q>(
    query: &'q [(String, String)],
    name: &'static str,
) -> Result<&'q str, PresignError> {
    query_value(query, name).ok_or(PresignError::MissingParameter(name))
}

fn invalid(name: &'static str, value: &str) -> PresignError {
    PresignError::InvalidParameter {
        name,
        value: value.to_owned(),
    }
}

/// Checks the security token in constant time: an STS key needs its token,
/// and a long-term key must come without one.
fn check_security_token(
    expected: Option<&str>,
    provided: Option<&str>,
) -> Result<(), PresignError> {
    match (expected, provided) {
        (None, None) => Ok(()),
        (Some(expected), Some(provided))
            if bool::from(expected.as_bytes().ct_eq(provided.as_bytes())) =>
        {
            Ok(())
        }
        _ => Err(PresignError::InvalidSecurityToken),
    }
}
