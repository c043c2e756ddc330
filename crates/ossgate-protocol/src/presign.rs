//! Presigned GET URLs, V1 (`OSSAccessKeyId`, `Expires`, `Signature`) and V4
//! (`x-oss-signature-version`, `x-oss-credential`, `x-oss-date`, `x-oss-expires`,
//! `x-oss-signature`), and their verification.

use chrono::{DateTime, Utc};

use crate::form::SignatureVersion;
use crate::secret::{AccessKeySecret, Credentials};

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
pub fn presign_get(
    credentials: &Credentials,
    version: SignatureVersion,
    region: &str,
    location: &ObjectLocation<'_>,
    now: DateTime<Utc>,
    expires_in_secs: u64,
) -> String {
    let _ = (credentials, version, region, location, now, expires_in_secs);
    todo!()
}

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
pub fn verify_presigned(
    request: &PresignedRequest<'_>,
    region: &str,
    now: DateTime<Utc>,
    lookup: impl Fn(&str) -> Option<KnownKey>,
) -> Result<String, PresignError> {
    let _ = (request, region, now, lookup);
    todo!()
}
