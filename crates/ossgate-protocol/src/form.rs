//! Signed PostObject forms, V1 and V4, and their verification.
//!
//! V1: `Signature = base64(HMAC-SHA1(secret, policy_base64))` with fields
//! `OSSAccessKeyId`, `policy`, `Signature`. V4: `x-oss-signature = hex(HMAC-SHA256(
//! signing_key, policy_base64))` with `x-oss-signature-version`,
//! `x-oss-credential`, `x-oss-date`. Both add `x-oss-security-token` for STS.
//! The string to sign is always the base64 policy text exactly as sent.

use std::fmt;
use std::sync::{Mutex, PoisonError};

use base64::Engine as _;
use chrono::{DateTime, NaiveDate, Utc};
use hmac::{Hmac, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;

use crate::fields::FormFields;
use crate::policy::{Condition, Policy};
use crate::secret::{AccessKeySecret, Credentials};
use crate::v4::{self, Credential, SigningKey};

/// The form field names OSS reads.
pub mod field {
    pub const POLICY: &str = "policy";
    pub const OSS_ACCESS_KEY_ID: &str = "OSSAccessKeyId";
    pub const SIGNATURE: &str = "Signature";
    pub const SECURITY_TOKEN: &str = "x-oss-security-token";
    pub const SIGNATURE_VERSION: &str = "x-oss-signature-version";
    pub const CREDENTIAL: &str = "x-oss-credential";
    pub const DATE: &str = "x-oss-date";
    pub const V4_SIGNATURE: &str = "x-oss-signature";
}

/// The signature scheme of a form or URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SignatureVersion {
    V1,
    V4,
}

/// Returns the V1 signature of a base64 policy: `base64(HMAC-SHA1(secret, policy_base64))`.
pub fn sign_policy_v1(secret: &AccessKeySecret, policy_base64: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(hmac_sha1(secret, policy_base64.as_bytes()))
}

/// Returns the V4 signature of a base64 policy: lowercase hex HMAC-SHA256.
pub fn sign_policy_v4(key: &SigningKey, policy_base64: &str) -> String {
    key.sign(policy_base64.as_bytes())
}

/// Compares a V1 signature in constant time.
///
/// The signature is compared as the 20 bytes it encodes, so a signature that
/// is not base64 of 20 bytes is simply a mismatch.
pub fn verify_policy_v1(secret: &AccessKeySecret, policy_base64: &str, signature: &str) -> bool {
    let Ok(provided) = base64::engine::general_purpose::STANDARD.decode(signature.trim()) else {
        return false;
    };
    let expected = hmac_sha1(secret, policy_base64.as_bytes());
    expected.as_slice().ct_eq(&provided).into()
}

/// Compares a V4 signature (hex, any case) in constant time.
pub fn verify_policy_v4(key: &SigningKey, policy_base64: &str, signature: &str) -> bool {
    let Ok(provided) = hex::decode(signature.trim()) else {
        return false;
    };
    let expected = key.sign_raw(policy_base64.as_bytes());
    expected.as_slice().ct_eq(&provided).into()
}

/// Computes the raw HMAC-SHA1 of `message` under a secret, the V1 primitive
/// for forms and presigned URLs.
pub(crate) fn hmac_sha1(secret: &AccessKeySecret, message: &[u8]) -> [u8; 20] {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret.expose().as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// A signed form: every field but `key`'s value choices and the file, ready to send.
///
/// `Debug` hides the security token of STS credentials: the field's value,
/// policy conditions whose value is the token, and the base64 policy (in
/// `policy_base64` and the `policy` field), which for V4 contains the token.
#[derive(Clone)]
pub struct SignedForm {
    /// The policy as signed, with any conditions V4 required added.
    pub policy: Policy,
    pub policy_base64: String,
    /// `policy`, the signature fields and `x-oss-security-token` when the
    /// credentials carry one, in the order OSS documents them.
    pub fields: FormFields,
}

impl fmt::Debug for SignedForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const REDACTED: &str = "<redacted>";

        let Some(token) = self.fields.get(field::SECURITY_TOKEN) else {
            return f
                .debug_struct("SignedForm")
                .field("policy", &self.policy)
                .field("policy_base64", &self.policy_base64)
                .field("fields", &self.fields)
                .finish();
        };

        let fields: FormFields = self
            .fields
            .iter()
            .map(|(name, value)| {
                let hidden = value == token || value == self.policy_base64;
                (name, if hidden { REDACTED } else { value })
            })
            .collect();
        let mut policy = self.policy.clone();
        for condition in &mut policy.conditions {
            if let Condition::Exact { value, .. } | Condition::Eq { value, .. } = condition {
                if value == token {
                    *value = REDACTED.to_owned();
                }
            }
        }
        f.debug_struct("SignedForm")
            .field("policy", &policy)
            .field("policy_base64", &REDACTED)
            .field("fields", &fields)
            .finish()
    }
}

/// Builds signed PostObject forms for one set of credentials.
#[derive(Debug)]
pub struct FormSigner {
    credentials: Credentials,
    version: SignatureVersion,
    region: String,
    /// The V4 values of the last UTC date signed for.
    v4_day: Mutex<Option<V4Day>>,
}

/// The V4 values that change once a day, kept so that each form costs one
/// HMAC instead of five and no date formatting.
#[derive(Clone, Debug)]
struct V4Day {
    date: NaiveDate,
    /// `<AccessKeyId>/<yyyymmdd>/<region>/oss/aliyun_v4_request`.
    credential: String,
    key: SigningKey,
}

impl FormSigner {
    /// `region` may be given as `oss-cn-hangzhou` or `cn-hangzhou`; V1 ignores it.
    pub fn new(credentials: Credentials, version: SignatureVersion, region: &str) -> Self {
        Self {
            credentials,
            version,
            region: v4::normalize_region(region).to_owned(),
            v4_day: Mutex::new(None),
        }
    }

    pub fn version(&self) -> SignatureVersion {
        self.version
    }

    pub fn access_key_id(&self) -> &str {
        &self.credentials.access_key_id
    }

    /// Returns the region V4 signs for, without the `oss-` prefix.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// Signs `policy` at `now`. For V4 it first adds the conditions V4 requires
    /// (`x-oss-signature-version`, `x-oss-credential`, `x-oss-date` and, for STS,
    /// `x-oss-security-token`), all derived from `now`. For V1 with STS
    /// credentials nothing is added to the policy; the token is still a field.
    ///
    /// The V4 conditions replace any exact or `eq` conditions on the same
    /// fields that the policy already has, and go right after the leading
    /// `bucket` conditions (the order the SDKs write them in). The policy's
    /// expiration is not changed.
    ///
    /// Fields, in order: V1 `OSSAccessKeyId`, `policy`, `Signature`; V4
    /// `policy`, `x-oss-signature-version`, `x-oss-credential`, `x-oss-date`,
    /// `x-oss-signature`; then `x-oss-security-token` for STS credentials.
    pub fn sign(&self, policy: Policy, now: DateTime<Utc>) -> SignedForm {
        match self.version {
            SignatureVersion::V1 => self.sign_v1(policy),
            SignatureVersion::V4 => self.sign_v4(policy, now),
        }
    }

    fn sign_v1(&self, policy: Policy) -> SignedForm {
        let policy_base64 = policy.to_base64();
        let signature = sign_policy_v1(&self.credentials.access_key_secret, &policy_base64);

        let mut fields = FormFields::new();
        fields.push(field::OSS_ACCESS_KEY_ID, &self.credentials.access_key_id);
        fields.push(field::POLICY, &policy_base64);
        fields.push(field::SIGNATURE, signature);
        self.push_security_token(&mut fields);

        SignedForm {
            policy,
            policy_base64,
            fields,
        }
    }

    fn sign_v4(&self, mut policy: Policy, now: DateTime<Utc>) -> SignedForm {
        // Every V4 value comes from the same instant, so the credential date
        // and x-oss-date always name the same day.
        let V4Day {
            credential: credential_text,
            key,
            ..
        } = self.v4_day(now);
        let x_oss_date = v4::format_x_oss_date(now);

        let mut required = vec![
            (field::SIGNATURE_VERSION, v4::ALGORITHM.to_owned()),
            (field::CREDENTIAL, credential_text.clone()),
            (field::DATE, x_oss_date.clone()),
        ];
        if let Some(token) = &self.credentials.security_token {
            required.push((field::SECURITY_TOKEN, token.expose().to_owned()));
        }
        insert_required_conditions(&mut policy, &required);

        let policy_base64 = policy.to_base64();
        let signature = sign_policy_v4(&key, &policy_base64);

        let mut fields = FormFields::new();
        fields.push(field::POLICY, &policy_base64);
        fields.push(field::SIGNATURE_VERSION, v4::ALGORITHM);
        fields.push(field::CREDENTIAL, credential_text);
        fields.push(field::DATE, x_oss_date);
        fields.push(field::V4_SIGNATURE, signature);
        self.push_security_token(&mut fields);

        SignedForm {
            policy,
            policy_base64,
            fields,
        }
    }

    /// Returns the credential and signing key for `now`'s UTC date, deriving
    /// them when the date differs from the last one signed for.
    fn v4_day(&self, now: DateTime<Utc>) -> V4Day {
        let date = now.date_naive();
        let mut cached = self.v4_day.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(day) = cached.as_ref().filter(|day| day.date == date) {
            return day.clone();
        }

        let credential = Credential::new(&self.credentials.access_key_id, now, &self.region);
        let day = V4Day {
            date,
            credential: credential.to_string(),
            key: SigningKey::derive(&self.credentials.access_key_secret, date, &self.region),
        };
        *cached = Some(day.clone());
        day
    }

    fn push_security_token(&self, fields: &mut FormFields) {
        if let Some(token) = &self.credentials.security_token {
            fields.push(field::SECURITY_TOKEN, token.expose());
        }
    }
}

/// Replaces the exact and `eq` conditions on the V4 fields with `required`,
/// placed after the policy's leading `bucket` conditions.
fn insert_required_conditions(policy: &mut Policy, required: &[(&str, String)]) {
    // An `eq` condition with a stale value would fail against the new form
    // fields as surely as an exact one.
    policy.conditions.retain(|condition| match condition {
        Condition::Exact { field, .. } | Condition::Eq { field, .. } => !required
            .iter()
            .any(|(name, _)| field.eq_ignore_ascii_case(name)),
        _ => true,
    });

    let position = policy
        .conditions
        .iter()
        .take_while(|condition| {
            matches!(condition, Condition::Exact { field, .. } if field.eq_ignore_ascii_case("bucket"))
        })
        .count();
    let conditions = required.iter().map(|(name, value)| Condition::Exact {
        field: (*name).to_owned(),
        value: value.clone(),
    });
    policy.conditions.splice(position..position, conditions);
}
