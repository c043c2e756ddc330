//! Signed PostObject forms, V1 and V4, and their verification.
//!
//! V1: `Signature = base64(HMAC-SHA1(secret, policy_base64))` with fields
//! `OSSAccessKeyId`, `policy`, `Signature`. V4: `x-oss-signature = hex(HMAC-SHA256(
//! signing_key, policy_base64))` with `x-oss-signature-version`,
//! `x-oss-credential`, `x-oss-date`. Both add `x-oss-security-token` for STS.
//! The string to sign is always the base64 policy text exactly as sent.

use chrono::{DateTime, Utc};

use crate::fields::FormFields;
use crate::policy::Policy;
use crate::secret::{AccessKeySecret, Credentials};
use crate::v4::{SigningKey, SigningKeyCache};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SignatureVersion {
    V1,
    V4,
}

/// Returns the V1 signature of a base64 policy: `base64(HMAC-SHA1(secret, policy_base64))`.
pub fn sign_policy_v1(secret: &AccessKeySecret, policy_base64: &str) -> String {
    let _ = (secret, policy_base64);
    todo!()
}

/// Returns the V4 signature of a base64 policy: lowercase hex HMAC-SHA256.
pub fn sign_policy_v4(key: &SigningKey, policy_base64: &str) -> String {
    let _ = (key, policy_base64);
    todo!()
}

/// Compares a V1 signature in constant time.
pub fn verify_policy_v1(secret: &AccessKeySecret, policy_base64: &str, signature: &str) -> bool {
    let _ = (secret, policy_base64, signature);
    todo!()
}

/// Compares a V4 signature (hex, any case) in constant time.
pub fn verify_policy_v4(key: &SigningKey, policy_base64: &str, signature: &str) -> bool {
    let _ = (key, policy_base64, signature);
    todo!()
}

/// A signed form: every field but `key`'s value choices and the file, ready to send.
#[derive(Clone, Debug)]
pub struct SignedForm {
    /// The policy as signed, with any conditions V4 required added.
    pub policy: Policy,
    pub policy_base64: String,
    /// `policy`, the signature fields and `x-oss-security-token` when the
    /// credentials carry one, in the order OSS documents them.
    pub fields: FormFields,
}

/// Builds signed PostObject forms for one set of credentials.
#[derive(Debug)]
pub struct FormSigner {
    credentials: Credentials,
    version: SignatureVersion,
    region: String,
    keys: SigningKeyCache,
}

impl FormSigner {
    /// `region` may be given as `oss-cn-hangzhou` or `cn-hangzhou`; V1 ignores it.
    pub fn new(credentials: Credentials, version: SignatureVersion, region: &str) -> Self {
        let _ = (credentials, version, region);
        todo!()
    }

    pub fn version(&self) -> SignatureVersion {
        self.version
    }

    pub fn access_key_id(&self) -> &str {
        &self.credentials.access_key_id
    }

    /// Signs `policy` at `now`. For V4 it first adds the conditions V4 requires
    /// (`x-oss-signature-version`, `x-oss-credential`, `x-oss-date` and, for STS,
    /// `x-oss-security-token`), all derived from `now`. For V1 with STS
    /// credentials nothing is added to the policy; the token is still a field.
    pub fn sign(&self, policy: Policy, now: DateTime<Utc>) -> SignedForm {
        let _ = (policy, now, &self.region, &self.keys);
        todo!()
    }
}
