//! Regression tests for faults found by probing the protocol core from the
//! outside: hostile policy documents, odd `x-oss-date` values and secrets that
//! could reach `Debug` output.

use chrono::{DateTime, Utc};
use ossgate_protocol::form::FormSigner;
use ossgate_protocol::v4;
use ossgate_protocol::{Condition, Credentials, Policy, PolicyError, SignatureVersion};

const TOKEN: &str = "CAIS-review-example-token";

fn now() -> DateTime<Utc> {
    "2026-12-04T08:30:00Z".parse().unwrap()
}

fn sts_credentials() -> Credentials {
    Credentials::new("LTAI5tExampleKeyId", "ExampleSecretKey0123456789abcdef")
        .with_security_token(TOKEN)
}

#[test]
fn x_oss_date_rejects_leap_second() {
    // chrono reads second 60 as a leap second, which no x-oss-date carries.
    assert_eq!(v4::parse_x_oss_date("20231114T235960Z"), None);
}

#[test]
fn x_oss_date_accepts_last_second_of_day() {
    let parsed = v4::parse_x_oss_date("20231114T235959Z").unwrap();
    assert_eq!(v4::format_x_oss_date(parsed), "20231114T235959Z");
}

#[test]
fn simple_condition_with_repeated_key_is_rejected() {
    // serde_json keeps only the last value, so this would read as one property
    // and let the second value silently win.
    let json = br#"{"expiration":"2099-01-01T00:00:00.000Z","conditions":[{"key":"a","key":"b"}]}"#;
    assert_eq!(
        Policy::from_json(json),
        Err(PolicyError::SimpleConditionProperties)
    );
}

#[test]
fn repeated_expiration_is_rejected() {
    let json = br#"{"expiration":"2099-01-01T00:00:00.000Z","expiration":"2000-01-01T00:00:00.000Z","conditions":[]}"#;
    let error = Policy::from_json(json).unwrap_err();
    assert!(
        matches!(&error, PolicyError::InvalidJson(detail) if detail.contains("expiration")),
        "{error}"
    );
}

#[test]
fn repeated_conditions_member_is_rejected() {
    let json =
        br#"{"expiration":"2099-01-01T00:00:00.000Z","conditions":[{"key":"a"}],"conditions":[]}"#;
    let error = Policy::from_json(json).unwrap_err();
    assert!(
        matches!(&error, PolicyError::InvalidJson(detail) if detail.contains("conditions")),
        "{error}"
    );
}

#[test]
fn repeated_key_in_ignored_member_is_accepted() {
    // Members other than expiration and conditions are ignored, whatever they hold.
    let json = br#"{"expiration":"2099-01-01T00:00:00.000Z","conditions":[],"note":{"a":1,"a":2}}"#;
    assert!(Policy::from_json(json).is_ok());
}

#[test]
fn policy_that_is_not_utf8_names_the_encoding() {
    let error = Policy::from_json(b"\xff\xfe{}").unwrap_err();
    assert!(
        matches!(&error, PolicyError::InvalidJson(detail) if detail.contains("UTF-8")),
        "{error}"
    );
    assert!(!error.to_string().contains('\u{fffd}'), "{error}");
}

#[test]
fn policy_with_invalid_utf8_in_string_names_the_encoding() {
    let error = Policy::from_json(b"{\"expiration\":\"\xc3\x28\",\"conditions\":[]}").unwrap_err();
    assert!(
        matches!(&error, PolicyError::InvalidJson(detail) if detail.contains("UTF-8")),
        "{error}"
    );
}

#[test]
fn oversized_length_bound_says_it_does_not_fit() {
    let json = br#"{"expiration":"2099-01-01T00:00:00.000Z","conditions":[["content-length-range",0,18446744073709551616]]}"#;
    let error = Policy::from_json(json).unwrap_err();
    assert!(error.to_string().contains("64 bits"), "{error}");
}

#[test]
fn exponent_length_bound_asks_for_integer() {
    let json = br#"{"expiration":"2099-01-01T00:00:00.000Z","conditions":[["content-length-range",0,1e3]]}"#;
    let error = Policy::from_json(json).unwrap_err();
    assert!(error.to_string().contains("integers"), "{error}");
}

#[test]
fn fractional_length_bound_asks_for_whole_bytes() {
    let json = br#"{"expiration":"2099-01-01T00:00:00.000Z","conditions":[["content-length-range",0,1.5]]}"#;
    let error = Policy::from_json(json).unwrap_err();
    assert!(error.to_string().contains("whole numbers"), "{error}");
}

#[test]
fn signed_v4_form_debug_hides_security_token() {
    let signer = FormSigner::new(sts_credentials(), SignatureVersion::V4, "cn-hangzhou");
    let policy = Policy::new("2026-12-04T09:30:00Z".parse().unwrap());
    let signed = signer.sign(policy, now());

    let debug = format!("{signed:?}");
    assert!(!debug.contains(TOKEN), "{debug}");
    assert!(!debug.contains(&signed.policy_base64), "{debug}");
    assert_eq!(
        signed.fields.get("x-oss-security-token"),
        Some(TOKEN),
        "the field itself keeps the token"
    );
}

#[test]
fn signed_v1_form_debug_hides_security_token() {
    let signer = FormSigner::new(sts_credentials(), SignatureVersion::V1, "");
    let signed = signer.sign(Policy::new("2026-12-04T09:30:00Z".parse().unwrap()), now());

    let debug = format!("{signed:?}");
    assert!(!debug.contains(TOKEN), "{debug}");
    assert!(debug.contains("OSSAccessKeyId"), "{debug}");
}

#[test]
fn v4_signing_replaces_eq_conditions_on_v4_fields() {
    let signer = FormSigner::new(
        Credentials::new("LTAI5tExampleKeyId", "ExampleSecretKey0123456789abcdef"),
        SignatureVersion::V4,
        "cn-hangzhou",
    );
    let stale = Condition::Eq {
        field: "x-oss-date".to_owned(),
        value: "20000101T000000Z".to_owned(),
    };
    let policy = Policy::new("2026-12-04T09:30:00Z".parse().unwrap()).with(stale.clone());
    let signed = signer.sign(policy, now());

    assert!(!signed.policy.conditions.contains(&stale));
    assert!(signed.policy.evaluate(&signed.fields, None, now()).is_ok());
}

#[test]
fn byte_order_mark_is_named_by_code_point() {
    let error = Policy::from_json(b"\xef\xbb\xbf{}").unwrap_err();
    assert_eq!(
        error,
        PolicyError::InvalidJson("unknown char U+FEFF".to_owned())
    );
}

#[test]
fn visible_unknown_char_keeps_oss_wording() {
    let error = Policy::from_json(b"{\"expiration\": e}").unwrap_err();
    assert_eq!(error, PolicyError::InvalidJson("unknown char e".to_owned()));
}

#[test]
fn region_parse_accepts_both_spellings() {
    assert_eq!(v4::parse_region("oss-cn-hangzhou"), Ok("cn-hangzhou"));
    assert_eq!(v4::parse_region("cn-hangzhou"), Ok("cn-hangzhou"));
    assert_eq!(v4::parse_region("ap-southeast-1"), Ok("ap-southeast-1"));
}

#[test]
fn region_parse_rejects_malformed_ids() {
    // Each of these made a credential scope OSS cannot match, such as
    // `AK/20261204//oss/aliyun_v4_request` for an empty region.
    for region in [
        "",
        "oss-",
        "cn-hangzhou/oss",
        "OSS-CN-HANGZHOU",
        "cn hangzhou",
        "-x",
    ] {
        assert!(v4::parse_region(region).is_err(), "{region:?}");
    }
}

mod callback_review {
    use ossgate_protocol::verify::{string_to_sign, TrustedKeyUrl, UntrustedReason};
    use ossgate_protocol::{CallbackPublicKey, KeyUrlPolicy, VerifyError};

    #[test]
    fn path_decoding_to_line_break_is_rejected() {
        let error = string_to_sign("/oss/callback%0A%7B%22a%22:1", b"x").unwrap_err();
        assert_eq!(
            error,
            VerifyError::PathContainsLineBreak("/oss/callback%0A%7B%22a%22:1".to_owned())
        );
    }

    #[test]
    fn line_break_in_query_is_still_signed_raw() {
        let message = string_to_sign("/cb?a=%0A", b"body").unwrap();
        assert_eq!(message, b"/cb?a=%0A\nbody");
    }

    #[test]
    fn empty_key_text_is_named() {
        let error = CallbackPublicKey::from_pem("").unwrap_err();
        assert_eq!(
            error,
            VerifyError::BadKey("the key text is empty".to_owned())
        );
    }

    #[test]
    fn non_pem_key_text_is_named() {
        let VerifyError::BadKey(message) = CallbackPublicKey::from_pem("hello").unwrap_err() else {
            panic!("expected BadKey");
        };
        assert!(message.contains("not PEM"), "{message}");
    }

    #[test]
    fn empty_host_key_url_is_not_a_url() {
        let error = KeyUrlPolicy::default()
            .check_url("http:///gosspublic.alicdn.com/x.pem")
            .unwrap_err();
        let VerifyError::UntrustedKeyUrl { reason, .. } = error else {
            panic!("expected UntrustedKeyUrl, got {error:?}");
        };
        assert_eq!(reason, UntrustedReason::NotAUrl);
    }

    #[test]
    fn oss_host_keys_download_over_https() {
        let trusted = KeyUrlPolicy::default()
            .check_url("http://gosspublic.alicdn.com/callback_pub_key_v2.pem")
            .unwrap();
        assert!(matches!(trusted, TrustedKeyUrl::OssHost(_)));
        assert_eq!(
            trusted.fetch_url().as_deref(),
            Some("https://gosspublic.alicdn.com/callback_pub_key_v2.pem")
        );
    }

    #[test]
    fn builtin_key_urls_are_not_downloaded() {
        let trusted = KeyUrlPolicy::default()
            .check_url("http://gosspublic.alicdn.com/callback_pub_key_v1.pem")
            .unwrap();
        assert_eq!(trusted.fetch_url(), None);
    }

    #[test]
    fn extra_prefix_keeps_its_scheme_for_download() {
        let trusted = KeyUrlPolicy::default()
            .with_extra_prefix("http://127.0.0.1:9000/")
            .check_url("http://127.0.0.1:9000/callback_pub_key_v1.pem")
            .unwrap();
        assert_eq!(
            trusted.fetch_url().as_deref(),
            Some("http://127.0.0.1:9000/callback_pub_key_v1.pem")
        );
    }

    #[test]
    fn trusted_prefix_needs_scheme_and_host() {
        assert!(KeyUrlPolicy::validate_prefix("http://127.0.0.1:9000/").is_ok());
        assert!(KeyUrlPolicy::validate_prefix("https://keys.example.com/oss/").is_ok());
        assert!(KeyUrlPolicy::validate_prefix("http://").is_err());
        assert!(KeyUrlPolicy::validate_prefix("http://127.0.0.1:9000").is_err());
        assert!(KeyUrlPolicy::validate_prefix("127.0.0.1:9000/").is_err());
        assert!(KeyUrlPolicy::validate_prefix("http://user@127.0.0.1/").is_err());
        assert!(KeyUrlPolicy::validate_prefix("ftp://127.0.0.1/").is_err());
    }
}

mod key_url_query {
    use ossgate_protocol::verify::UntrustedReason;
    use ossgate_protocol::{KeyUrlPolicy, VerifyError};

    fn reason(policy: &KeyUrlPolicy, url: &str) -> UntrustedReason {
        match policy.check_url(url) {
            Err(VerifyError::UntrustedKeyUrl { reason, .. }) => reason,
            other => panic!("expected UntrustedKeyUrl for {url}, got {other:?}"),
        }
    }

    #[test]
    fn key_url_with_query_is_rejected() {
        let policy = KeyUrlPolicy::default().with_extra_prefix("http://127.0.0.1:9000/");
        let presigned = "http://127.0.0.1:9000/bucket/uploads/key.pdf?OSSAccessKeyId=a&Signature=b";
        assert_eq!(reason(&policy, presigned), UntrustedReason::QueryOrFragment);
        assert_eq!(
            reason(
                &policy,
                "https://gosspublic.alicdn.com/callback_pub_key_v1.pem?1"
            ),
            UntrustedReason::QueryOrFragment
        );
        assert_eq!(
            reason(
                &policy,
                "https://gosspublic.alicdn.com/callback_pub_key_v1.pem#x"
            ),
            UntrustedReason::QueryOrFragment
        );
    }
}
