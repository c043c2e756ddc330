//! V1 and V4 form signatures, checked against every signature in
//! `vectors/post_policy_vectors.json` (all three serialisations) and the
//! published and Go-sample signatures.

use base64::Engine as _;
use chrono::{DateTime, NaiveDate, Utc};
use ossgate_protocol::form::{
    sign_policy_v1, sign_policy_v4, verify_policy_v1, verify_policy_v4, FormSigner,
};
use ossgate_protocol::v4::{Credential, SigningKey};
use ossgate_protocol::{AccessKeySecret, Credentials, Policy, SignatureVersion};
use serde_json::Value;

const SERIALISERS: [&str; 3] = [
    "compact_utf8",
    "python_json_dumps_default",
    "go_json_marshal_map",
];

/// The policy of the published V1 and V4 examples (ug0/aliyun_oss tests).
const PUBLISHED_POLICY: &str = "eyJjb25kaXRpb25zIjpbWyJjb250ZW50LWxlbmd0aC1yYW5nZSIsMCwxMDQ4NTc2MF0seyJidWNrZXQiOiJhaGFoYSJ9LHsiQSI6ImEifSx7ImtleSI6IkFCQyJ9XSwiZXhwaXJhdGlvbiI6IjIwMTMtMTItMDFUMTI6MDA6MDBaIn0=";

/// The policy the official Go sample emits for expire_end 1700000000.
const GO_SAMPLE_POLICY: &str = "eyJleHBpcmF0aW9uIjoiMjAyMy0xMS0xNFQyMjoxMzoyMFoiLCJjb25kaXRpb25zIjpbWyJzdGFydHMtd2l0aCIsIiRrZXkiLCJ1c2VyLWRpci1wcmVmaXgvIl1dfQ==";

fn vectors() -> Value {
    serde_json::from_str(include_str!("vectors/post_policy_vectors.json")).unwrap()
}

fn text<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("vector {pointer} is missing"))
}

fn vector_secret(vectors: &Value) -> AccessKeySecret {
    AccessKeySecret::new(text(vectors, "/meta/inputs/access_key_secret"))
}

fn request_time(vectors: &Value) -> DateTime<Utc> {
    text(vectors, "/meta/inputs/request_time").parse().unwrap()
}

fn vector_credentials(vectors: &Value) -> Credentials {
    Credentials::new(
        text(vectors, "/meta/inputs/access_key_id"),
        text(vectors, "/meta/inputs/access_key_secret"),
    )
}

/// Flips one character of a signature, keeping it well-formed.
fn tamper(signature: &str) -> String {
    let mut characters: Vec<char> = signature.chars().collect();
    characters[0] = if characters[0] == 'a' { 'b' } else { 'a' };
    characters.into_iter().collect()
}

#[test]
fn v1_signatures_match_every_serialisation() {
    let vectors = vectors();
    let secret = vector_secret(&vectors);
    for case in vectors["post_policy"].as_array().unwrap() {
        for serialiser in SERIALISERS {
            let entry = &case["v1"][serialiser];
            let policy_base64 = text(entry, "/policy_base64");
            let signature = text(entry, "/signature");
            let label = format!("{} {serialiser}", text(case, "/name"));

            assert_eq!(sign_policy_v1(&secret, policy_base64), signature, "{label}");
            assert!(
                verify_policy_v1(&secret, policy_base64, signature),
                "{label}"
            );
            assert!(
                !verify_policy_v1(&secret, policy_base64, &tamper(signature)),
                "{label} tampered signature"
            );
        }
    }
}

#[test]
fn v1_policy_base64_decodes_to_policy_json() {
    let vectors = vectors();
    for case in vectors["post_policy"].as_array().unwrap() {
        for version in ["v1", "v4"] {
            for serialiser in SERIALISERS {
                let entry = &case[version][serialiser];
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(text(entry, "/policy_base64"))
                    .unwrap();
                assert_eq!(
                    String::from_utf8(decoded).unwrap(),
                    text(entry, "/policy_json")
                );
            }
        }
    }
}

#[test]
fn v4_signatures_match_every_serialisation() {
    let vectors = vectors();
    let secret = vector_secret(&vectors);
    for case in vectors["post_policy"].as_array().unwrap() {
        for serialiser in SERIALISERS {
            let entry = &case["v4"][serialiser];
            let credential = Credential::parse(text(entry, "/x-oss-credential")).unwrap();
            let key = SigningKey::derive(&secret, credential.date, &credential.region);
            let policy_base64 = text(entry, "/policy_base64");
            let signature = text(entry, "/x-oss-signature");
            let label = format!("{} {serialiser}", text(case, "/name"));

            assert_eq!(sign_policy_v4(&key, policy_base64), signature, "{label}");
            assert!(verify_policy_v4(&key, policy_base64, signature), "{label}");
            assert!(
                verify_policy_v4(&key, policy_base64, &signature.to_ascii_uppercase()),
                "{label} uppercase hex"
            );
            assert!(
                !verify_policy_v4(&key, policy_base64, &tamper(signature)),
                "{label} tampered signature"
            );
        }
    }
}

#[test]
fn renormalised_policies_match_v1_signatures() {
    let vectors = vectors();
    let secret = vector_secret(&vectors);
    let examples = vectors["ali_oss_renormalises_string_policies"]["examples"]
        .as_object()
        .unwrap();
    for (name, example) in examples {
        let policy = Policy::from_json(text(example, "/input").as_bytes()).unwrap();
        assert_eq!(
            sign_policy_v1(&secret, &policy.to_base64()),
            text(example, "/v1_signature"),
            "{name}"
        );
    }
}

#[test]
fn published_v1_signature_matches() {
    let secret = AccessKeySecret::new("OtxrzxIsfpFjA7SwPzILwy8Bw21TLhquhboDYROV");
    assert_eq!(
        sign_policy_v1(&secret, PUBLISHED_POLICY),
        "W835KpLsL6k1/oo28RcsEflB6hw="
    );
    assert!(verify_policy_v1(
        &secret,
        PUBLISHED_POLICY,
        "W835KpLsL6k1/oo28RcsEflB6hw="
    ));
}

#[test]
fn published_v4_signature_matches() {
    let secret = AccessKeySecret::new("yourAccessKeySecret");
    let key = SigningKey::derive(
        &secret,
        NaiveDate::from_ymd_opt(2025, 7, 1).unwrap(),
        "cn-hangzhou",
    );
    let expected = "4f19e5c3030598cfe1d4e34b6006cd931bae28ddd5df481ff175e70e94495793";
    assert_eq!(sign_policy_v4(&key, PUBLISHED_POLICY), expected);
    assert!(verify_policy_v4(&key, PUBLISHED_POLICY, expected));
}

#[test]
fn go_sample_v1_signature_matches() {
    let secret = AccessKeySecret::new("yourAccessKeySecret");
    assert_eq!(
        sign_policy_v1(&secret, GO_SAMPLE_POLICY),
        "AdtFrDQEEgfiQj/t4QAf6P6Xrjk="
    );
}

#[test]
fn go_sample_v4_signature_matches() {
    let secret = AccessKeySecret::new("yourAccessKeySecret");
    let key = SigningKey::derive(
        &secret,
        NaiveDate::from_ymd_opt(2023, 11, 14).unwrap(),
        "oss-cn-hangzhou",
    );
    assert_eq!(
        sign_policy_v4(&key, GO_SAMPLE_POLICY),
        "f39b5406321b554c4b7de2a04c1bb610ae83d4b7af9a6a9e51b9af2e12414725"
    );
}

#[test]
fn v1_verify_rejects_other_secret_and_policy() {
    let secret = AccessKeySecret::new("OtxrzxIsfpFjA7SwPzILwy8Bw21TLhquhboDYROV");
    let other = AccessKeySecret::new("OtxrzxIsfpFjA7SwPzILwy8Bw21TLhquhboDYROW");
    let signature = "W835KpLsL6k1/oo28RcsEflB6hw=";
    assert!(!verify_policy_v1(&other, PUBLISHED_POLICY, signature));
    assert!(!verify_policy_v1(&secret, GO_SAMPLE_POLICY, signature));
    assert!(!verify_policy_v1(&secret, PUBLISHED_POLICY, "not base64"));
    assert!(!verify_policy_v1(&secret, PUBLISHED_POLICY, ""));
}

#[test]
fn v4_verify_rejects_malformed_hex() {
    let key = SigningKey::derive(
        &AccessKeySecret::new("yourAccessKeySecret"),
        NaiveDate::from_ymd_opt(2025, 7, 1).unwrap(),
        "cn-hangzhou",
    );
    assert!(!verify_policy_v4(&key, PUBLISHED_POLICY, "zz"));
    assert!(!verify_policy_v4(&key, PUBLISHED_POLICY, ""));
    assert!(!verify_policy_v4(
        &key,
        PUBLISHED_POLICY,
        "4f19e5c3030598cfe1d4e34b6006cd931bae28ddd5df481ff175e70e944957"
    ));
}

#[test]
fn form_signer_v1_matches_vector() {
    let vectors = vectors();
    let signer = FormSigner::new(
        vector_credentials(&vectors),
        SignatureVersion::V1,
        "oss-cn-hangzhou",
    );
    let object = &vectors["post_policy"][0]["v1_policy_object"];
    let policy = Policy::from_json(object.to_string().as_bytes()).unwrap();

    let form = signer.sign(policy, request_time(&vectors));
    let expected_base64 = text(&vectors, "/post_policy/0/v1/compact_utf8/policy_base64");
    assert_eq!(form.policy_base64, expected_base64);
    let fields: Vec<(&str, &str)> = form.fields.iter().collect();
    assert_eq!(
        fields,
        vec![
            ("OSSAccessKeyId", "LTAI5tExampleKeyId"),
            ("policy", expected_base64),
            (
                "Signature",
                text(&vectors, "/post_policy/0/v1/compact_utf8/signature")
            ),
        ]
    );
}

#[test]
fn form_signer_v4_matches_vectors() {
    let vectors = vectors();
    let signer = FormSigner::new(
        vector_credentials(&vectors),
        SignatureVersion::V4,
        "oss-cn-hangzhou",
    );
    for case in vectors["post_policy"].as_array().unwrap() {
        let name = text(case, "/name");
        let policy = Policy::from_json(case["v1_policy_object"].to_string().as_bytes()).unwrap();
        let expected = &case["v4"]["compact_utf8"];

        let form = signer.sign(policy, request_time(&vectors));
        assert_eq!(
            form.policy_base64,
            text(expected, "/policy_base64"),
            "{name}"
        );
        let fields: Vec<(&str, &str)> = form.fields.iter().collect();
        assert_eq!(
            fields,
            vec![
                ("policy", text(expected, "/policy_base64")),
                ("x-oss-signature-version", "OSS4-HMAC-SHA256"),
                ("x-oss-credential", text(expected, "/x-oss-credential")),
                ("x-oss-date", text(expected, "/x-oss-date")),
                ("x-oss-signature", text(expected, "/x-oss-signature")),
            ],
            "{name}"
        );
    }
}

#[test]
fn form_signer_v4_replaces_stale_conditions() {
    let vectors = vectors();
    let signer = FormSigner::new(
        vector_credentials(&vectors),
        SignatureVersion::V4,
        "cn-hangzhou",
    );
    // A policy that already went through the signer a day earlier.
    let policy = Policy::from_json(
        vectors["post_policy"][0]["v4_policy_object"]
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    let earlier = signer.sign(policy, request_time(&vectors) - chrono::Duration::days(1));

    let form = signer.sign(earlier.policy, request_time(&vectors));
    assert_eq!(
        form.policy_base64,
        text(&vectors, "/post_policy/0/v4/compact_utf8/policy_base64")
    );
}

#[test]
fn form_signer_v4_signed_form_satisfies_its_policy() {
    let vectors = vectors();
    let signer = FormSigner::new(
        vector_credentials(&vectors),
        SignatureVersion::V4,
        "cn-hangzhou",
    );
    let policy = Policy::from_json(
        vectors["post_policy"][0]["v1_policy_object"]
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    let form = signer.sign(policy, request_time(&vectors));

    let mut fields = form.fields.clone();
    fields.insert("key", "user-dir/a.txt");
    let result =
        form.policy
            .evaluate_in_bucket("examplebucket", &fields, Some(10), request_time(&vectors));
    assert_eq!(result, Ok(()));
}

#[test]
fn form_signer_sts_adds_token_field_and_condition() {
    let vectors = vectors();
    let credentials = vector_credentials(&vectors).with_security_token("CAIS-example-token");
    let now = request_time(&vectors);
    let policy = Policy::from_json(
        vectors["post_policy"][0]["v1_policy_object"]
            .to_string()
            .as_bytes(),
    )
    .unwrap();

    let v1 = FormSigner::new(credentials.clone(), SignatureVersion::V1, "cn-hangzhou")
        .sign(policy.clone(), now);
    assert_eq!(
        v1.fields.get("x-oss-security-token"),
        Some("CAIS-example-token")
    );
    assert_eq!(v1.policy, policy, "V1 leaves the policy as given");

    let v4 = FormSigner::new(credentials, SignatureVersion::V4, "cn-hangzhou").sign(policy, now);
    assert_eq!(
        v4.fields.get("x-oss-security-token"),
        Some("CAIS-example-token")
    );
    assert!(v4.policy.to_json().contains(
        r#"{"x-oss-date":"20261204T083000Z"},{"x-oss-security-token":"CAIS-example-token"}"#
    ));

    // The signature covers the policy with the token condition.
    let key = SigningKey::derive(&vector_secret(&vectors), now.date_naive(), "cn-hangzhou");
    assert!(verify_policy_v4(
        &key,
        &v4.policy_base64,
        v4.fields.get("x-oss-signature").unwrap()
    ));
}

#[test]
fn form_signer_debug_hides_secret() {
    let vectors = vectors();
    let credentials = vector_credentials(&vectors).with_security_token("CAIS-example-token");
    let signer = FormSigner::new(credentials, SignatureVersion::V4, "cn-hangzhou");
    signer.sign(
        Policy::new(request_time(&vectors) + chrono::Duration::hours(1)),
        request_time(&vectors),
    );
    let debug = format!("{signer:?}");
    assert!(!debug.contains(text(&vectors, "/meta/inputs/access_key_secret")));
    assert!(!debug.contains("CAIS-example-token"));
    assert!(!debug.contains(text(&vectors, "/v4_signing_key_hex")));
}
