//! The key URL policy: OSS's own key URLs, other gosspublic.alicdn.com URLs,
//! configured prefixes, and one test per forgery class.

use base64::Engine as _;
use ossgate_protocol::verify::{KeyUrlPolicy, TrustedKeyUrl, UntrustedReason, VerifyError};
use ossgate_protocol::CallbackPublicKey;

fn base64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

fn rejection(policy: &KeyUrlPolicy, url: &str) -> UntrustedReason {
    match policy.check_url(url) {
        Err(VerifyError::UntrustedKeyUrl {
            url: reported,
            reason,
        }) => {
            assert_eq!(reported, url, "the error names the URL");
            reason
        }
        other => panic!("{url:?} was not rejected as untrusted: {other:?}"),
    }
}

fn default_rejection(url: &str) -> UntrustedReason {
    rejection(&KeyUrlPolicy::default(), url)
}

fn emulator_policy() -> KeyUrlPolicy {
    KeyUrlPolicy::default().with_extra_prefix("http://127.0.0.1:9000/")
}

#[test]
fn oss_http_header_is_builtin_key() {
    let trusted = KeyUrlPolicy::default()
        .check_header("aHR0cDovL2dvc3NwdWJsaWMuYWxpY2RuLmNvbS9jYWxsYmFja19wdWJfa2V5X3YxLnBlbQ==")
        .unwrap();
    assert_eq!(
        trusted,
        TrustedKeyUrl::Oss("http://gosspublic.alicdn.com/callback_pub_key_v1.pem".to_owned())
    );
    assert_eq!(trusted.builtin_key(), Some(CallbackPublicKey::oss()));
}

#[test]
fn oss_https_header_is_builtin_key() {
    let trusted = KeyUrlPolicy::default()
        .check_header("aHR0cHM6Ly9nb3NzcHVibGljLmFsaWNkbi5jb20vY2FsbGJhY2tfcHViX2tleV92MS5wZW0=")
        .unwrap();
    assert_eq!(
        trusted,
        TrustedKeyUrl::Oss("https://gosspublic.alicdn.com/callback_pub_key_v1.pem".to_owned())
    );
    assert_eq!(
        trusted.url(),
        "https://gosspublic.alicdn.com/callback_pub_key_v1.pem"
    );
}

#[test]
fn other_oss_host_path_needs_fetch() {
    let trusted = KeyUrlPolicy::default()
        .check_header("aHR0cDovL2dvc3NwdWJsaWMuYWxpY2RuLmNvbS8yMzQyMzQ=")
        .unwrap();
    assert_eq!(
        trusted,
        TrustedKeyUrl::OssHost("http://gosspublic.alicdn.com/234234".to_owned())
    );
    assert_eq!(trusted.builtin_key(), None);
}

#[test]
fn oss_url_with_query_is_rejected() {
    let url = "https://gosspublic.alicdn.com/callback_pub_key_v1.pem?v=2";
    assert!(matches!(
        KeyUrlPolicy::default().check_url(url),
        Err(VerifyError::UntrustedKeyUrl {
            reason: UntrustedReason::QueryOrFragment,
            ..
        })
    ));
}

#[test]
fn extra_prefix_is_trusted() {
    let url = "http://127.0.0.1:9000/callback_pub_key.pem";
    assert_eq!(
        emulator_policy().check_url(url),
        Ok(TrustedKeyUrl::Extra(url.to_owned()))
    );
}

#[test]
fn oss_url_under_extra_prefix_is_builtin() {
    let policy = KeyUrlPolicy::default().with_extra_prefix("http://gosspublic.alicdn.com/");
    let url = "http://gosspublic.alicdn.com/callback_pub_key_v1.pem";
    assert_eq!(
        policy.check_url(url),
        Ok(TrustedKeyUrl::Oss(url.to_owned()))
    );
}

#[test]
fn extra_prefix_does_not_trust_other_port() {
    assert_eq!(
        rejection(&emulator_policy(), "http://127.0.0.1:9001/key.pem"),
        UntrustedReason::ForeignHost
    );
}

#[test]
fn extra_prefix_without_slash_matches_at_boundary() {
    let policy = KeyUrlPolicy::default().with_extra_prefix("http://127.0.0.1:900");
    assert!(policy.check_url("http://127.0.0.1:900/key.pem").is_ok());
    assert!(policy.check_url("http://127.0.0.1:900").is_ok());
    assert_eq!(
        rejection(&policy, "http://127.0.0.1:9000/key.pem"),
        UntrustedReason::ForeignHost
    );
}

#[test]
fn extra_prefix_dot_segments_cannot_escape() {
    let policy = KeyUrlPolicy::default().with_extra_prefix("http://127.0.0.1:9000/keys/");
    assert!(policy.check_url("http://127.0.0.1:9000/keys/k.pem").is_ok());
    assert_eq!(
        rejection(&policy, "http://127.0.0.1:9000/keys/../admin"),
        UntrustedReason::ForeignHost
    );
    assert_eq!(
        rejection(&policy, "http://127.0.0.1:9000/keys/%2e%2e/admin"),
        UntrustedReason::ForeignHost
    );
}

#[test]
fn extra_prefix_userinfo_is_rejected() {
    let policy = KeyUrlPolicy::default().with_extra_prefix("http://127.0.0.1:9000");
    assert_eq!(
        rejection(&policy, "http://127.0.0.1:9000@evil.test/key.pem"),
        UntrustedReason::UserInfo
    );
}

#[test]
fn foreign_host_is_rejected() {
    assert_eq!(
        default_rejection("https://evil.test/callback_pub_key_v1.pem"),
        UntrustedReason::ForeignHost
    );
    assert_eq!(
        default_rejection("http://127.0.0.1/callback_pub_key_v1.pem"),
        UntrustedReason::ForeignHost
    );
    assert_eq!(
        default_rejection("http://alicdn.com/callback_pub_key_v1.pem"),
        UntrustedReason::ForeignHost
    );
}

#[test]
fn lookalike_suffix_host_is_rejected() {
    assert_eq!(
        default_rejection("http://gosspublic.alicdn.com.evil.test/callback_pub_key_v1.pem"),
        UntrustedReason::LookalikeHost
    );
}

#[test]
fn lookalike_prefix_host_is_rejected() {
    assert_eq!(
        default_rejection("http://evilgosspublic.alicdn.com/callback_pub_key_v1.pem"),
        UntrustedReason::LookalikeHost
    );
    assert_eq!(
        default_rejection("http://gosspublic.alicdn.com./callback_pub_key_v1.pem"),
        UntrustedReason::LookalikeHost
    );
}

#[test]
fn userinfo_is_rejected() {
    assert_eq!(
        default_rejection("http://gosspublic.alicdn.com@evil.test/callback_pub_key_v1.pem"),
        UntrustedReason::UserInfo
    );
    assert_eq!(
        default_rejection("http://user:pass@gosspublic.alicdn.com/callback_pub_key_v1.pem"),
        UntrustedReason::UserInfo
    );
    assert_eq!(
        default_rejection("http://@gosspublic.alicdn.com/callback_pub_key_v1.pem"),
        UntrustedReason::UserInfo
    );
}

#[test]
fn explicit_port_is_rejected() {
    for url in [
        "http://gosspublic.alicdn.com:80/callback_pub_key_v1.pem",
        "https://gosspublic.alicdn.com:443/callback_pub_key_v1.pem",
        "http://gosspublic.alicdn.com:8080/callback_pub_key_v1.pem",
        "http://gosspublic.alicdn.com:/callback_pub_key_v1.pem",
    ] {
        assert_eq!(
            default_rejection(url),
            UntrustedReason::ExplicitPort,
            "{url}"
        );
    }
}

#[test]
fn other_schemes_are_rejected() {
    for url in [
        "file:///etc/passwd",
        "file://gosspublic.alicdn.com/callback_pub_key_v1.pem",
        "ftp://gosspublic.alicdn.com/callback_pub_key_v1.pem",
        "gopher://gosspublic.alicdn.com/",
        "data:text/plain,key",
        "HTTP://gosspublic.alicdn.com/callback_pub_key_v1.pem",
        "http:gosspublic.alicdn.com/callback_pub_key_v1.pem",
        "//gosspublic.alicdn.com/callback_pub_key_v1.pem",
        "gosspublic.alicdn.com/callback_pub_key_v1.pem",
    ] {
        assert_eq!(default_rejection(url), UntrustedReason::Scheme, "{url}");
    }
}

#[test]
fn backslash_is_rejected() {
    for url in [
        "http://gosspublic.alicdn.com\\@evil.test/callback_pub_key_v1.pem",
        "http://evil.test\\@gosspublic.alicdn.com/callback_pub_key_v1.pem",
        "http:\\\\gosspublic.alicdn.com\\callback_pub_key_v1.pem",
    ] {
        assert_eq!(default_rejection(url), UntrustedReason::Backslash, "{url}");
    }
}

#[test]
fn whitespace_and_control_characters_are_rejected() {
    for url in [
        " http://gosspublic.alicdn.com/callback_pub_key_v1.pem",
        "http://gosspublic.alicdn.com/callback_pub_key_v1.pem\n",
        "http://goss\tpublic.alicdn.com/callback_pub_key_v1.pem",
        "http://gosspublic.alicdn.com\r\n.evil.test/",
        "http://gosspublic。alicdn.com/callback_pub_key_v1.pem",
    ] {
        assert_eq!(
            default_rejection(url),
            UntrustedReason::ControlCharacter,
            "{url:?}"
        );
    }
}

#[test]
fn uppercase_host_is_rejected() {
    assert_eq!(
        default_rejection("http://GOSSPUBLIC.alicdn.com/callback_pub_key_v1.pem"),
        UntrustedReason::UppercaseHost
    );
}

#[test]
fn percent_encoded_host_is_rejected() {
    assert_eq!(
        default_rejection("http://gosspublic%2Ealicdn.com/callback_pub_key_v1.pem"),
        UntrustedReason::EncodedHost
    );
    assert_eq!(
        default_rejection("http://%67osspublic.alicdn.com/callback_pub_key_v1.pem"),
        UntrustedReason::EncodedHost
    );
}

#[test]
fn header_not_base64_is_bad_base64() {
    assert_eq!(
        KeyUrlPolicy::default().check_header("http://gosspublic.alicdn.com/"),
        Err(VerifyError::BadBase64 {
            header: "x-oss-pub-key-url"
        })
    );
}

#[test]
fn empty_header_is_missing_header() {
    assert_eq!(
        KeyUrlPolicy::default().check_header(""),
        Err(VerifyError::MissingHeader("x-oss-pub-key-url"))
    );
}

#[test]
fn header_not_utf8_is_rejected() {
    let header = base64::engine::general_purpose::STANDARD.encode(b"http://\xff/");
    assert!(matches!(
        KeyUrlPolicy::default().check_header(&header),
        Err(VerifyError::UntrustedKeyUrl {
            reason: UntrustedReason::ControlCharacter,
            ..
        })
    ));
}

#[test]
fn header_forgery_is_checked_after_decoding() {
    let header = base64("http://gosspublic.alicdn.com.evil.test/callback_pub_key_v1.pem");
    assert!(matches!(
        KeyUrlPolicy::default().check_header(&header),
        Err(VerifyError::UntrustedKeyUrl {
            reason: UntrustedReason::LookalikeHost,
            ..
        })
    ));
}

#[test]
fn untrusted_message_names_url_and_reason() {
    let error = KeyUrlPolicy::default()
        .check_url("http://gosspublic.alicdn.com@evil.test/k.pem")
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "untrusted public key URL \"http://gosspublic.alicdn.com@evil.test/k.pem\": a key URL must not carry user information"
    );
}
