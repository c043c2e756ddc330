//! Presigned GET URLs, V1 and V4: known answers computed outside this crate,
//! round trips through `verify_presigned`, and tampered or stale URLs.

use chrono::{DateTime, Duration, TimeZone, Utc};
use ossgate_protocol::presign::{
    presign_get, verify_presigned, KnownKey, ObjectLocation, PresignError, PresignedRequest,
};
use ossgate_protocol::{AccessKeySecret, Credentials, SignatureVersion};

const ACCESS_KEY_ID: &str = "LTAI5tExampleKeyId";
const SECRET: &str = "ExampleSecretKey0123456789abcdef";
const TOKEN: &str = "CAIS-example-token";
const BUCKET: &str = "examplebucket";
const KEY: &str = "user-dir/hello 世界.txt";
const BUCKET_URL: &str = "https://examplebucket.oss-cn-hangzhou.aliyuncs.com";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 4, 8, 30, 0).unwrap()
}

fn location() -> ObjectLocation<'static> {
    ObjectLocation {
        bucket_url: BUCKET_URL,
        bucket: BUCKET,
        key: KEY,
    }
}

fn long_term() -> Credentials {
    Credentials::new(ACCESS_KEY_ID, SECRET)
}

fn sts() -> Credentials {
    long_term().with_security_token(TOKEN)
}

/// Looks up the example key, as long-term or as STS.
fn lookup(security_token: Option<&'static str>) -> impl Fn(&str) -> Option<KnownKey> {
    move |access_key_id| {
        (access_key_id == ACCESS_KEY_ID).then(|| KnownKey {
            secret: AccessKeySecret::new(SECRET),
            security_token: security_token.map(str::to_owned),
        })
    }
}

/// Splits a URL the way a receiver does: the decoded key after the bucket
/// host, and the decoded query pairs.
fn split(url: &str) -> (String, Vec<(String, String)>) {
    let parsed = url::Url::parse(url).unwrap();
    let path = percent_encoding::percent_decode_str(parsed.path())
        .decode_utf8()
        .unwrap();
    let key = path.strip_prefix('/').unwrap().to_owned();
    let query = parsed
        .query_pairs()
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect();
    (key, query)
}

fn verify(
    key: &str,
    query: &[(String, String)],
    at: DateTime<Utc>,
    security_token: Option<&'static str>,
) -> Result<String, PresignError> {
    let request = PresignedRequest {
        method: "GET",
        bucket: BUCKET,
        key,
        query,
    };
    verify_presigned(&request, "oss-cn-hangzhou", at, lookup(security_token))
}

fn set(query: &mut [(String, String)], name: &str, value: &str) {
    let slot = query
        .iter_mut()
        .find(|(candidate, _)| candidate == name)
        .unwrap();
    slot.1 = value.to_owned();
}

fn remove(query: &mut Vec<(String, String)>, name: &str) {
    query.retain(|(candidate, _)| candidate != name);
}

fn value<'q>(query: &'q [(String, String)], name: &str) -> &'q str {
    &query
        .iter()
        .find(|(candidate, _)| candidate == name)
        .unwrap()
        .1
}

#[test]
fn v1_signature_matches_s3_published_example() {
    // Amazon S3's query-string authentication example uses the same
    // HMAC-SHA1 string to sign as OSS V1: GET, two empty lines, Expires and
    // the resource.
    let credentials = Credentials::new(
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    );
    let location = ObjectLocation {
        bucket_url: "http://johnsmith.oss-cn-hangzhou.aliyuncs.com",
        bucket: "johnsmith",
        key: "photos/puppy.jpg",
    };
    let now = DateTime::from_timestamp(1_175_139_620 - 600, 0).unwrap();
    let url = presign_get(&credentials, SignatureVersion::V1, "", &location, now, 600);
    assert_eq!(
        url,
        "http://johnsmith.oss-cn-hangzhou.aliyuncs.com/photos/puppy.jpg?OSSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Expires=1175139620&Signature=NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D"
    );
}

#[test]
fn v1_sts_url_matches_known_answer() {
    let url = presign_get(&sts(), SignatureVersion::V1, "", &location(), now(), 3600);
    assert_eq!(
        url,
        "https://examplebucket.oss-cn-hangzhou.aliyuncs.com/user-dir/hello%20%E4%B8%96%E7%95%8C.txt?OSSAccessKeyId=LTAI5tExampleKeyId&Expires=1796376600&Signature=5LCuL2U0sf25PSrbauR%2F5WDpiNI%3D&security-token=CAIS-example-token"
    );
}

#[test]
fn v4_url_matches_known_answer() {
    let url = presign_get(
        &long_term(),
        SignatureVersion::V4,
        "oss-cn-hangzhou",
        &location(),
        now(),
        3600,
    );
    assert_eq!(
        url,
        "https://examplebucket.oss-cn-hangzhou.aliyuncs.com/user-dir/hello%20%E4%B8%96%E7%95%8C.txt?x-oss-signature-version=OSS4-HMAC-SHA256&x-oss-credential=LTAI5tExampleKeyId%2F20261204%2Fcn-hangzhou%2Foss%2Faliyun_v4_request&x-oss-date=20261204T083000Z&x-oss-expires=3600&x-oss-signature=91e7e0cf5a8e1a2bca09ce5873d5b7c564c8d6e61c314ac78e39c97ca1a41fac"
    );
}

#[test]
fn v4_sts_signature_matches_known_answer() {
    let url = presign_get(
        &sts(),
        SignatureVersion::V4,
        "cn-hangzhou",
        &location(),
        now(),
        3600,
    );
    let (_, query) = split(&url);
    assert_eq!(value(&query, "x-oss-security-token"), TOKEN);
    assert_eq!(
        value(&query, "x-oss-signature"),
        "83e3ea948701cccf6a94bc8b1e588e2959de9250ce4f439e7bce419012ffbe7d"
    );
}

#[test]
fn round_trips_verify() {
    let cases = [
        (SignatureVersion::V1, long_term(), None),
        (SignatureVersion::V1, sts(), Some(TOKEN)),
        (SignatureVersion::V4, long_term(), None),
        (SignatureVersion::V4, sts(), Some(TOKEN)),
    ];
    for (version, credentials, token) in cases {
        let url = presign_get(
            &credentials,
            version,
            "cn-hangzhou",
            &location(),
            now(),
            3600,
        );
        let (key, query) = split(&url);
        assert_eq!(key, KEY);
        let verified = verify(&key, &query, now() + Duration::minutes(59), token);
        assert_eq!(
            verified,
            Ok(ACCESS_KEY_ID.to_owned()),
            "{version:?} {token:?}"
        );
    }
}

#[test]
fn expired_urls_are_rejected() {
    for version in [SignatureVersion::V1, SignatureVersion::V4] {
        let url = presign_get(&long_term(), version, "cn-hangzhou", &location(), now(), 60);
        let (key, query) = split(&url);
        let result = verify(&key, &query, now() + Duration::seconds(61), None);
        assert_eq!(
            result,
            Err(PresignError::Expired(now() + Duration::seconds(60))),
            "{version:?}"
        );
    }
}

#[test]
fn tampered_key_is_rejected() {
    for version in [SignatureVersion::V1, SignatureVersion::V4] {
        let url = presign_get(
            &long_term(),
            version,
            "cn-hangzhou",
            &location(),
            now(),
            3600,
        );
        let (_, query) = split(&url);
        let result = verify("user-dir/other.txt", &query, now(), None);
        assert_eq!(
            result,
            Err(PresignError::SignatureDoesNotMatch),
            "{version:?}"
        );
    }
}

#[test]
fn tampered_signature_is_rejected() {
    let url = presign_get(
        &long_term(),
        SignatureVersion::V1,
        "",
        &location(),
        now(),
        3600,
    );
    let (key, mut query) = split(&url);
    set(&mut query, "Signature", "AAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    assert_eq!(
        verify(&key, &query, now(), None),
        Err(PresignError::SignatureDoesNotMatch)
    );

    let url = presign_get(
        &long_term(),
        SignatureVersion::V4,
        "cn-hangzhou",
        &location(),
        now(),
        3600,
    );
    let (key, mut query) = split(&url);
    let signature = value(&query, "x-oss-signature").replace('9', "8");
    set(&mut query, "x-oss-signature", &signature);
    assert_eq!(
        verify(&key, &query, now(), None),
        Err(PresignError::SignatureDoesNotMatch)
    );
}

#[test]
fn extended_expiry_is_rejected() {
    let url = presign_get(
        &long_term(),
        SignatureVersion::V1,
        "",
        &location(),
        now(),
        3600,
    );
    let (key, mut query) = split(&url);
    set(&mut query, "Expires", "1796380200");
    assert_eq!(
        verify(&key, &query, now(), None),
        Err(PresignError::SignatureDoesNotMatch)
    );

    let url = presign_get(
        &long_term(),
        SignatureVersion::V4,
        "cn-hangzhou",
        &location(),
        now(),
        3600,
    );
    let (key, mut query) = split(&url);
    set(&mut query, "x-oss-expires", "7200");
    assert_eq!(
        verify(&key, &query, now(), None),
        Err(PresignError::SignatureDoesNotMatch)
    );
}

#[test]
fn added_parameter_breaks_v4_signature() {
    let url = presign_get(
        &long_term(),
        SignatureVersion::V4,
        "cn-hangzhou",
        &location(),
        now(),
        3600,
    );
    let (key, mut query) = split(&url);
    query.push(("response-content-type".to_owned(), "text/html".to_owned()));
    assert_eq!(
        verify(&key, &query, now(), None),
        Err(PresignError::SignatureDoesNotMatch)
    );
}

#[test]
fn other_method_is_rejected() {
    let url = presign_get(
        &long_term(),
        SignatureVersion::V4,
        "cn-hangzhou",
        &location(),
        now(),
        3600,
    );
    let (key, query) = split(&url);
    let request = PresignedRequest {
        method: "PUT",
        bucket: BUCKET,
        key: &key,
        query: &query,
    };
    let result = verify_presigned(&request, "cn-hangzhou", now(), lookup(None));
    assert_eq!(result, Err(PresignError::SignatureDoesNotMatch));
}

#[test]
fn unknown_access_key_is_rejected() {
    let other = Credentials::new("LTAI5tOtherKeyId", SECRET);
    for version in [SignatureVersion::V1, SignatureVersion::V4] {
        let url = presign_get(&other, version, "cn-hangzhou", &location(), now(), 3600);
        let (key, query) = split(&url);
        assert_eq!(
            verify(&key, &query, now(), None),
            Err(PresignError::UnknownAccessKeyId(
                "LTAI5tOtherKeyId".to_owned()
            )),
            "{version:?}"
        );
    }
}

#[test]
fn sts_key_needs_its_token() {
    for (version, token_parameter) in [
        (SignatureVersion::V1, "security-token"),
        (SignatureVersion::V4, "x-oss-security-token"),
    ] {
        let url = presign_get(
            &long_term(),
            version,
            "cn-hangzhou",
            &location(),
            now(),
            3600,
        );
        let (key, query) = split(&url);
        assert_eq!(
            verify(&key, &query, now(), Some(TOKEN)),
            Err(PresignError::InvalidSecurityToken),
            "{version:?} without a token"
        );

        let url = presign_get(&sts(), version, "cn-hangzhou", &location(), now(), 3600);
        let (key, mut query) = split(&url);
        set(&mut query, token_parameter, "CAIS-other-token");
        assert_eq!(
            verify(&key, &query, now(), Some(TOKEN)),
            Err(PresignError::InvalidSecurityToken),
            "{version:?} with another token"
        );

        let (key, query) = split(&url);
        assert_eq!(
            verify(&key, &query, now(), None),
            Err(PresignError::InvalidSecurityToken),
            "{version:?} token for a long-term key"
        );
    }
}

#[test]
fn missing_parameters_are_named() {
    let url = presign_get(
        &long_term(),
        SignatureVersion::V4,
        "cn-hangzhou",
        &location(),
        now(),
        3600,
    );
    for name in [
        "x-oss-credential",
        "x-oss-date",
        "x-oss-expires",
        "x-oss-signature",
    ] {
        let (key, mut query) = split(&url);
        remove(&mut query, name);
        assert_eq!(
            verify(&key, &query, now(), None),
            Err(PresignError::MissingParameter(name)),
            "{name}"
        );
    }

    let url = presign_get(
        &long_term(),
        SignatureVersion::V1,
        "",
        &location(),
        now(),
        3600,
    );
    for name in ["OSSAccessKeyId", "Expires", "Signature"] {
        let (key, mut query) = split(&url);
        remove(&mut query, name);
        assert_eq!(
            verify(&key, &query, now(), None),
            Err(PresignError::MissingParameter(name)),
            "{name}"
        );
    }

    assert_eq!(
        verify(KEY, &[], now(), None),
        Err(PresignError::MissingParameter("Signature"))
    );
}

#[test]
fn invalid_v4_parameters_are_named() {
    let url = presign_get(
        &long_term(),
        SignatureVersion::V4,
        "cn-hangzhou",
        &location(),
        now(),
        3600,
    );
    let cases = [
        ("x-oss-signature-version", "OSS2-HMAC-SHA1"),
        (
            "x-oss-credential",
            "LTAI5tExampleKeyId/20261204/cn-beijing/oss/aliyun_v4_request",
        ),
        (
            "x-oss-credential",
            "LTAI5tExampleKeyId/20261203/cn-hangzhou/oss/aliyun_v4_request",
        ),
        ("x-oss-credential", "LTAI5tExampleKeyId"),
        ("x-oss-date", "2026-12-04T08:30:00Z"),
        ("x-oss-date", "20261204T093000Z"),
        ("x-oss-expires", "0"),
        ("x-oss-expires", "604801"),
        ("x-oss-expires", "soon"),
    ];
    for (name, bad) in cases {
        let (key, mut query) = split(&url);
        set(&mut query, name, bad);
        let result = verify(&key, &query, now(), None);
        assert!(
            matches!(&result, Err(PresignError::InvalidParameter { name: n, value }) if *n == name && value == bad),
            "{name}={bad}: {result:?}"
        );
    }
}

#[test]
fn invalid_v1_expires_is_named() {
    let url = presign_get(
        &long_term(),
        SignatureVersion::V1,
        "",
        &location(),
        now(),
        3600,
    );
    let (key, mut query) = split(&url);
    set(&mut query, "Expires", "tomorrow");
    assert_eq!(
        verify(&key, &query, now(), None),
        Err(PresignError::InvalidParameter {
            name: "Expires",
            value: "tomorrow".to_owned()
        })
    );
}

#[test]
fn bucket_url_trailing_slash_is_ignored() {
    let location = ObjectLocation {
        bucket_url: "http://127.0.0.1:9000/examplebucket/",
        bucket: BUCKET,
        key: "a.txt",
    };
    let url = presign_get(&long_term(), SignatureVersion::V1, "", &location, now(), 60);
    assert!(
        url.starts_with("http://127.0.0.1:9000/examplebucket/a.txt?"),
        "{url}"
    );
}
