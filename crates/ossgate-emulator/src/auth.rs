//! Authentication of PostObject forms and presigned URLs.
//!
//! The cryptography lives in the protocol crate. This module picks the
//! fields out of a form or query and applies OSS's rules on which fields must
//! come together. It looks the AccessKeyId up in the configuration and maps
//! each failure to the error OSS returns.
//!
//! A form is checked in OSS's order: the signature over the raw base64 policy
//! (with the AccessKeyId and STS token checks that go with it), then the
//! policy document, then its expiration, then its conditions. The file is
//! read only after all of these pass.

use axum::http::StatusCode;
use chrono::{DateTime, TimeDelta, Utc};
use ossgate_protocol::form::{self, field};
use ossgate_protocol::policy::{Condition, Policy};
use ossgate_protocol::presign::{self, KnownKey, PresignError, PresignedRequest};
use ossgate_protocol::v4::{self, Credential, SigningKey};
use ossgate_protocol::{AccessKeySecret, FormFields};
use subtle::ConstantTimeEq as _;

use crate::config::{BucketAcl, BucketConfig, CredentialConfig, EmulatorConfig};
use crate::error::OssError;

/// How far `x-oss-date` of a V4 form may be from the emulator's clock, in
/// either direction: 15 minutes.
pub const MAX_V4_CLOCK_SKEW: TimeDelta = TimeDelta::minutes(15);

/// The grant of a form that passed authentication.
#[derive(Debug)]
pub(crate) struct FormGrant {
    /// The AccessKeyId that signed the form; `None` for an anonymous upload
    /// to a public-read-write bucket.
    pub access_key_id: Option<String>,
    /// The inclusive size range of the policy's `content-length-range`
    /// conditions, if it has any.
    pub size_range: Option<(u64, u64)>,
}

fn non_empty<'a>(fields: &'a FormFields, name: &str) -> Option<&'a str> {
    fields.get(name).filter(|value| !value.is_empty())
}

fn invalid_access_key_id(access_key_id: &str, ec: &'static str) -> OssError {
    OssError::invalid_access_key_id(access_key_id).with_ec(ec)
}

/// Checks the STS rules: an `STS.` key or a configured STS key needs
/// `x-oss-security-token`, a long-term key must not have one, and the token
/// must be the one configured for the key.
fn check_security_token(
    access_key_id: &str,
    credential: Option<&CredentialConfig>,
    token: Option<&str>,
) -> Result<(), OssError> {
    let is_sts =
        access_key_id.starts_with("STS.") || credential.is_some_and(|c| c.security_token.is_some());
    match (is_sts, token) {
        // OSS documents EC 0002-00000003 for an STS key without its token.
        (true, None) => Err(invalid_access_key_id(access_key_id, "0002-00000003")),
        // A token makes OSS look the key up among STS keys, where a long-term
        // key does not exist: EC 0002-00000002.
        (false, Some(_)) => Err(invalid_access_key_id(access_key_id, "0002-00000002")),
        _ => {
            let expected = credential.and_then(|c| c.security_token.as_deref());
            match (expected, token) {
                (Some(expected), Some(token))
                    if !bool::from(expected.as_bytes().ct_eq(token.as_bytes())) =>
                {
                    Err(OssError::new(
                        StatusCode::FORBIDDEN,
                        "InvalidSecurityToken",
                        "The security token you provided is invalid.",
                    )
                    .with_detail("OSSAccessKeyId", access_key_id)
                    .with_ec("0002-00000004"))
                }
                _ => Ok(()),
            }
        }
    }
}

/// Authenticates a PostObject form and checks its policy at `now`.
///
/// # Errors
/// The OSS error for the first rule the form breaks, in OSS's order.
pub(crate) fn check_form(
    config: &EmulatorConfig,
    bucket: &BucketConfig,
    fields: &FormFields,
    now: DateTime<Utc>,
) -> Result<FormGrant, OssError> {
    let v4_fields = [
        field::SIGNATURE_VERSION,
        field::CREDENTIAL,
        field::DATE,
        field::V4_SIGNATURE,
    ];
    let is_v4 = v4_fields.iter().any(|name| fields.contains(name));
    let is_v1 = [field::OSS_ACCESS_KEY_ID, field::SIGNATURE, field::POLICY]
        .iter()
        .any(|name| fields.contains(name));

    // Step 1: the signature, with the AccessKeyId and token checks.
    let (access_key_id, policy_base64, version) = if is_v4 {
        let (access_key_id, policy_base64) = check_v4_signature(config, fields, now)?;
        (access_key_id, policy_base64, form::SignatureVersion::V4)
    } else if is_v1 {
        let (access_key_id, policy_base64) = check_v1_signature(config, fields)?;
        (access_key_id, policy_base64, form::SignatureVersion::V1)
    } else {
        if bucket.acl != BucketAcl::PublicReadWrite {
            return Err(OssError::bucket_acl_denied());
        }
        return Ok(FormGrant {
            access_key_id: None,
            size_range: None,
        });
    };

    // Step 2: the policy document.
    let policy = Policy::from_base64(policy_base64).map_err(|error| {
        let mut oss_error = OssError::new(
            StatusCode::BAD_REQUEST,
            "InvalidPolicyDocument",
            error.to_string(),
        );
        oss_error.ec = error.ec();
        oss_error
    })?;
    if version == form::SignatureVersion::V4 {
        check_v4_policy_conditions(&policy, fields.contains(field::SECURITY_TOKEN))?;
    }

    // Steps 3 and 4: expiration, then the conditions in order. Sizes are
    // checked while the file streams in.
    policy
        .evaluate_in_bucket(&bucket.name, fields, None, now)
        .map_err(|violation| {
            let status = if violation.code() == "AccessDenied" {
                StatusCode::FORBIDDEN
            } else {
                StatusCode::BAD_REQUEST
            };
            let mut error = OssError::new(status, violation.code(), violation.to_string());
            error.ec = violation.ec();
            error
        })?;

    Ok(FormGrant {
        access_key_id: Some(access_key_id),
        size_range: policy.content_length_range(),
    })
}

/// Checks `OSSAccessKeyId`, `policy` and `Signature`, which come all or none.
/// Returns the AccessKeyId and the base64 policy.
fn check_v1_signature<'f>(
    config: &EmulatorConfig,
    fields: &'f FormFields,
) -> Result<(String, &'f str), OssError> {
    let Some(access_key_id) = non_empty(fields, field::OSS_ACCESS_KEY_ID) else {
        return Err(
            OssError::invalid_argument("Post request accessKeyId is empty.")
                .with_ec("0002-00000703"),
        );
    };
    let Some(signature) = non_empty(fields, field::SIGNATURE) else {
        return Err(
            OssError::invalid_argument("Post request signature is empty.").with_ec("0002-00000704"),
        );
    };
    let Some(policy_base64) = non_empty(fields, field::POLICY) else {
        return Err(OssError::invalid_argument("Post request policy is empty."));
    };

    let credential = find_credential(config, access_key_id);
    check_security_token(
        access_key_id,
        credential,
        non_empty(fields, field::SECURITY_TOKEN),
    )?;
    let Some(credential) = credential else {
        return Err(OssError::invalid_access_key_id(access_key_id));
    };

    let secret = AccessKeySecret::new(credential.access_key_secret.clone());
    if !form::verify_policy_v1(&secret, policy_base64, signature) {
        return Err(OssError::signature_does_not_match(
            access_key_id,
            policy_base64,
        ));
    }
    Ok((access_key_id.to_owned(), policy_base64))
}

/// Checks the V4 field set: `x-oss-signature-version`, `x-oss-credential`,
/// `x-oss-date`, `x-oss-signature` and `policy`, which come all or none.
/// Returns the AccessKeyId and the base64 policy.
fn check_v4_signature<'f>(
    config: &EmulatorConfig,
    fields: &'f FormFields,
    now: DateTime<Utc>,
) -> Result<(String, &'f str), OssError> {
    let required = |name: &'static str| {
        non_empty(fields, name)
            .ok_or_else(|| OssError::invalid_argument(format!("Post request {name} is empty.")))
    };
    let version = required(field::SIGNATURE_VERSION)?;
    let credential_text = required(field::CREDENTIAL)?;
    let date_text = required(field::DATE)?;
    let signature = required(field::V4_SIGNATURE)?;
    let policy_base64 = required(field::POLICY)?;

    if version != v4::ALGORITHM {
        return Err(OssError::invalid_argument(format!(
            "Invalid x-oss-signature-version {version:?}: the only supported value is {}.",
            v4::ALGORITHM
        )));
    }
    let credential = Credential::parse(credential_text)
        .map_err(|error| OssError::invalid_argument(format!("Invalid credential: {error}.")))?;
    let Some(date) = v4::parse_x_oss_date(date_text) else {
        return Err(OssError::invalid_argument(format!(
            "Invalid x-oss-date {date_text:?}: expected YYYYMMDDTHHMMSSZ."
        )));
    };
    if credential.date != date.date_naive() {
        return Err(OssError::invalid_argument(format!(
            "Invalid credential date {}: it must be the day of x-oss-date {date_text}.",
            credential.date.format("%Y%m%d")
        )));
    }
    if credential.region != config.region {
        return Err(OssError::invalid_argument(format!(
            "Invalid credential region {:?}: this endpoint is in region {:?}.",
            credential.region, config.region
        )));
    }
    if (now - date).abs() > MAX_V4_CLOCK_SKEW {
        return Err(OssError::new(
            StatusCode::FORBIDDEN,
            "RequestTimeTooSkewed",
            "The difference between the request time and the current time is too large.",
        )
        .with_detail("RequestTime", date_text)
        .with_detail("ServerTime", v4::format_x_oss_date(now)));
    }

    let access_key_id = credential.access_key_id.as_str();
    let configured = find_credential(config, access_key_id);
    check_security_token(
        access_key_id,
        configured,
        non_empty(fields, field::SECURITY_TOKEN),
    )?;
    let Some(configured) = configured else {
        return Err(OssError::invalid_access_key_id(access_key_id));
    };

    let secret = AccessKeySecret::new(configured.access_key_secret.clone());
    let key = SigningKey::derive(&secret, credential.date, &credential.region);
    if !form::verify_policy_v4(&key, policy_base64, signature) {
        return Err(OssError::signature_does_not_match(
            access_key_id,
            policy_base64,
        ));
    }
    Ok((access_key_id.to_owned(), policy_base64))
}

/// A V4 policy must bind the signature fields with exact conditions.
fn check_v4_policy_conditions(policy: &Policy, has_token: bool) -> Result<(), OssError> {
    let mut required = vec![field::SIGNATURE_VERSION, field::CREDENTIAL, field::DATE];
    if has_token {
        required.push(field::SECURITY_TOKEN);
    }
    for name in required {
        let bound = policy.conditions.iter().any(|condition| match condition {
            Condition::Exact { field, .. } | Condition::Eq { field, .. } => {
                field.eq_ignore_ascii_case(name)
            }
            _ => false,
        });
        if !bound {
            return Err(OssError::new(
                StatusCode::BAD_REQUEST,
                "InvalidPolicyDocument",
                format!(
                    "Invalid Policy: Missing condition for {name}, which a V4 policy must contain."
                ),
            ));
        }
    }
    Ok(())
}

fn find_credential<'c>(
    config: &'c EmulatorConfig,
    access_key_id: &str,
) -> Option<&'c CredentialConfig> {
    config
        .credentials
        .iter()
        .find(|credential| credential.access_key_id == access_key_id)
}

/// Returns whether a query carries presigned-URL parameters.
pub(crate) fn is_presigned(query: &[(String, String)]) -> bool {
    query.iter().any(|(name, _)| {
        [
            "OSSAccessKeyId",
            "Signature",
            "x-oss-signature",
            "x-oss-signature-version",
        ]
        .contains(&name.as_str())
    })
}

/// Verifies a presigned URL for `method` on `bucket`/`key` at `now`.
///
/// # Errors
/// The OSS error for the rejected URL: `AccessDenied` when expired,
/// `InvalidAccessKeyId`, `InvalidSecurityToken`, `SignatureDoesNotMatch`, or
/// `InvalidArgument` for missing or malformed parameters.
pub(crate) fn check_presigned(
    config: &EmulatorConfig,
    method: &str,
    bucket: &str,
    key: &str,
    query: &[(String, String)],
    now: DateTime<Utc>,
) -> Result<String, OssError> {
    let request = PresignedRequest {
        method,
        bucket,
        key,
        query,
    };
    let lookup = |access_key_id: &str| {
        find_credential(config, access_key_id).map(|credential| KnownKey {
            secret: AccessKeySecret::new(credential.access_key_secret.clone()),
            security_token: credential.security_token.clone(),
        })
    };
    presign::verify_presigned(&request, &config.region, now, lookup).map_err(|error| match error {
        PresignError::Expired(expires) => OssError::access_denied("Request has expired.")
            .with_detail(
                "Expires",
                expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            )
            .with_detail(
                "ServerTime",
                now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            ),
        PresignError::UnknownAccessKeyId(id) => OssError::invalid_access_key_id(&id),
        PresignError::InvalidSecurityToken => OssError::new(
            StatusCode::FORBIDDEN,
            "InvalidSecurityToken",
            "The security token you provided is invalid.",
        ),
        PresignError::SignatureDoesNotMatch => OssError::new(
            StatusCode::FORBIDDEN,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. \
             Check your key and signing method.",
        ),
        PresignError::MissingParameter(_) | PresignError::InvalidParameter { .. } => {
            OssError::invalid_argument(format!("Invalid presigned URL: {error}."))
        }
    })
}
