//! Policy evaluation against form fields, with OSS's messages.

use chrono::{DateTime, Duration, TimeZone, Utc};
use ossgate_protocol::{Condition, FormFields, Policy, PolicyViolation};

fn expiration() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 4, 9, 30, 0).unwrap()
}

fn before_expiration() -> DateTime<Utc> {
    expiration() - Duration::minutes(5)
}

fn policy(conditions: &str) -> Policy {
    Policy::from_json(
        format!(r#"{{"expiration":"2026-12-04T09:30:00.000Z","conditions":[{conditions}]}}"#)
            .as_bytes(),
    )
    .unwrap()
}

fn form(fields: &[(&str, &str)]) -> FormFields {
    fields.iter().copied().collect()
}

fn failed(message: &str) -> Result<(), PolicyViolation> {
    Err(PolicyViolation::ConditionFailed(message.to_owned()))
}

#[test]
fn satisfied_policy_passes() {
    let policy = policy(
        r#"{"bucket":"examplebucket"},["starts-with","$key","user/eric/"],["content-length-range",1,100],["in","$content-type",["image/jpeg","image/png"]],["not-in","$cache-control",["no-cache"]],["eq","$success_action_status","201"]"#,
    );
    let fields = form(&[
        ("bucket", "examplebucket"),
        ("key", "user/eric/${filename}"),
        ("Content-Type", "image/png"),
        ("Cache-Control", "max-age=60"),
        ("success_action_status", "201"),
    ]);
    assert_eq!(
        policy.evaluate(&fields, Some(100), before_expiration()),
        Ok(())
    );
}

#[test]
fn expired_policy_is_rejected_first() {
    let policy = policy(r#"["starts-with","$key","user/eric/"]"#);
    let result = policy.evaluate(&form(&[("key", "other")]), None, expiration());
    assert_eq!(result, Err(PolicyViolation::Expired));
    assert_eq!(
        result.unwrap_err().to_string(),
        "Invalid according to Policy: Policy expired."
    );
}

#[test]
fn starts_with_failure_uses_oss_message() {
    let policy = policy(r#"["starts-with","$key","user/eric/"]"#);
    let result = policy.evaluate(
        &form(&[("key", "user/bob/a.txt")]),
        None,
        before_expiration(),
    );
    assert_eq!(result, failed(r#"["starts-with", "$key", "user/eric/"]"#));
    assert_eq!(
        result.unwrap_err().to_string(),
        r#"Invalid according to Policy: Policy Condition failed: ["starts-with", "$key", "user/eric/"]"#
    );
}

#[test]
fn exact_condition_is_rendered_as_eq() {
    let policy = policy(r#"{"bucket":"examplebucket"}"#);
    let result = policy.evaluate(&form(&[("bucket", "other")]), None, before_expiration());
    assert_eq!(result, failed(r#"["eq", "$bucket", "examplebucket"]"#));
}

#[test]
fn missing_field_fails_its_condition() {
    let cases = [
        (
            r#"{"x-oss-meta-owner":"eric"}"#,
            r#"["eq", "$x-oss-meta-owner", "eric"]"#,
        ),
        (
            r#"["eq","$success_action_status","201"]"#,
            r#"["eq", "$success_action_status", "201"]"#,
        ),
        (
            r#"["starts-with","$key",""]"#,
            r#"["starts-with", "$key", ""]"#,
        ),
        (
            r#"["in","$content-type",["image/png"]]"#,
            r#"["in", "$content-type", ["image/png"]]"#,
        ),
        (
            r#"["not-in","$cache-control",["no-cache"]]"#,
            r#"["not-in", "$cache-control", ["no-cache"]]"#,
        ),
    ];
    for (condition, message) in cases {
        let result = policy(condition).evaluate(&FormFields::new(), None, before_expiration());
        assert_eq!(result, failed(message), "{condition}");
    }
}

#[test]
fn field_names_match_case_insensitively() {
    let policy = policy(r#"["eq","$Content-Type","image/png"],{"KEY":"a.txt"}"#);
    let fields = form(&[("content-type", "image/png"), ("Key", "a.txt")]);
    assert_eq!(policy.evaluate(&fields, None, before_expiration()), Ok(()));
}

#[test]
fn values_match_case_sensitively() {
    let policy = policy(r#"["eq","$content-type","image/png"]"#);
    let result = policy.evaluate(
        &form(&[("content-type", "IMAGE/PNG")]),
        None,
        before_expiration(),
    );
    assert_eq!(result, failed(r#"["eq", "$content-type", "image/png"]"#));
}

#[test]
fn key_is_checked_before_filename_expansion() {
    let policy = policy(r#"{"key":"user/${filename}"}"#);
    let passes = policy.evaluate(
        &form(&[("key", "user/${filename}")]),
        None,
        before_expiration(),
    );
    assert_eq!(passes, Ok(()));
    let expanded = policy.evaluate(
        &form(&[("key", "user/photo.png")]),
        None,
        before_expiration(),
    );
    assert_eq!(expanded, failed(r#"["eq", "$key", "user/${filename}"]"#));
}

#[test]
fn in_and_not_in_check_membership() {
    let policy = policy(
        r#"["in","$content-type",["image/jpeg","image/png"]],["not-in","$cache-control",["no-cache","no-store"]]"#,
    );
    let not_listed = form(&[("content-type", "text/html"), ("cache-control", "public")]);
    assert_eq!(
        policy.evaluate(&not_listed, None, before_expiration()),
        failed(r#"["in", "$content-type", ["image/jpeg", "image/png"]]"#)
    );
    let denied = form(&[
        ("content-type", "image/jpeg"),
        ("cache-control", "no-store"),
    ]);
    assert_eq!(
        policy.evaluate(&denied, None, before_expiration()),
        failed(r#"["not-in", "$cache-control", ["no-cache", "no-store"]]"#)
    );
}

#[test]
fn size_above_range_is_too_large() {
    let policy = policy(r#"["content-length-range",10,100]"#);
    let result = policy.evaluate(&FormFields::new(), Some(101), before_expiration());
    assert_eq!(result, Err(PolicyViolation::EntityTooLarge));
    assert_eq!(
        result.unwrap_err().to_string(),
        "Your proposed upload exceeds the maximum allowed size."
    );
}

#[test]
fn size_below_range_is_too_small() {
    let policy = policy(r#"["content-length-range",10,100]"#);
    let result = policy.evaluate(&FormFields::new(), Some(9), before_expiration());
    assert_eq!(result, Err(PolicyViolation::EntityTooSmall));
    assert_eq!(
        result.unwrap_err().to_string(),
        "Your proposed upload smaller than the minimum allowed size."
    );
}

#[test]
fn size_range_bounds_are_inclusive() {
    let policy = policy(r#"["content-length-range",10,100]"#);
    assert_eq!(
        policy.evaluate(&FormFields::new(), Some(10), before_expiration()),
        Ok(())
    );
    assert_eq!(
        policy.evaluate(&FormFields::new(), Some(100), before_expiration()),
        Ok(())
    );
}

#[test]
fn size_range_is_skipped_without_size() {
    let policy = policy(r#"["content-length-range",10,100]"#);
    assert_eq!(
        policy.evaluate(&FormFields::new(), None, before_expiration()),
        Ok(())
    );
}

#[test]
fn conditions_fail_in_order() {
    let policy = policy(r#"["starts-with","$key","a/"],{"bucket":"b"}"#);
    let result = policy.evaluate(&FormFields::new(), None, before_expiration());
    assert_eq!(result, failed(r#"["starts-with", "$key", "a/"]"#));
}

#[test]
fn bucket_comes_from_request_not_form() {
    let policy = policy(r#"{"bucket":"examplebucket"}"#);
    let spoofed = form(&[("bucket", "examplebucket")]);
    assert_eq!(
        policy.evaluate_in_bucket("otherbucket", &spoofed, None, before_expiration()),
        failed(r#"["eq", "$bucket", "examplebucket"]"#)
    );
    assert_eq!(
        policy.evaluate_in_bucket(
            "examplebucket",
            &FormFields::new(),
            None,
            before_expiration()
        ),
        Ok(())
    );
}

#[test]
fn message_escapes_quotes_in_values() {
    let policy = Policy::new(expiration()).with(Condition::Eq {
        field: "x-oss-meta-note".to_owned(),
        value: "say \"hi\"".to_owned(),
    });
    let result = policy.evaluate(&FormFields::new(), None, before_expiration());
    assert_eq!(
        result,
        failed(r#"["eq", "$x-oss-meta-note", "say \"hi\""]"#)
    );
}

#[test]
fn v4_conditions_are_checked_against_form() {
    let policy = policy(
        r#"{"x-oss-signature-version":"OSS4-HMAC-SHA256"},{"x-oss-credential":"LTAI5tExampleKeyId/20261204/cn-hangzhou/oss/aliyun_v4_request"},{"x-oss-date":"20261204T083000Z"}"#,
    );
    let fields = form(&[
        ("x-oss-signature-version", "OSS4-HMAC-SHA256"),
        (
            "x-oss-credential",
            "LTAI5tExampleKeyId/20261204/cn-hangzhou/oss/aliyun_v4_request",
        ),
        ("x-oss-date", "20261204T083001Z"),
    ]);
    assert_eq!(
        policy.evaluate(&fields, None, before_expiration()),
        failed(r#"["eq", "$x-oss-date", "20261204T083000Z"]"#)
    );
}

#[test]
fn violation_codes_match_oss() {
    assert_eq!(PolicyViolation::Expired.code(), "AccessDenied");
    assert_eq!(PolicyViolation::Expired.ec(), Some("0006-00000213"));
    assert_eq!(PolicyViolation::EntityTooLarge.code(), "EntityTooLarge");
    assert_eq!(PolicyViolation::EntityTooSmall.code(), "EntityTooSmall");
    assert_eq!(
        PolicyViolation::ConditionFailed(String::new()).code(),
        "AccessDenied"
    );
}
