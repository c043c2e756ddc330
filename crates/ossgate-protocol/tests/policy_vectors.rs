//! Policy serialisation and parsing, checked against the policies Alibaba's
//! SDKs serialised in `vectors/post_policy_vectors.json` and the published
//! examples.

use base64::Engine as _;
use chrono::{DateTime, TimeZone, Utc};
use ossgate_protocol::{Condition, Policy};
use serde_json::Value;

const SERIALISERS: [&str; 3] = [
    "compact_utf8",
    "python_json_dumps_default",
    "go_json_marshal_map",
];

fn vectors() -> Value {
    serde_json::from_str(include_str!("vectors/post_policy_vectors.json")).unwrap()
}

fn text<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("vector {pointer} is missing"))
}

/// Every (case name, version, logical policy object, serialisations) in the vectors.
fn policy_cases(vectors: &Value) -> Vec<(String, &'static str, &Value, &Value)> {
    let mut cases = Vec::new();
    for case in vectors["post_policy"].as_array().unwrap() {
        let name = text(case, "/name").to_owned();
        cases.push((name.clone(), "v1", &case["v1_policy_object"], &case["v1"]));
        cases.push((name, "v4", &case["v4_policy_object"], &case["v4"]));
    }
    cases
}

fn expected_basic_policy() -> Policy {
    Policy::new(Utc.with_ymd_and_hms(2026, 12, 4, 9, 30, 0).unwrap())
        .with(Condition::Exact {
            field: "bucket".to_owned(),
            value: "examplebucket".to_owned(),
        })
        .with(Condition::StartsWith {
            field: "key".to_owned(),
            prefix: "user-dir/".to_owned(),
        })
        .with(Condition::ContentLengthRange {
            min: 0,
            max: 10_485_760,
        })
}

#[test]
fn to_json_reproduces_compact_vectors() {
    let vectors = vectors();
    for (name, version, object, serialisations) in policy_cases(&vectors) {
        let policy = Policy::from_json(object.to_string().as_bytes()).unwrap();
        assert_eq!(
            policy.to_json(),
            text(serialisations, "/compact_utf8/policy_json"),
            "{name} {version}"
        );
        assert_eq!(
            policy.to_base64(),
            text(serialisations, "/compact_utf8/policy_base64"),
            "{name} {version}"
        );
    }
}

#[test]
fn built_policy_matches_basic_vector() {
    let vectors = vectors();
    assert_eq!(
        expected_basic_policy().to_json(),
        text(&vectors, "/post_policy/0/v1/compact_utf8/policy_json")
    );
}

#[test]
fn in_condition_parses_to_model() {
    let vectors = vectors();
    let object = &vectors["post_policy"][1]["v1_policy_object"];
    let policy = Policy::from_json(object.to_string().as_bytes()).unwrap();
    assert_eq!(
        policy.conditions[3],
        Condition::In {
            field: "content-type".to_owned(),
            values: vec!["image/jpeg".to_owned(), "image/png".to_owned()],
        }
    );
}

#[test]
fn every_serialisation_parses_to_same_policy() {
    let vectors = vectors();
    for (name, version, object, serialisations) in policy_cases(&vectors) {
        let logical = Policy::from_json(object.to_string().as_bytes()).unwrap();
        for serialiser in SERIALISERS {
            let json = text(serialisations, &format!("/{serialiser}/policy_json"));
            let base64 = text(serialisations, &format!("/{serialiser}/policy_base64"));
            assert_eq!(
                Policy::from_json(json.as_bytes()).unwrap(),
                logical,
                "{name} {version} {serialiser} json"
            );
            assert_eq!(
                Policy::from_base64(base64).unwrap(),
                logical,
                "{name} {version} {serialiser} base64"
            );
        }
    }
}

#[test]
fn basic_vector_parses_to_model() {
    let vectors = vectors();
    let policy = Policy::from_base64(text(
        &vectors,
        "/post_policy/0/v1/go_json_marshal_map/policy_base64",
    ))
    .unwrap();
    assert_eq!(policy, expected_basic_policy());
}

#[test]
fn escaped_policies_renormalise_like_ali_oss() {
    let vectors = vectors();
    let examples = vectors["ali_oss_renormalises_string_policies"]["examples"]
        .as_object()
        .unwrap();
    for (name, example) in examples {
        let policy = Policy::from_json(text(example, "/input").as_bytes()).unwrap();
        assert_eq!(policy.to_json(), text(example, "/signed_json"), "{name}");
    }
}

#[test]
fn published_v1_policy_without_millis_parses() {
    let policy_base64 = "eyJjb25kaXRpb25zIjpbWyJjb250ZW50LWxlbmd0aC1yYW5nZSIsMCwxMDQ4NTc2MF0seyJidWNrZXQiOiJhaGFoYSJ9LHsiQSI6ImEifSx7ImtleSI6IkFCQyJ9XSwiZXhwaXJhdGlvbiI6IjIwMTMtMTItMDFUMTI6MDA6MDBaIn0=";
    let policy = Policy::from_base64(policy_base64).unwrap();
    assert_eq!(
        policy.expiration,
        Utc.with_ymd_and_hms(2013, 12, 1, 12, 0, 0).unwrap()
    );
    assert_eq!(
        policy.to_json(),
        "{\"expiration\":\"2013-12-01T12:00:00.000Z\",\"conditions\":[[\"content-length-range\",0,10485760],{\"bucket\":\"ahaha\"},{\"A\":\"a\"},{\"key\":\"ABC\"}]}"
    );
}

#[test]
fn go_sample_policy_parses() {
    let policy_base64 = "eyJleHBpcmF0aW9uIjoiMjAyMy0xMS0xNFQyMjoxMzoyMFoiLCJjb25kaXRpb25zIjpbWyJzdGFydHMtd2l0aCIsIiRrZXkiLCJ1c2VyLWRpci1wcmVmaXgvIl1dfQ==";
    let policy = Policy::from_base64(policy_base64).unwrap();
    assert_eq!(
        policy.expiration,
        DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    );
    assert_eq!(
        policy.conditions,
        vec![Condition::StartsWith {
            field: "key".to_owned(),
            prefix: "user-dir-prefix/".to_owned(),
        }]
    );
}

#[test]
fn expiration_keeps_milliseconds() {
    let policy =
        Policy::from_json(br#"{"expiration":"2026-12-04T09:30:00.5Z","conditions":[]}"#).unwrap();
    assert_eq!(
        policy.to_json(),
        r#"{"expiration":"2026-12-04T09:30:00.500Z","conditions":[]}"#
    );
}

#[test]
fn expiration_is_written_in_utc() {
    let policy =
        Policy::from_json(br#"{"expiration":"2026-12-04T09:30:00+00:00","conditions":[]}"#)
            .unwrap();
    assert_eq!(
        policy.to_json(),
        r#"{"expiration":"2026-12-04T09:30:00.000Z","conditions":[]}"#
    );
}

#[test]
fn to_json_escapes_like_json_stringify() {
    let policy =
        Policy::new(Utc.with_ymd_and_hms(2026, 12, 4, 9, 30, 0).unwrap()).with(Condition::Eq {
            field: "x-oss-meta-note".to_owned(),
            value: "a \"b\" \\ / \t\u{1f} 上传 \u{2028}".to_owned(),
        });
    assert_eq!(
        policy.to_json(),
        "{\"expiration\":\"2026-12-04T09:30:00.000Z\",\"conditions\":[[\"eq\",\"$x-oss-meta-note\",\"a \\\"b\\\" \\\\ / \\t\\u001f 上传 \u{2028}\"]]}"
    );
}

#[test]
fn json_written_matches_serde_json_reading() {
    // The written document must read back as the same JSON value with a
    // general parser, escapes included.
    let policy =
        Policy::new(Utc.with_ymd_and_hms(2026, 12, 4, 9, 30, 0).unwrap()).with(Condition::NotIn {
            field: "cache-control".to_owned(),
            values: vec!["no-cache".to_owned(), "\u{7}\"".to_owned()],
        });
    let value: Value = serde_json::from_str(&policy.to_json()).unwrap();
    assert_eq!(value["conditions"][0][2][1], "\u{7}\"");
}

#[test]
fn content_length_range_intersects_conditions() {
    let policy = expected_basic_policy().with(Condition::ContentLengthRange {
        min: 10,
        max: 20_000_000,
    });
    assert_eq!(policy.content_length_range(), Some((10, 10_485_760)));
    let no_range = Policy::new(Utc::now());
    assert_eq!(no_range.content_length_range(), None);
}

#[test]
fn base64_without_padding_is_accepted() {
    let json = r#"{"expiration":"2026-12-04T09:30:00.000Z","conditions":[]}"#;
    let unpadded = base64::engine::general_purpose::STANDARD_NO_PAD.encode(json);
    assert!(Policy::from_base64(&unpadded).is_ok());
}
