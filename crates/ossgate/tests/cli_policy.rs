//! `ossgate policy sign` and `ossgate policy check`, run as processes against
//! the reference vectors.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

const SECRET: &str = "ExampleSecretKey0123456789abcdef";
const ACCESS_KEY_ID: &str = "LTAI5tExampleKeyId";

fn vectors() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../ossgate-protocol/tests/vectors/post_policy_vectors.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn text<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("vector {pointer} is missing"))
}

/// Runs `ossgate` with only the given secret variable set.
fn ossgate(arguments: &[&str], secret: Option<(&str, &str)>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ossgate"));
    command
        .args(arguments)
        .env_remove("OSS_ACCESS_KEY_SECRET")
        .env_remove("ALIBABA_CLOUD_ACCESS_KEY_SECRET");
    if let Some((name, value)) = secret {
        command.env(name, value);
    }
    command.output().unwrap()
}

fn sign(arguments: &[&str]) -> Output {
    let mut full = vec!["policy", "sign"];
    full.extend_from_slice(arguments);
    ossgate(&full, Some(("OSS_ACCESS_KEY_SECRET", SECRET)))
}

fn stdout_json(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "exit {:?}, stderr: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn sign_v1_matches_every_serialisation() {
    let vectors = vectors();
    for case in vectors["post_policy"].as_array().unwrap() {
        for serialiser in [
            "compact_utf8",
            "python_json_dumps_default",
            "go_json_marshal_map",
        ] {
            let entry = &case["v1"][serialiser];
            let policy_base64 = text(entry, "/policy_base64");
            let output = sign(&[
                "--policy-base64",
                policy_base64,
                "--access-key-id",
                ACCESS_KEY_ID,
                "--signature-version",
                "1",
            ]);
            let fields = stdout_json(&output);
            assert_eq!(fields["policy"], policy_base64);
            assert_eq!(fields["OSSAccessKeyId"], ACCESS_KEY_ID);
            assert_eq!(
                fields["Signature"],
                text(entry, "/signature"),
                "{serialiser}"
            );
        }
    }
}

#[test]
fn sign_v1_prints_fields_in_order() {
    let vectors = vectors();
    let output = sign(&[
        "--policy-base64",
        text(&vectors, "/post_policy/0/v1/compact_utf8/policy_base64"),
        "--access-key-id",
        ACCESS_KEY_ID,
        "--signature-version",
        "1",
    ]);
    let printed = stdout(&output);
    let policy = printed.find("\"policy\"").unwrap();
    let access_key_id = printed.find("\"OSSAccessKeyId\"").unwrap();
    let signature = printed.find("\"Signature\"").unwrap();
    assert!(
        policy < access_key_id && access_key_id < signature,
        "{printed}"
    );
    assert!(!printed.contains(SECRET));
}

#[test]
fn sign_v4_matches_every_serialisation() {
    let vectors = vectors();
    for case in vectors["post_policy"].as_array().unwrap() {
        for serialiser in [
            "compact_utf8",
            "python_json_dumps_default",
            "go_json_marshal_map",
        ] {
            let entry = &case["v4"][serialiser];
            let output = sign(&[
                "--policy-base64",
                text(entry, "/policy_base64"),
                "--access-key-id",
                ACCESS_KEY_ID,
                "--signature-version",
                "4",
                "--region",
                "oss-cn-hangzhou",
                "--date",
                "20261204T083000Z",
            ]);
            let fields = stdout_json(&output);
            assert_eq!(fields["policy"], text(entry, "/policy_base64"));
            assert_eq!(fields["x-oss-signature-version"], "OSS4-HMAC-SHA256");
            assert_eq!(fields["x-oss-credential"], text(entry, "/x-oss-credential"));
            assert_eq!(fields["x-oss-date"], text(entry, "/x-oss-date"));
            assert_eq!(
                fields["x-oss-signature"],
                text(entry, "/x-oss-signature"),
                "{serialiser}"
            );
            assert_eq!(stderr(&output), "", "a matching policy gets no warning");
        }
    }
}

#[test]
fn sign_policy_file_bytes_as_is() {
    let vectors = vectors();
    let entry = &vectors["post_policy"][0]["v1"]["python_json_dumps_default"];
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("policy.json");
    std::fs::write(&path, text(entry, "/policy_json")).unwrap();

    let output = sign(&[
        "--policy-file",
        path.to_str().unwrap(),
        "--access-key-id",
        ACCESS_KEY_ID,
        "--signature-version",
        "1",
    ]);
    let fields = stdout_json(&output);
    assert_eq!(fields["policy"], text(entry, "/policy_base64"));
    assert_eq!(fields["Signature"], text(entry, "/signature"));
}

#[test]
fn sign_reads_alibaba_cloud_variable() {
    let vectors = vectors();
    let entry = &vectors["post_policy"][0]["v1"]["compact_utf8"];
    let output = ossgate(
        &[
            "policy",
            "sign",
            "--policy-base64",
            text(entry, "/policy_base64"),
            "--access-key-id",
            ACCESS_KEY_ID,
            "--signature-version",
            "1",
        ],
        Some(("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)),
    );
    assert_eq!(stdout_json(&output)["Signature"], text(entry, "/signature"));
}

#[test]
fn sign_without_secret_fails() {
    let vectors = vectors();
    let output = ossgate(
        &[
            "policy",
            "sign",
            "--policy-base64",
            text(&vectors, "/post_policy/0/v1/compact_utf8/policy_base64"),
            "--access-key-id",
            ACCESS_KEY_ID,
            "--signature-version",
            "1",
        ],
        None,
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("OSS_ACCESS_KEY_SECRET"),
        "{}",
        stderr(&output)
    );
    assert!(stdout(&output).is_empty());
}

#[test]
fn sign_v4_without_region_fails() {
    let vectors = vectors();
    let output = sign(&[
        "--policy-base64",
        text(&vectors, "/post_policy/0/v4/compact_utf8/policy_base64"),
        "--access-key-id",
        ACCESS_KEY_ID,
        "--signature-version",
        "4",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("--region"), "{}", stderr(&output));
}

#[test]
fn sign_rejects_bad_date() {
    let vectors = vectors();
    let output = sign(&[
        "--policy-base64",
        text(&vectors, "/post_policy/0/v4/compact_utf8/policy_base64"),
        "--access-key-id",
        ACCESS_KEY_ID,
        "--signature-version",
        "4",
        "--region",
        "cn-hangzhou",
        "--date",
        "2026-12-04T08:30:00Z",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("2026-12-04T08:30:00Z"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn sign_rejects_bad_base64() {
    let output = sign(&[
        "--policy-base64",
        "not base64!",
        "--access-key-id",
        ACCESS_KEY_ID,
        "--signature-version",
        "1",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("not base64!"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn sign_rejects_missing_file() {
    let output = sign(&[
        "--policy-file",
        "/nonexistent/policy.json",
        "--access-key-id",
        ACCESS_KEY_ID,
        "--signature-version",
        "1",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("/nonexistent/policy.json"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn sign_v4_warns_about_missing_conditions() {
    let vectors = vectors();
    let output = sign(&[
        "--policy-base64",
        text(&vectors, "/post_policy/0/v1/compact_utf8/policy_base64"),
        "--access-key-id",
        ACCESS_KEY_ID,
        "--signature-version",
        "4",
        "--region",
        "cn-hangzhou",
        "--date",
        "20261204T083000Z",
    ]);
    assert!(output.status.success());
    let warnings = stderr(&output);
    for name in ["x-oss-signature-version", "x-oss-credential", "x-oss-date"] {
        assert!(warnings.contains(name), "{name}: {warnings}");
    }
}

#[test]
fn sign_v4_warns_about_other_date() {
    let vectors = vectors();
    let output = sign(&[
        "--policy-base64",
        text(&vectors, "/post_policy/0/v4/compact_utf8/policy_base64"),
        "--access-key-id",
        ACCESS_KEY_ID,
        "--signature-version",
        "4",
        "--region",
        "cn-hangzhou",
        "--date",
        "20261205T083000Z",
    ]);
    assert!(output.status.success());
    let warnings = stderr(&output);
    assert!(warnings.contains("x-oss-date"), "{warnings}");
    assert!(warnings.contains("x-oss-credential"), "{warnings}");
    assert!(warnings.contains("expired"), "{warnings}");
}

fn check(policy_base64: &str, form: &Value, extra: &[&str]) -> Output {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("form.json");
    std::fs::write(&path, form.to_string()).unwrap();
    let mut arguments = vec![
        "policy",
        "check",
        "--policy-base64",
        policy_base64,
        "--form",
        path.to_str().unwrap(),
    ];
    arguments.extend_from_slice(extra);
    ossgate(&arguments, None)
}

fn basic_policy(vectors: &Value) -> &str {
    text(
        vectors,
        "/post_policy/0/v1/go_json_marshal_map/policy_base64",
    )
}

#[test]
fn check_accepts_satisfying_form() {
    let vectors = vectors();
    let form = serde_json::json!({"bucket": "examplebucket", "Key": "user-dir/${filename}"});
    let output = check(
        basic_policy(&vectors),
        &form,
        &["--size", "10485760", "--now", "2026-12-04T09:00:00Z"],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert!(stdout(&output).starts_with("OK"), "{}", stdout(&output));
}

#[test]
fn check_reports_failed_condition() {
    let vectors = vectors();
    let form = serde_json::json!({"bucket": "examplebucket", "key": "other/a.txt"});
    let output = check(
        basic_policy(&vectors),
        &form,
        &["--now", "2026-12-04T09:00:00Z"],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).contains(
            r#"Invalid according to Policy: Policy Condition failed: ["starts-with", "$key", "user-dir/"]"#
        ),
        "{}",
        stdout(&output)
    );
}

#[test]
fn check_reports_expired_policy() {
    let vectors = vectors();
    let form = serde_json::json!({"bucket": "examplebucket", "key": "user-dir/a.txt"});
    let output = check(
        basic_policy(&vectors),
        &form,
        &["--now", "2026-12-04T09:30:01Z"],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).contains("Invalid according to Policy: Policy expired."),
        "{}",
        stdout(&output)
    );
}

#[test]
fn check_reports_size_above_range() {
    let vectors = vectors();
    let form = serde_json::json!({"bucket": "examplebucket", "key": "user-dir/a.txt"});
    let output = check(
        basic_policy(&vectors),
        &form,
        &["--size", "10485761", "--now", "2026-12-04T09:00:00Z"],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output)
            .contains("EntityTooLarge: Your proposed upload exceeds the maximum allowed size."),
        "{}",
        stdout(&output)
    );
}

#[test]
fn check_reports_invalid_policy_document() {
    let policy_base64 = "eyJjb25kaXRpb25zIjpbXX0="; // {"conditions":[]}
    let output = check(policy_base64, &serde_json::json!({}), &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).contains("InvalidPolicyDocument: Invalid Policy: Missing expiration."),
        "{}",
        stdout(&output)
    );
}

#[test]
fn check_rejects_bad_base64() {
    let output = check("%%%", &serde_json::json!({}), &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("%%%"), "{}", stderr(&output));
}

#[test]
fn check_rejects_unreadable_form() {
    let vectors = vectors();
    let output = ossgate(
        &[
            "policy",
            "check",
            "--policy-base64",
            basic_policy(&vectors),
            "--form",
            "/nonexistent/form.json",
        ],
        None,
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("/nonexistent/form.json"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn check_rejects_form_that_is_not_an_object() {
    let vectors = vectors();
    let output = check(basic_policy(&vectors), &serde_json::json!(["key"]), &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("JSON object"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn check_rejects_bad_now() {
    let vectors = vectors();
    let output = check(
        basic_policy(&vectors),
        &serde_json::json!({}),
        &["--now", "tomorrow"],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("tomorrow"), "{}", stderr(&output));
}
