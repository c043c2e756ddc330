//! Invalid policy documents get OSS's messages and EC codes.

use ossgate_protocol::{Policy, PolicyError};

fn parse_error(json: &str) -> PolicyError {
    Policy::from_json(json.as_bytes()).expect_err(json)
}

#[test]
fn missing_expiration_is_rejected() {
    let error = parse_error(r#"{"conditions":[["content-length-range",0,1048576000]]}"#);
    assert_eq!(error, PolicyError::MissingExpiration);
    assert_eq!(error.ec(), Some("0006-00000208"));
}

#[test]
fn non_string_expiration_is_rejected() {
    let error = parse_error(r#"{"expiration":1700000000,"conditions":[]}"#);
    assert_eq!(error, PolicyError::ExpirationNotString);
    assert_eq!(error.ec(), Some("0006-00000209"));
}

#[test]
fn empty_expiration_is_rejected() {
    let error = parse_error(r#"{"expiration":"","conditions":[]}"#);
    assert_eq!(error, PolicyError::EmptyExpiration);
    assert_eq!(error.ec(), Some("0006-00000210"));
}

#[test]
fn malformed_expiration_is_rejected() {
    for value in [
        "tomorrow",
        "2026-12-04",
        "2026-12-04 09:30:00Z",
        "2026-12-04T17:30:00+08:00",
        "2026-13-04T09:30:00Z",
    ] {
        let error = parse_error(&format!(r#"{{"expiration":"{value}","conditions":[]}}"#));
        assert_eq!(error, PolicyError::InvalidExpiration(value.to_owned()));
        assert_eq!(error.ec(), Some("0006-00000211"));
        assert!(error.to_string().contains(value), "{error}");
    }
}

#[test]
fn missing_conditions_are_rejected() {
    let error = parse_error(r#"{"expiration":"2026-12-04T09:30:00.000Z"}"#);
    assert_eq!(error, PolicyError::MissingConditions);
}

#[test]
fn simple_condition_needs_one_property() {
    for condition in [r#"{}"#, r#"{"bucket":"a","key":"b"}"#] {
        let error = parse_error(&format!(
            r#"{{"expiration":"2026-12-04T09:30:00.000Z","conditions":[{condition}]}}"#
        ));
        assert_eq!(error, PolicyError::SimpleConditionProperties);
        assert_eq!(
            error.to_string(),
            "Invalid Policy: Invalid Simple-Condition: Simple-Conditions must have exactly one property specified."
        );
    }
}

#[test]
fn bad_json_gets_oss_wording() {
    let cases = [
        (
            r#"{"expiration": e}"#,
            "Invalid Policy: Invalid JSON: unknown char e",
        ),
        (
            r#"{"expiration":"2026-12-04T09:30:00.000Z","conditions":[["eq","$key","a"] {"bucket":"b"}]}"#,
            "Invalid Policy: Invalid JSON: , or ] expected",
        ),
        (
            r#"{"expiration""#,
            "Invalid Policy: Invalid JSON: unexpected end of input",
        ),
    ];
    for (json, message) in cases {
        assert_eq!(parse_error(json).to_string(), message, "{json}");
    }
}

#[test]
fn non_object_document_is_rejected() {
    assert!(matches!(parse_error("[]"), PolicyError::InvalidJson(_)));
}

#[test]
fn bad_base64_is_rejected() {
    assert_eq!(
        Policy::from_base64("not base64!").unwrap_err(),
        PolicyError::InvalidBase64
    );
}

#[test]
fn content_length_range_min_above_max_is_rejected() {
    let error = parse_error(
        r#"{"expiration":"2026-12-04T09:30:00.000Z","conditions":[["content-length-range",10,5]]}"#,
    );
    assert!(matches!(error, PolicyError::InvalidContentLengthRange(_)));
    assert!(error.to_string().contains("10"), "{error}");
}

#[test]
fn content_length_range_negative_is_rejected() {
    for range in ["-1,5", "0,-5", "\"-1\",5"] {
        let error = parse_error(&format!(
            r#"{{"expiration":"2026-12-04T09:30:00.000Z","conditions":[["content-length-range",{range}]]}}"#
        ));
        assert!(
            matches!(error, PolicyError::InvalidContentLengthRange(_)),
            "{range}: {error:?}"
        );
        assert!(error.to_string().contains("negative"), "{range}: {error}");
    }
}

#[test]
fn content_length_range_fraction_is_rejected() {
    let error = parse_error(
        r#"{"expiration":"2026-12-04T09:30:00.000Z","conditions":[["content-length-range",0.5,5]]}"#,
    );
    assert!(matches!(error, PolicyError::InvalidContentLengthRange(_)));
}

#[test]
fn content_length_range_accepts_digit_strings() {
    let policy = Policy::from_json(
        br#"{"expiration":"2026-12-04T09:30:00.000Z","conditions":[["content-length-range","1","1024"]]}"#,
    )
    .unwrap();
    assert_eq!(policy.content_length_range(), Some((1, 1024)));
}

#[test]
fn unknown_operator_is_rejected() {
    let error = parse_error(
        r#"{"expiration":"2026-12-04T09:30:00.000Z","conditions":[["ends-with","$key","a"]]}"#,
    );
    assert_eq!(error, PolicyError::UnknownOperator("ends-with".to_owned()));
    assert!(error.to_string().contains("ends-with"));
}

#[test]
fn operator_case_is_ignored() {
    let policy = Policy::from_json(
        br#"{"expiration":"2026-12-04T09:30:00.000Z","conditions":[["Starts-With","$key","a"]]}"#,
    )
    .unwrap();
    assert_eq!(policy.conditions.len(), 1);
}

#[test]
fn field_without_dollar_is_rejected() {
    let error =
        parse_error(r#"{"expiration":"2026-12-04T09:30:00.000Z","conditions":[["eq","key","a"]]}"#);
    assert!(matches!(error, PolicyError::InvalidCondition(_)));
    assert!(error.to_string().contains("'$'"), "{error}");
}

#[test]
fn in_with_string_is_rejected() {
    let error = parse_error(
        r#"{"expiration":"2026-12-04T09:30:00.000Z","conditions":[["not-in","$cache-control","no-cache"]]}"#,
    );
    assert!(matches!(error, PolicyError::InvalidCondition(_)));
    assert_eq!(error.ec(), Some("0006-00000224"));
}

#[test]
fn wrong_arity_is_rejected() {
    let error =
        parse_error(r#"{"expiration":"2026-12-04T09:30:00.000Z","conditions":[["eq","$key"]]}"#);
    assert!(matches!(error, PolicyError::InvalidCondition(_)));
}

#[test]
fn scalar_condition_is_rejected() {
    let error = parse_error(r#"{"expiration":"2026-12-04T09:30:00.000Z","conditions":["key"]}"#);
    assert!(matches!(error, PolicyError::InvalidCondition(_)));
}

#[test]
fn non_string_simple_value_is_rejected() {
    let error = parse_error(
        r#"{"expiration":"2026-12-04T09:30:00.000Z","conditions":[{"success_action_status":201}]}"#,
    );
    assert!(matches!(error, PolicyError::InvalidCondition(_)));
    assert!(
        error.to_string().contains("success_action_status"),
        "{error}"
    );
}
