//! `ossgate policy sign` and `ossgate policy check`: offline tools for the
//! question "why does OSS reject my form?".
//!
//! `sign` signs exactly the policy bytes it is given, so its output can be
//! compared with what another signer produced. `check` evaluates a form
//! against a policy the way OSS does and prints OSS's message. Exit codes:
//! 0 success, 1 the form does not satisfy the policy, 2 a usage or input
//! error.

use std::collections::HashMap;
use std::fmt;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context as _};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand, ValueEnum};
use ossgate_protocol::form::{field, sign_policy_v1, sign_policy_v4};
use ossgate_protocol::v4::{self, Credential, SigningKey};
use ossgate_protocol::{AccessKeySecret, Condition, FormFields, Policy};
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};

/// The environment variables the secret is read from, in order.
const SECRET_VARIABLES: [&str; 2] = ["OSS_ACCESS_KEY_SECRET", "ALIBABA_CLOUD_ACCESS_KEY_SECRET"];

/// How long OSS accepts a V4 form after its `x-oss-date`, in days.
const V4_MAX_VALIDITY_DAYS: i64 = 7;

/// The largest policy or form file read: 2 MiB. OSS accepts at most 2 MB of
/// form field values in a PostObject request, so a larger file cannot be a
/// form or its policy. The limit also stops a read of an endless file such as
/// /dev/zero.
const MAX_INPUT_BYTES: u64 = 2 * 1024 * 1024;

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Sign a policy and print the form fields as one JSON object.
    ///
    /// The AccessKey secret is read from OSS_ACCESS_KEY_SECRET or
    /// ALIBABA_CLOUD_ACCESS_KEY_SECRET, never from an argument.
    Sign(SignArgs),
    /// Check whether a form satisfies a policy, with OSS's message when not.
    Check(CheckArgs),
}

#[derive(Debug, Args)]
pub struct SignArgs {
    /// File with the policy JSON; its bytes are signed as they are, without re-serialisation.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "policy_base64",
        required_unless_present = "policy_base64"
    )]
    policy_file: Option<PathBuf>,
    /// The `policy` form field (standard base64), signed as given.
    #[arg(long, value_name = "B64")]
    policy_base64: Option<String>,
    /// The AccessKeyId the form is sent with.
    #[arg(long, value_name = "ID")]
    access_key_id: String,
    /// The signature version: 1 (HMAC-SHA1) or 4 (OSS4-HMAC-SHA256).
    #[arg(long, value_name = "VERSION")]
    signature_version: Version,
    /// The bucket's region for V4, such as cn-hangzhou or oss-cn-hangzhou.
    #[arg(long, value_name = "REGION")]
    region: Option<String>,
    /// The V4 signing instant in UTC, written YYYYMMDDTHHMMSSZ; defaults to now.
    #[arg(long, value_name = "YYYYMMDDTHHMMSSZ")]
    date: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Version {
    #[value(name = "1")]
    V1,
    #[value(name = "4")]
    V4,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The `policy` form field (standard base64).
    #[arg(long, value_name = "B64")]
    policy_base64: String,
    /// JSON file with the form fields as one object, such as {"key": "user/a.txt"}.
    #[arg(long, value_name = "FIELDS.json")]
    form: PathBuf,
    /// The object size in bytes, to check content-length-range.
    #[arg(long, value_name = "N")]
    size: Option<u64>,
    /// The instant to evaluate at, in RFC 3339 such as 2026-12-04T09:00:00Z; defaults to now.
    #[arg(long, value_name = "RFC3339")]
    now: Option<String>,
    /// The bucket the form is posted to. OSS checks `bucket` conditions
    /// against the bucket of the request, never a form field. Without this
    /// option they are checked against a `bucket` entry in the form file.
    #[arg(long, value_name = "BUCKET")]
    bucket: Option<String>,
}

pub fn run(command: PolicyCommand) -> anyhow::Result<ExitCode> {
    match command {
        PolicyCommand::Sign(args) => sign(args),
        PolicyCommand::Check(args) => check(args),
    }
}

fn sign(args: SignArgs) -> anyhow::Result<ExitCode> {
    let secret = secret_from_environment()?;
    let policy_base64 = policy_base64_from(&args)?;
    check_access_key_id(&args.access_key_id, args.signature_version)?;

    let mut fields = FormFields::new();
    match args.signature_version {
        Version::V1 => {
            if args.region.is_some() || args.date.is_some() {
                eprintln!("warning: --region and --date are ignored for signature version 1");
            }
            for warning in v1_policy_warnings(&policy_base64, Utc::now()) {
                eprintln!("warning: {warning}");
            }

            fields.push(field::POLICY, &policy_base64);
            fields.push(field::OSS_ACCESS_KEY_ID, &args.access_key_id);
            fields.push(field::SIGNATURE, sign_policy_v1(&secret, &policy_base64));
        }
        Version::V4 => {
            let Some(region) = args.region.as_deref() else {
                bail!("signature version 4 needs the bucket's region: add --region, such as --region cn-hangzhou");
            };
            let region = v4::parse_region(region).context("invalid --region")?;
            let instant = match args.date.as_deref() {
                Some(date) => v4::parse_x_oss_date(date).ok_or_else(|| {
                    anyhow!("invalid --date {date:?}: expected UTC YYYYMMDDTHHMMSSZ, such as 20261204T083000Z")
                })?,
                None => Utc::now(),
            };
            let credential = Credential::new(&args.access_key_id, instant, region);
            let x_oss_date = v4::format_x_oss_date(instant);
            let key = SigningKey::derive(&secret, credential.date, &credential.region);

            for warning in v4_policy_warnings(&policy_base64, &credential, instant) {
                eprintln!("warning: {warning}");
            }

            fields.push(field::POLICY, &policy_base64);
            fields.push(field::SIGNATURE_VERSION, v4::ALGORITHM);
            fields.push(field::CREDENTIAL, credential.to_string());
            fields.push(field::DATE, x_oss_date);
            fields.push(field::V4_SIGNATURE, sign_policy_v4(&key, &policy_base64));
        }
    }

    println!("{}", serde_json::to_string(&fields)?);
    Ok(ExitCode::SUCCESS)
}

/// Reads the AccessKey secret from the first of [`SECRET_VARIABLES`] that is
/// set and not empty.
fn secret_from_environment() -> anyhow::Result<AccessKeySecret> {
    for name in SECRET_VARIABLES {
        if let Some(value) = std::env::var_os(name) {
            if value.is_empty() {
                continue;
            }
            let value = value.into_string().map_err(|_| {
                anyhow!("{name} is not valid UTF-8: set it to the AccessKey secret")
            })?;
            if value.trim() != value {
                // A newline or space pasted with the secret is signed with it,
                // so every signature then differs from the one OSS computes.
                eprintln!(
                    "warning: {name} starts or ends with whitespace, which is signed as part of \
                     the secret: remove it unless the secret really contains it"
                );
            }
            return Ok(AccessKeySecret::new(value));
        }
    }
    bail!(
        "missing AccessKey secret: set {} or {} in the environment (it is never read from an argument)",
        SECRET_VARIABLES[0],
        SECRET_VARIABLES[1]
    )
}

/// Checks that an AccessKeyId can be sent: not empty, printable ASCII, and
/// for V4 free of `/`, which separates the parts of `x-oss-credential`.
fn check_access_key_id(access_key_id: &str, version: Version) -> anyhow::Result<()> {
    if access_key_id.is_empty() {
        bail!("invalid --access-key-id: it is empty; pass the AccessKeyId the form is sent with");
    }
    if !access_key_id.bytes().all(|byte| byte.is_ascii_graphic()) {
        bail!(
            "invalid --access-key-id {access_key_id:?}: an AccessKeyId has no spaces, control or \
             non-ASCII characters"
        );
    }
    if version == Version::V4 && access_key_id.contains('/') {
        bail!(
            "invalid --access-key-id {access_key_id:?}: it must not contain '/', which separates \
             the parts of x-oss-credential"
        );
    }
    Ok(())
}

/// Reads a file of at most [`MAX_INPUT_BYTES`]. `option` names the
/// command-line option in messages.
fn read_limited(path: &Path, option: &str) -> anyhow::Result<Vec<u8>> {
    let file = std::fs::File::open(path).with_context(|| {
        format!(
            "failed to open {option} {}: check the path and its permissions",
            path.display()
        )
    })?;
    let mut bytes = Vec::new();
    file.take(MAX_INPUT_BYTES + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("failed to read {option} {}", path.display()))?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        bail!(
            "invalid {option} {}: it is larger than {MAX_INPUT_BYTES} bytes, and OSS accepts at \
             most 2 MB of form field values",
            path.display()
        );
    }
    Ok(bytes)
}

/// Returns the base64 text to sign: a file's bytes encoded as they are, or
/// the given base64 after checking that it decodes.
fn policy_base64_from(args: &SignArgs) -> anyhow::Result<String> {
    if let Some(path) = &args.policy_file {
        let bytes = read_limited(path, "--policy-file")?;
        if bytes.is_empty() {
            bail!(
                "invalid --policy-file {}: the file is empty; write the policy JSON into it",
                path.display()
            );
        }
        if bytes.ends_with(b"\n") {
            // Editors add the newline unasked, and a signer given the JSON
            // as a string usually leaves it out, so the signatures differ.
            eprintln!(
                "note: {} ends with a newline, which is signed as part of the policy: remove it \
                 if the form's policy was encoded without it",
                path.display()
            );
        }
        return Ok(base64::engine::general_purpose::STANDARD.encode(bytes));
    }

    let Some(policy_base64) = &args.policy_base64 else {
        bail!("no policy given: add --policy-file FILE or --policy-base64 B64");
    };
    if policy_base64.is_empty() {
        bail!("invalid --policy-base64: it is empty; pass the policy form field exactly as sent");
    }
    if base64::engine::general_purpose::STANDARD
        .decode(policy_base64)
        .is_err()
    {
        bail!(
            "invalid --policy-base64 {policy_base64:?}: not standard base64 with padding; \
             pass the policy form field exactly as sent, or the JSON with --policy-file"
        );
    }
    Ok(policy_base64.clone())
}

/// Lists what OSS would reject in a V1 policy: a document that does not
/// parse, or an expiration before `now`.
fn v1_policy_warnings(policy_base64: &str, now: DateTime<Utc>) -> Vec<String> {
    match Policy::from_base64(policy_base64) {
        Ok(policy) => expiry_warning(&policy, now).into_iter().collect(),
        Err(error) => vec![format!("OSS will reject this policy: {error}")],
    }
}

/// Returns a warning when the policy expires at or before `instant`.
fn expiry_warning(policy: &Policy, instant: DateTime<Utc>) -> Option<String> {
    (policy.expiration <= instant).then(|| {
        format!(
            "the policy expired at {}, before the signing instant {}",
            policy
                .expiration
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            instant.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )
    })
}

/// Lists what OSS would reject in a V4 policy: a document that does not
/// parse, an expiration before the signing instant, missing V4 conditions,
/// or values that disagree with the form.
fn v4_policy_warnings(
    policy_base64: &str,
    credential: &Credential,
    instant: DateTime<Utc>,
) -> Vec<String> {
    let policy = match Policy::from_base64(policy_base64) {
        Ok(policy) => policy,
        Err(error) => return vec![format!("OSS will reject this policy: {error}")],
    };

    let mut warnings: Vec<String> = expiry_warning(&policy, instant).into_iter().collect();
    let last_use = instant + chrono::TimeDelta::days(V4_MAX_VALIDITY_DAYS);
    if policy.expiration > last_use {
        warnings.push(format!(
            "OSS accepts a V4 form for at most {V4_MAX_VALIDITY_DAYS} days after its x-oss-date, \
             so this form stops working at {}, before the policy expires at {}",
            last_use.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            policy
                .expiration
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        ));
    }

    let credential_text = credential.to_string();
    let x_oss_date = v4::format_x_oss_date(instant);
    let required = [
        (field::SIGNATURE_VERSION, v4::ALGORITHM),
        (field::CREDENTIAL, credential_text.as_str()),
        (field::DATE, x_oss_date.as_str()),
    ];
    for (name, expected) in required {
        match required_condition_value(&policy, name) {
            None => warnings.push(format!(
                "the policy has no {{\"{name}\": \"{expected}\"}} condition, which OSS requires for signature version 4"
            )),
            Some(actual) if actual != expected => warnings.push(format!(
                "the policy's {name} condition is {actual:?} but the form's {name} is {expected:?}; sign again with a policy that matches"
            )),
            Some(_) => {}
        }
    }
    warnings
}

/// Returns the value of an exact or `eq` condition on `name`.
fn required_condition_value<'p>(policy: &'p Policy, name: &str) -> Option<&'p str> {
    policy
        .conditions
        .iter()
        .find_map(|condition| match condition {
            Condition::Exact { field, value } | Condition::Eq { field, value }
                if field.eq_ignore_ascii_case(name) =>
            {
                Some(value.as_str())
            }
            _ => None,
        })
}

fn check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    // Input errors first, so that exit code 1 always means "OSS rejects".
    if base64::engine::general_purpose::STANDARD
        .decode(&args.policy_base64)
        .is_err()
    {
        bail!(
            "invalid --policy-base64 {:?}: not standard base64 with padding; pass the policy form field exactly as sent",
            args.policy_base64
        );
    }
    let fields = read_form(&args.form)?;
    let now = match args.now.as_deref() {
        Some(text) => DateTime::parse_from_rfc3339(text)
            .map_err(|_| {
                anyhow!("invalid --now {text:?}: expected RFC 3339, such as 2026-12-04T09:00:00Z")
            })?
            .with_timezone(&Utc),
        None => Utc::now(),
    };

    let policy = match Policy::from_base64(&args.policy_base64) {
        Ok(policy) => policy,
        Err(error) => {
            println!("InvalidPolicyDocument: {error}");
            return Ok(ExitCode::from(1));
        }
    };

    let result = match &args.bucket {
        Some(bucket) => policy.evaluate_in_bucket(bucket, &fields, args.size, now),
        None => policy.evaluate(&fields, args.size, now),
    };
    match result {
        Ok(()) => {
            println!(
                "OK: the form satisfies the policy (expires {})",
                policy
                    .expiration
                    .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            );
            if let (None, Some((min, max))) = (args.size, policy.content_length_range()) {
                eprintln!(
                    "note: the object size was not checked against content-length-range \
                     {min} to {max}: add --size N to check it"
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(violation) => {
            println!("{}: {violation}", violation.code());
            let bucket_condition = policy.conditions.iter().any(|condition| {
                condition
                    .field()
                    .is_some_and(|field| field.eq_ignore_ascii_case("bucket"))
            });
            if args.bucket.is_none() && bucket_condition && !fields.contains("bucket") {
                eprintln!(
                    "note: OSS checks bucket conditions against the bucket the form is posted \
                     to: add --bucket NAME"
                );
            }
            Ok(ExitCode::from(1))
        }
    }
}

/// Reads form fields from a JSON object. Strings are taken as they are;
/// numbers and booleans as their JSON text, since a form sends text.
fn read_form(path: &Path) -> anyhow::Result<FormFields> {
    let bytes = read_limited(path, "--form")?;
    let text = std::str::from_utf8(&bytes).map_err(|error| {
        anyhow!(
            "invalid --form {}: the file is not UTF-8 text (the byte at offset {} is invalid)",
            path.display(),
            error.valid_up_to()
        )
    })?;
    let object: FormObject = serde_json::from_str(text).with_context(|| {
        format!(
            "invalid --form {}: expected one JSON object of field names to values, such as {{\"key\": \"user/a.txt\"}}",
            path.display()
        )
    })?;

    // Field names are matched case-insensitively, as the PostObject API
    // reference documents, so "Key" and "key" would be one field with two
    // values.
    let mut seen: HashMap<String, &str> = HashMap::with_capacity(object.0.len());
    for (name, _) in &object.0 {
        let Some(earlier) = seen.insert(name.to_ascii_lowercase(), name) else {
            continue;
        };
        if earlier == name {
            bail!(
                "invalid --form {}: the field {name:?} is given more than once: keep one",
                path.display()
            );
        }
        bail!(
            "invalid --form {}: the fields {earlier:?} and {name:?} are the same form field, \
             because field names are matched case-insensitively: keep one",
            path.display()
        );
    }

    let mut fields = FormFields::new();
    for (name, value) in object.0 {
        let value = match value {
            serde_json::Value::String(text) => text,
            serde_json::Value::Number(number) => number.to_string(),
            serde_json::Value::Bool(flag) => flag.to_string(),
            other => bail!(
                "invalid --form {}: field {name:?} is {other}, but form fields are strings",
                path.display()
            ),
        };
        fields.push(name, value);
    }
    Ok(fields)
}

/// A JSON object's entries in document order, repeated names included.
struct FormObject(Vec<(String, serde_json::Value)>);

impl<'de> Deserialize<'de> for FormObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntriesVisitor;

        impl<'de> Visitor<'de> for EntriesVisitor {
            type Value = FormObject;

            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FormObject, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<String, serde_json::Value>()? {
                    entries.push(entry);
                }
                Ok(FormObject(entries))
            }
        }

        deserializer.deserialize_map(EntriesVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference vectors' basic policy: `{"bucket": "examplebucket"}`,
    /// `starts-with $key user-dir/` and a size range, expiring at
    /// 2026-12-04T09:30:00.000Z.
    const BUCKET_POLICY: &str = "eyJleHBpcmF0aW9uIjoiMjAyNi0xMi0wNFQwOTozMDowMC4wMDBaIiwiY29uZGl0aW9ucyI6W3siYnVja2V0IjoiZXhhbXBsZWJ1Y2tldCJ9LFsic3RhcnRzLXdpdGgiLCIka2V5IiwidXNlci1kaXIvIl0sWyJjb250ZW50LWxlbmd0aC1yYW5nZSIsMCwxMDQ4NTc2MF1dfQ==";

    fn write_temp(contents: &[u8]) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut file, contents).unwrap();
        file
    }

    fn check_browser_form(bucket: Option<&str>) -> ExitCode {
        // A browser form has no bucket field: OSS takes the bucket from the host.
        let form = write_temp(br#"{"key": "user-dir/a.txt"}"#);
        check(CheckArgs {
            policy_base64: BUCKET_POLICY.to_owned(),
            form: form.path().to_owned(),
            size: None,
            now: Some("2026-12-04T09:00:00Z".to_owned()),
            bucket: bucket.map(str::to_owned),
        })
        .unwrap()
    }

    #[test]
    fn check_matches_bucket_option() {
        assert_eq!(check_browser_form(Some("examplebucket")), ExitCode::SUCCESS);
    }

    #[test]
    fn check_rejects_other_bucket() {
        assert_eq!(check_browser_form(Some("otherbucket")), ExitCode::from(1));
    }

    #[test]
    fn check_without_bucket_fails_bucket_condition() {
        assert_eq!(check_browser_form(None), ExitCode::from(1));
    }

    #[test]
    fn access_key_id_rejects_empty_and_spaces() {
        assert!(check_access_key_id("", Version::V1).is_err());
        assert!(check_access_key_id("LTAI 5t", Version::V1).is_err());
        assert!(check_access_key_id("LTAI5tExampleKeyId", Version::V4).is_ok());
    }

    #[test]
    fn access_key_id_with_slash_only_fails_v4() {
        assert!(check_access_key_id("a/b", Version::V1).is_ok());
        assert!(check_access_key_id("a/b", Version::V4).is_err());
    }

    #[test]
    fn form_rejects_names_differing_in_case() {
        let file = write_temp(br#"{"Key": "b", "key": "a"}"#);
        let error = read_form(file.path()).unwrap_err().to_string();
        assert!(error.contains("\"Key\" and \"key\""), "{error}");
    }

    #[test]
    fn form_rejects_repeated_name() {
        let file = write_temp(br#"{"key": "a", "key": "b"}"#);
        assert!(read_form(file.path()).is_err());
    }

    #[test]
    fn form_keeps_document_order() {
        let file = write_temp(br#"{"key": "a", "bucket": "b", "size": 5}"#);
        let fields = read_form(file.path()).unwrap();
        let names: Vec<&str> = fields.iter().map(|(name, _)| name).collect();
        assert_eq!(names, ["key", "bucket", "size"]);
        assert_eq!(fields.get("size"), Some("5"));
    }

    #[test]
    fn form_that_is_not_utf8_names_the_encoding() {
        let file = write_temp(b"{\"key\": \"\xff\"}");
        let error = read_form(file.path()).unwrap_err().to_string();
        assert!(error.contains("not UTF-8"), "{error}");
    }

    #[test]
    fn input_larger_than_limit_is_rejected() {
        let file = write_temp(&vec![b' '; MAX_INPUT_BYTES as usize + 1]);
        let error = read_limited(file.path(), "--form").unwrap_err().to_string();
        assert!(error.contains("larger than"), "{error}");
    }

    #[test]
    fn input_at_limit_is_read() {
        let file = write_temp(&vec![b' '; MAX_INPUT_BYTES as usize]);
        let bytes = read_limited(file.path(), "--form").unwrap();
        assert_eq!(bytes.len() as u64, MAX_INPUT_BYTES);
    }

    fn v4_warnings_for(policy_json: &str) -> Vec<String> {
        let instant: DateTime<Utc> = "2026-12-04T08:30:00Z".parse().unwrap();
        let credential = Credential::new("LTAI5tExampleKeyId", instant, "cn-hangzhou");
        let policy_base64 = base64::engine::general_purpose::STANDARD.encode(policy_json);
        v4_policy_warnings(&policy_base64, &credential, instant)
    }

    #[test]
    fn v4_warns_expiration_beyond_seven_days() {
        let warnings = v4_warnings_for(
            r#"{"expiration":"2026-12-31T00:00:00.000Z","conditions":[{"x-oss-signature-version":"OSS4-HMAC-SHA256"},{"x-oss-credential":"LTAI5tExampleKeyId/20261204/cn-hangzhou/oss/aliyun_v4_request"},{"x-oss-date":"20261204T083000Z"}]}"#,
        );
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("2026-12-11T08:30:00Z"), "{warnings:?}");
    }

    #[test]
    fn v4_accepts_expiration_within_seven_days() {
        let warnings = v4_warnings_for(
            r#"{"expiration":"2026-12-11T08:30:00.000Z","conditions":[{"x-oss-signature-version":"OSS4-HMAC-SHA256"},{"x-oss-credential":"LTAI5tExampleKeyId/20261204/cn-hangzhou/oss/aliyun_v4_request"},{"x-oss-date":"20261204T083000Z"}]}"#,
        );
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn v1_warns_unparsable_policy() {
        let policy_base64 = base64::engine::general_purpose::STANDARD.encode("{\"expiration\": e}");
        let warnings = v1_policy_warnings(&policy_base64, "2026-12-04T08:30:00Z".parse().unwrap());
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("unknown char e"), "{warnings:?}");
    }

    #[test]
    fn v1_warns_expired_policy() {
        let policy_base64 = base64::engine::general_purpose::STANDARD
            .encode(r#"{"expiration":"2026-12-04T09:30:00.000Z","conditions":[]}"#);
        let before = v1_policy_warnings(&policy_base64, "2026-12-04T09:29:59Z".parse().unwrap());
        let after = v1_policy_warnings(&policy_base64, "2026-12-04T09:30:00Z".parse().unwrap());
        assert!(before.is_empty(), "{before:?}");
        assert_eq!(after.len(), 1, "{after:?}");
    }
}
