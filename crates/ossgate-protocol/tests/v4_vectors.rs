//! The V4 credential, signing key and canonical request, checked against the
//! values Alibaba's SDKs computed in `vectors/post_policy_vectors.json`.

use chrono::{DateTime, NaiveDate, Utc};
use ossgate_protocol::v4::{
    format_x_oss_date, normalize_region, parse_x_oss_date, CanonicalRequest, Credential,
    SigningKey, SigningKeyCache, UNSIGNED_PAYLOAD,
};
use ossgate_protocol::AccessKeySecret;
use serde_json::Value;

fn vectors() -> Value {
    serde_json::from_str(include_str!("vectors/post_policy_vectors.json")).unwrap()
}

fn text<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("vector {pointer} is missing"))
}

fn request_time(vectors: &Value) -> DateTime<Utc> {
    text(vectors, "/meta/inputs/request_time").parse().unwrap()
}

fn vector_secret(vectors: &Value) -> AccessKeySecret {
    AccessKeySecret::new(text(vectors, "/meta/inputs/access_key_secret"))
}

#[test]
fn region_prefix_is_stripped() {
    assert_eq!(normalize_region("oss-cn-hangzhou"), "cn-hangzhou");
    assert_eq!(normalize_region("cn-hangzhou"), "cn-hangzhou");
}

#[test]
fn credential_matches_vector() {
    let vectors = vectors();
    let credential = Credential::new(
        text(&vectors, "/meta/inputs/access_key_id"),
        request_time(&vectors),
        "oss-cn-hangzhou",
    );
    assert_eq!(credential.to_string(), text(&vectors, "/v4_credential"));
    assert_eq!(
        credential.scope(),
        "20261204/cn-hangzhou/oss/aliyun_v4_request"
    );
}

#[test]
fn credential_parses_vector() {
    let vectors = vectors();
    let credential = Credential::parse(text(&vectors, "/v4_credential")).unwrap();
    assert_eq!(credential.access_key_id, "LTAI5tExampleKeyId");
    assert_eq!(
        credential.date,
        NaiveDate::from_ymd_opt(2026, 12, 4).unwrap()
    );
    assert_eq!(credential.region, "cn-hangzhou");
}

#[test]
fn credential_parse_rejects_malformed_values() {
    let cases = [
        "LTAI5tExampleKeyId/20261204/cn-hangzhou/oss",
        "/20261204/cn-hangzhou/oss/aliyun_v4_request",
        "LTAI5tExampleKeyId/2026-12-04/cn-hangzhou/oss/aliyun_v4_request",
        "LTAI5tExampleKeyId/20261332/cn-hangzhou/oss/aliyun_v4_request",
        "LTAI5tExampleKeyId/20261204//oss/aliyun_v4_request",
        "LTAI5tExampleKeyId/20261204/oss-cn-hangzhou/oss/aliyun_v4_request",
        "LTAI5tExampleKeyId/20261204/cn-hangzhou/s3/aliyun_v4_request",
        "LTAI5tExampleKeyId/20261204/cn-hangzhou/oss/aws4_request",
    ];
    for case in cases {
        let error = Credential::parse(case).unwrap_err();
        assert_eq!(error.value, case, "the error names the value");
    }
}

#[test]
fn x_oss_date_matches_vector() {
    let vectors = vectors();
    let date = format_x_oss_date(request_time(&vectors));
    assert_eq!(date, text(&vectors, "/meta/inputs/x_oss_date"));
    assert_eq!(parse_x_oss_date(&date), Some(request_time(&vectors)));
}

#[test]
fn signing_key_matches_vector() {
    let vectors = vectors();
    let key = SigningKey::derive(
        &vector_secret(&vectors),
        request_time(&vectors).date_naive(),
        "cn-hangzhou",
    );
    assert_eq!(
        hex::encode(key.as_bytes()),
        text(&vectors, "/v4_signing_key_hex")
    );
}

#[test]
fn signing_key_normalises_region() {
    let vectors = vectors();
    let date = request_time(&vectors).date_naive();
    let prefixed = SigningKey::derive(&vector_secret(&vectors), date, "oss-cn-hangzhou");
    assert_eq!(
        hex::encode(prefixed.as_bytes()),
        text(&vectors, "/v4_signing_key_hex")
    );
}

#[test]
fn signing_key_cache_returns_derived_key() {
    let vectors = vectors();
    let cache = SigningKeyCache::new();
    let date = request_time(&vectors).date_naive();
    let first = cache.get(&vector_secret(&vectors), date, "cn-hangzhou");
    let second = cache.get(&vector_secret(&vectors), date, "oss-cn-hangzhou");
    assert_eq!(
        hex::encode(first.as_bytes()),
        text(&vectors, "/v4_signing_key_hex")
    );
    assert_eq!(first.as_bytes(), second.as_bytes());
    assert_eq!(cache.len(), 1, "the prefixed region shares the entry");
}

#[test]
fn signing_key_cache_separates_secrets_and_dates() {
    let cache = SigningKeyCache::new();
    let date = NaiveDate::from_ymd_opt(2026, 12, 4).unwrap();
    let next_day = date.succ_opt().unwrap();
    let a = cache.get(&AccessKeySecret::new("secret-a"), date, "cn-hangzhou");
    let b = cache.get(&AccessKeySecret::new("secret-b"), date, "cn-hangzhou");
    let c = cache.get(&AccessKeySecret::new("secret-a"), next_day, "cn-hangzhou");
    let d = cache.get(&AccessKeySecret::new("secret-a"), date, "cn-beijing");
    assert_ne!(a.as_bytes(), b.as_bytes());
    assert_ne!(a.as_bytes(), c.as_bytes());
    assert_ne!(a.as_bytes(), d.as_bytes());
    assert_eq!(cache.len(), 4);
}

#[test]
fn signing_key_cache_is_bounded() {
    let cache = SigningKeyCache::new();
    let date = NaiveDate::from_ymd_opt(2026, 12, 4).unwrap();
    for index in 0..1000 {
        cache.get(
            &AccessKeySecret::new(format!("secret-{index}")),
            date,
            "cn-hangzhou",
        );
    }
    assert!(cache.len() <= 64, "cache holds {} keys", cache.len());

    // A later key still derives correctly after evictions.
    let key = cache.get(&AccessKeySecret::new("secret-7"), date, "cn-hangzhou");
    let fresh = SigningKey::derive(&AccessKeySecret::new("secret-7"), date, "cn-hangzhou");
    assert_eq!(key.as_bytes(), fresh.as_bytes());
}

fn header_request(vectors: &Value) -> (String, Vec<(String, String)>) {
    let case = &vectors["v4_header_signing"];
    let resource = format!("/{}/{}", text(case, "/bucket"), text(case, "/key"));
    let headers = case["headers"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, value)| (name.clone(), value.as_str().unwrap().to_owned()))
        .collect();
    (resource, headers)
}

#[test]
fn canonical_request_matches_header_vector() {
    let vectors = vectors();
    let (resource, headers) = header_request(&vectors);
    let request = CanonicalRequest {
        method: text(&vectors, "/v4_header_signing/method"),
        resource: &resource,
        query: Vec::new(),
        headers,
        additional_headers: Vec::new(),
        payload_hash: UNSIGNED_PAYLOAD,
    };
    assert_eq!(
        request.to_canonical_string(),
        text(&vectors, "/v4_header_signing/canonical_request")
    );
}

#[test]
fn canonical_request_sorts_unsorted_headers() {
    let vectors = vectors();
    let (resource, mut headers) = header_request(&vectors);
    headers.reverse();
    for (name, _) in &mut headers {
        *name = name.to_ascii_uppercase();
    }
    let request = CanonicalRequest {
        method: "PUT",
        resource: &resource,
        query: Vec::new(),
        headers,
        additional_headers: Vec::new(),
        payload_hash: UNSIGNED_PAYLOAD,
    };
    assert_eq!(
        request.to_canonical_string(),
        text(&vectors, "/v4_header_signing/canonical_request")
    );
}

#[test]
fn string_to_sign_and_signature_match_header_vector() {
    let vectors = vectors();
    let (resource, headers) = header_request(&vectors);
    let request = CanonicalRequest {
        method: "PUT",
        resource: &resource,
        query: Vec::new(),
        headers,
        additional_headers: Vec::new(),
        payload_hash: UNSIGNED_PAYLOAD,
    };
    let credential = Credential::parse(text(&vectors, "/v4_credential")).unwrap();
    let x_oss_date = text(&vectors, "/v4_header_signing/headers/x-oss-date");

    let string_to_sign = request.string_to_sign(x_oss_date, &credential.scope());
    assert_eq!(
        string_to_sign,
        text(&vectors, "/v4_header_signing/string_to_sign")
    );

    let key = SigningKey::derive(
        &vector_secret(&vectors),
        credential.date,
        &credential.region,
    );
    let signature = request.sign(&key, x_oss_date, &credential.scope());
    let authorization = format!("OSS4-HMAC-SHA256 Credential={credential},Signature={signature}");
    for producer in [
        "authorization_alibabacloud_oss_v2",
        "authorization_ali-oss_signUtils.authorizationV4",
    ] {
        assert_eq!(
            authorization,
            text(&vectors, &format!("/v4_header_signing/{producer}")),
            "{producer}"
        );
    }
}

#[test]
fn canonical_query_is_encoded_and_sorted() {
    let request = CanonicalRequest {
        method: "GET",
        resource: "/bucket/a b",
        query: vec![
            ("x-oss-date".to_owned(), "20261204T083000Z".to_owned()),
            ("acl".to_owned(), String::new()),
            ("prefix".to_owned(), "a/b c".to_owned()),
        ],
        headers: Vec::new(),
        additional_headers: vec!["Host".to_owned()],
        payload_hash: UNSIGNED_PAYLOAD,
    };
    assert_eq!(
        request.to_canonical_string(),
        "GET\n/bucket/a%20b\nacl&prefix=a%2Fb%20c&x-oss-date=20261204T083000Z\n\nhost\nUNSIGNED-PAYLOAD"
    );
}

#[test]
fn signing_key_debug_is_redacted() {
    let key = SigningKey::derive(
        &AccessKeySecret::new("ExampleSecretKey0123456789abcdef"),
        NaiveDate::from_ymd_opt(2026, 12, 4).unwrap(),
        "cn-hangzhou",
    );
    let debug = format!("{key:?}");
    assert!(!debug.contains(&hex::encode(key.as_bytes())));
    assert!(debug.contains("redacted"));
}
