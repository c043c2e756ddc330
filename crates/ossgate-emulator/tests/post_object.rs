//! PostObject conformance: accepted forms, OSS's error catalogue with its
//! status codes and messages, field rules, STS, object attributes, streaming
//! limits, concurrency and key validation.

mod common;

use chrono::{Duration, Utc};
use common::*;
use ossgate_protocol::form::SignatureVersion;
use ossgate_protocol::policy::Policy;
use ossgate_protocol::{Credentials, FormFields};

fn fields_with(mut fields: FormFields, extra: &[(&str, &str)]) -> FormFields {
    for (name, value) in extra {
        fields.push(*name, *value);
    }
    fields
}

#[tokio::test]
async fn v1_upload_stores_object() {
    let emulator = TestEmulator::start().await;
    let fields = signed_fields(
        "user/a.txt",
        policy(vec![starts_with("$key", "user/")]),
        SignatureVersion::V1,
    );

    let response = emulator
        .post("photos", &fields, FilePart::text("hello"))
        .await;

    assert_eq!(response.status(), 204);
    let headers = response.headers();
    assert_eq!(headers["etag"], "\"5D41402ABC4B2A76B9719D911017C592\"");
    assert_eq!(headers["server"], "AliyunOSS");
    let request_id = headers["x-oss-request-id"].to_str().unwrap();
    assert_eq!(request_id.len(), 24);
    assert!(headers.contains_key("x-oss-hash-crc64ecma"));
    let objects = emulator.objects("photos").await;
    assert_eq!(objects.len(), 1);
    assert_eq!(objects[0]["key"], "user/a.txt");
    assert_eq!(objects[0]["size"], 5);
    assert_eq!(objects[0]["contentType"], "text/plain");
    let read = emulator.read("photos", "user/a.txt").await;
    assert_eq!(read.status(), 200);
    assert_eq!(read.text().await.unwrap(), "hello");
}

#[tokio::test]
async fn crc64_header_matches_ecma_value() {
    let emulator = TestEmulator::start().await;
    let fields = signed_fields("digits.txt", policy(vec![]), SignatureVersion::V1);

    let response = emulator
        .post("photos", &fields, FilePart::text("123456789"))
        .await;

    assert_eq!(response.status(), 204);
    // CRC-64/XZ of "123456789" is 0x995DC9BBDF1939FA.
    assert_eq!(
        response.headers()["x-oss-hash-crc64ecma"],
        u64::from_str_radix("995DC9BBDF1939FA", 16)
            .unwrap()
            .to_string()
            .as_str()
    );
}

#[tokio::test]
async fn v4_upload_stores_object() {
    let emulator = TestEmulator::start().await;
    let fields = signed_fields(
        "user/b.txt",
        policy(vec![exact("bucket", "photos")]),
        SignatureVersion::V4,
    );

    let response = emulator
        .post("photos", &fields, FilePart::text("v4 body"))
        .await;

    assert_eq!(response.status(), 204);
    assert_eq!(emulator.object_keys("photos").await, ["user/b.txt"]);
}

#[tokio::test]
async fn success_action_status_200_and_201() {
    let emulator = TestEmulator::start().await;

    let fields = fields_with(
        signed_fields("s200.txt", policy(vec![]), SignatureVersion::V1),
        &[("success_action_status", "200")],
    );
    let response = emulator.post("photos", &fields, FilePart::text("x")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "");

    let fields = fields_with(
        signed_fields("dir/s 201.txt", policy(vec![]), SignatureVersion::V1),
        &[("success_action_status", "201")],
    );
    let response = emulator.post("photos", &fields, FilePart::text("x")).await;
    assert_eq!(response.status(), 201);
    let xml = response.text().await.unwrap();
    assert_eq!(xml_element(&xml, "Bucket").as_deref(), Some("photos"));
    assert_eq!(xml_element(&xml, "Key").as_deref(), Some("dir/s 201.txt"));
    assert_eq!(
        xml_element(&xml, "ETag").as_deref(),
        Some("\"9DD4E461268C8034F5C8564E155C67A6\"")
    );
    assert_eq!(
        xml_element(&xml, "Location"),
        Some(format!("{}/photos/dir/s%20201.txt", emulator.base_url))
    );
    let order: Vec<usize> = ["<Bucket>", "<Location>", "<Key>", "<ETag>"]
        .iter()
        .map(|tag| xml.find(tag).unwrap())
        .collect();
    assert!(order.windows(2).all(|pair| pair[0] < pair[1]), "{xml}");

    let fields = fields_with(
        signed_fields("s999.txt", policy(vec![]), SignatureVersion::V1),
        &[("success_action_status", "999")],
    );
    let response = emulator.post("photos", &fields, FilePart::text("x")).await;
    assert_eq!(response.status(), 204);
}

#[tokio::test]
async fn success_action_redirect_gives_303() {
    let emulator = TestEmulator::start().await;
    let fields = fields_with(
        signed_fields("r.txt", policy(vec![]), SignatureVersion::V1),
        &[("success_action_redirect", "http://localhost:8080/done?x=1")],
    );

    let response = emulator.post("photos", &fields, FilePart::text("x")).await;

    assert_eq!(response.status(), 303);
    assert_eq!(
        response.headers()["location"],
        "http://localhost:8080/done?x=1&bucket=photos&key=r.txt&etag=%229DD4E461268C8034F5C8564E155C67A6%22"
    );
}

#[tokio::test]
async fn expired_policy_is_rejected() {
    let emulator = TestEmulator::start().await;
    let expired = Policy::new(Utc::now() - Duration::seconds(5));
    let fields = signed_fields("a.txt", expired, SignatureVersion::V1);

    let response = emulator.post("photos", &fields, FilePart::text("x")).await;

    let body = assert_oss_error(
        response,
        403,
        "AccessDenied",
        "Invalid according to Policy: Policy expired.",
    )
    .await;
    assert_eq!(body.ec.as_deref(), Some("0006-00000213"));
    assert!(emulator.object_keys("photos").await.is_empty());
}

#[tokio::test]
async fn starts_with_condition_failure_names_condition() {
    let emulator = TestEmulator::start().await;
    let fields = signed_fields(
        "user/bob/a.txt",
        policy(vec![starts_with("$key", "user/eric/")]),
        SignatureVersion::V1,
    );

    let response = emulator.post("photos", &fields, FilePart::text("x")).await;

    assert_oss_error(
        response,
        403,
        "AccessDenied",
        "Invalid according to Policy: Policy Condition failed: [\"starts-with\", \"$key\", \"user/eric/\"]",
    )
    .await;
}

#[tokio::test]
async fn bucket_condition_uses_request_bucket() {
    let emulator = TestEmulator::start().await;
    let fields = fields_with(
        signed_fields(
            "a.txt",
            policy(vec![exact("bucket", "other")]),
            SignatureVersion::V1,
        ),
        &[("bucket", "other")],
    );

    let response = emulator.post("photos", &fields, FilePart::text("x")).await;

    assert_oss_error(
        response,
        403,
        "AccessDenied",
        "Invalid according to Policy: Policy Condition failed: [\"eq\", \"$bucket\", \"other\"]",
    )
    .await;
}

#[tokio::test]
async fn missing_meta_field_fails_condition() {
    let emulator = TestEmulator::start().await;
    let fields = signed_fields(
        "a.txt",
        policy(vec![exact("x-oss-meta-owner", "eric")]),
        SignatureVersion::V1,
    );

    let response = emulator.post("photos", &fields, FilePart::text("x")).await;

    assert_oss_error(
        response,
        403,
        "AccessDenied",
        "Invalid according to Policy: Policy Condition failed: [\"eq\", \"$x-oss-meta-owner\", \"eric\"]",
    )
    .await;
}

#[tokio::test]
async fn wrong_v1_secret_gives_signature_mismatch() {
    let emulator = TestEmulator::start().await;
    let fields = signed_fields_with(
        "a.txt",
        policy(vec![]),
        SignatureVersion::V1,
        Credentials::new(ACCESS_KEY_ID, "not-the-secret"),
        Utc::now(),
    );

    let response = emulator.post("photos", &fields, FilePart::text("x")).await;

    let body = assert_oss_error(
        response,
        403,
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
    )
    .await;
    assert_eq!(
        xml_element(&body.xml, "StringToSign").as_deref(),
        fields.get("policy")
    );
    assert_eq!(
        xml_element(&body.xml, "OSSAccessKeyId").as_deref(),
        Some(ACCESS_KEY_ID)
    );
}

#[tokio::test]
async fn wrong_v4_secret_gives_signature_mismatch() {
    let emulator = TestEmulator::start().await;
    let fields = signed_fields_with(
        "a.txt",
        policy(vec![]),
        SignatureVersion::V4,
        Credentials::new(ACCESS_KEY_ID, "not-the-secret"),
        Utc::now(),
    );

    let response = emulator.post("photos", &fields, FilePart::text("x")).await;

    assert_eq!(error_body(response).await.code, "SignatureDoesNotMatch");
}

#[tokio::test]
async fn tampered_policy_gives_signature_mismatch() {
    let emulator = TestEmulator::start().await;
    let signed = signed_fields(
        "a.txt",
        policy(vec![starts_with("$key", "user/")]),
        SignatureVersion::V1,
    );
    // The same policy document with different base64 text: the signature
    // covers the text, so this must fail before the policy is read.
    let other_policy = policy(vec![starts_with("$key", "")]).to_base64();
    let mut fields = FormFields::new();
    for (name, value) in signed.iter() {
        fields.push(
            name,
            if name == "policy" {
                other_policy.as_str()
            } else {
                value
            },
        );
    }

    let response = emulator.post("photos", &fields, FilePart::text("x")).await;

    assert_eq!(error_body(response).await.code, "SignatureDoesNotMatch");
}

#[tokio::test]
async fn signature_is_checked_before_policy_parsing() {
    let emulator = TestEmulator::start().await;
    let mut fields = FormFields::new();
    fields.push("key", "a.txt");
    fields.push("OSSAccessKeyId", ACCESS_KEY_ID);
    fields.push("policy", "not-base64-json!");
    fields.push("Signature", "AAAAAAAAAAAAAAAAAAAAAAAAAAA=");

    let response = emulator.post("photos", &fields, FilePart::text("x")).await;

    assert_eq!(error_body(response).await.code, "SignatureDoesNotMatch");
}

#[tokio::test]
async fn unknown_access_key_is_rejected() {
    let emulator = TestEmulator::start().await;
    let fields = signed_fields_with(
        "a.txt",
        policy(vec![]),
        SignatureVersion::V1,
        Credentials::new("LTAIunknown", "s"),
        Utc::now(),
    );

    let response = emulator.post("photos", &fields, FilePart::text("x")).await;

    let body = assert_oss_error(
        response,
        403,
        "InvalidAccessKeyId",
        "The OSS Access Key Id you provided does not exist in our records.",
    )
    .await;
    assert_eq!(
        xml_element(&body.xml, "OSSAccessKeyId").as_deref(),
        Some("LTAIunknown")
    );
}

#[tokio::test]
async fn anonymous_upload_to_private_bucket_is_denied() {
    let emulator = TestEmulator::start().await;
    let fields: FormFields = [("key", "a.txt")].into_iter().collect();

    let response = emulator.post("photos", &fields, FilePart::text("x")).await;

    assert_oss_error(
        response,
        403,
        "AccessDenied",
        "You have no right to access this object because of bucket acl.",
    )
    .await;
}

#[tokio::test]
async fn anonymous_upload_to_public_read_write_bucket_works() {
    let emulator = TestEmulator::start().await;
    let fields: FormFields = [("key", "anon.txt")].into_iter().collect();

    let response = emulator.post("open", &fields, FilePart::text("x")).await;

    assert_eq!(response.status(), 204);
    assert_eq!(emulator.object_keys("open").await, ["anon.txt"]);
}

/// Signs raw policy JSON as V1, for documents the policy builder cannot write.
fn signed_raw_policy(key: &str, json: &str) -> FormFields {
    use base64::Engine as _;
    let policy_base64 = base64::engine::general_purpose::STANDARD.encode(json);
    let secret = ossgate_protocol::AccessKeySecret::new(ACCESS_KEY_SECRET);
    let signature = ossgate_protocol::form::sign_policy_v1(&secret, &policy_base64);
    [
        ("key", key.to_owned()),
        ("OSSAccessKeyId", ACCESS_KEY_ID.to_owned()),
        ("policy", policy_base64),
        ("Signature", signature),
    ]
    .into_iter()
    .collect()
}

#[tokio::test]
async fn invalid_policy_documents_are_rejected() {
    let emulator = TestEmulator::start().await;
    let cases = [
        (
            r#"{"expiration":"2099-01-01T00:00:00.000Z","conditions":[{"key":"a","bucket":"b"}]}"#,
            "Invalid Policy: Invalid Simple-Condition: Simple-Conditions must have exactly one property specified.",
        ),
        (r#"{"expiration": e}"#, "Invalid Policy: Invalid JSON: unknown char e"),
        (
            r#"{"expiration":"2099-01-01T00:00:00.000Z","conditions":[["eq","$key","a"] {"b":"c"}]}"#,
            "Invalid Policy: Invalid JSON: , or ] expected",
        ),
    ];
    for (json, message) in cases {
        let response = emulator
            .post(
                "photos",
                &signed_raw_policy("a.txt", json),
                FilePart::text("x"),
            )
            .await;
        assert_oss_error(response, 400, "InvalidPolicyDocument", message).await;
    }

    let expiration_cases = [
        (r#"{"conditions":[]}"#, "0006-00000208"),
        (r#"{"expiration":5,"conditions":[]}"#, "0006-00000209"),
        (r#"{"expiration":"","conditions":[]}"#, "0006-00000210"),
        (
            r#"{"expiration":"tomorrow","conditions":[]}"#,
            "0006-00000211",
        ),
    ];
    for (json, ec) in expiration_cases {
        let response = emulator
            .post(
                "photos",
                &signed_raw_policy("a.txt", json),
                FilePart::text("x"),
            )
            .await;
        assert_eq!(response.status(), 400, "{json}");
        let body = error_body(response).await;
        assert_eq!(body.code, "InvalidPolicyDocument", "{json}");
        assert_eq!(body.ec.as_deref(), Some(ec), "{json}");
    }
}

#[tokio::test]
async fn content_length_range_limits_size() {
    let emulator = TestEmulator::start().await;

    let fields = signed_fields(
        "big.txt",
        policy(vec![size_range(1, 10)]),
        SignatureVersion::V1,
    );
    let response = emulator
        .post("photos", &fields, FilePart::text("01234567890"))
        .await;
    assert_oss_error(
        response,
        400,
        "EntityTooLarge",
        "Your proposed upload exceeds the maximum allowed size.",
    )
    .await;

    let fields = signed_fields(
        "small.txt",
        policy(vec![size_range(5, 10)]),
        SignatureVersion::V1,
    );
    let response = emulator
        .post("photos", &fields, FilePart::text("abc"))
        .await;
    assert_oss_error(
        response,
        400,
        "EntityTooSmall",
        "Your proposed upload smaller than the minimum allowed size.",
    )
    .await;

    let fields = signed_fields(
        "fits.txt",
        policy(vec![size_range(5, 10)]),
        SignatureVersion::V1,
    );
    let response = emulator
        .post("photos", &fields, FilePart::text("0123456789"))
        .await;
    assert_eq!(response.status(), 204);

    assert_eq!(emulator.object_keys("photos").await, ["fits.txt"]);
    assert_eq!(emulator.temp_files("photos"), 0);
}

#[tokio::test]
async fn oversized_stream_is_cut_off_without_storing() {
    let emulator = TestEmulator::start().await;
    let fields = signed_fields(
        "huge.bin",
        policy(vec![size_range(0, 1024 * 1024)]),
        SignatureVersion::V1,
    );

    // 100 MiB produced chunk by chunk; never held in memory at once.
    const CHUNK: usize = 64 * 1024;
    const TOTAL: u64 = 100 * 1024 * 1024;
    let chunks = futures_util::stream::iter(
        (0..TOTAL / CHUNK as u64)
            .map(|_| Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b'z'; CHUNK]))),
    );
    let file = FilePart {
        file_name: "huge.bin".to_owned(),
        content_type: Some("application/octet-stream".to_owned()),
        body: reqwest::Body::wrap_stream(chunks),
        length: Some(TOTAL),
    };

    let response = emulator.post("photos", &fields, file).await;

    assert_oss_error(
        response,
        400,
        "EntityTooLarge",
        "Your proposed upload exceeds the maximum allowed size.",
    )
    .await;
    assert!(emulator.object_keys("photos").await.is_empty());
    assert_eq!(emulator.temp_files("photos"), 0);
    assert_eq!(emulator.files_with_suffix(".data"), 0);
}

#[tokio::test]
async fn non_multipart_body_is_rejected() {
    let emulator = TestEmulator::start().await;

    let response = emulator
        .client
        .post(emulator.bucket_url("photos"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("key=a.txt")
        .send()
        .await
        .unwrap();

    assert_oss_error(
        response,
        400,
        "InvalidArgument",
        "Bucket POST must be of the enclosure-type multipart/form-data.",
    )
    .await;
}

#[tokio::test]
async fn malformed_multipart_is_rejected() {
    let emulator = TestEmulator::start().await;

    let response = emulator
        .client
        .post(emulator.bucket_url("photos"))
        .header("content-type", "multipart/form-data; boundary=XYZ")
        .body("--XYZ\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\na.txt\r\n--XYZ\r\nthis is not a part header")
        .send()
        .await
        .unwrap();

    assert_oss_error(
        response,
        400,
        "MalformedPOSTRequest",
        "The body of your POST request is not well-formed multipart/form-data.",
    )
    .await;
}

const MISSING_KEY: &str =
    "The bucket POST must contain the specified 'key'. If it is specified, please check the order of the fields";

#[tokio::test]
async fn missing_key_is_rejected() {
    let emulator = TestEmulator::start().await;
    let signed = signed_fields("a.txt", policy(vec![]), SignatureVersion::V1);
    let fields: FormFields = signed.iter().filter(|(name, _)| *name != "key").collect();

    let response = emulator.post("photos", &fields, FilePart::text("x")).await;

    assert_oss_error(response, 400, "InvalidArgument", MISSING_KEY).await;
}

#[tokio::test]
async fn key_after_file_is_rejected() {
    let emulator = TestEmulator::start().await;
    let signed = signed_fields("a.txt", policy(vec![]), SignatureVersion::V1);
    let mut form = reqwest::multipart::Form::new();
    for (name, value) in signed.iter().filter(|(name, _)| *name != "key") {
        form = form.text(name.to_owned(), value.to_owned());
    }
    form = form
        .part(
            "file",
            reqwest::multipart::Part::text("x").file_name("a.txt"),
        )
        .text("key", "a.txt");

    let response = emulator
        .client
        .post(emulator.bucket_url("photos"))
        .multipart(form)
        .send()
        .await
        .unwrap();

    assert_oss_error(response, 400, "InvalidArgument", MISSING_KEY).await;
}

#[tokio::test]
async fn field_after_file_is_rejected() {
    let emulator = TestEmulator::start().await;
    let signed = signed_fields("a.txt", policy(vec![]), SignatureVersion::V1);
    let mut form = multipart_form(&signed, FilePart::text("x"));
    form = form.text("success_action_status", "200");

    let response = emulator
        .client
        .post(emulator.bucket_url("photos"))
        .multipart(form)
        .send()
        .await
        .unwrap();

    assert_oss_error(
        response,
        400,
        "InvalidArgument",
        "The file must be the last field of the form, but field \"success_action_status\" follows it.",
    )
    .await;
    assert!(emulator.object_keys("photos").await.is_empty());
}

#[tokio::test]
async fn form_without_file_is_rejected() {
    let emulator = TestEmulator::start().await;
    let signed = signed_fields("a.txt", policy(vec![]), SignatureVersion::V1);
    let mut form = reqwest::multipart::Form::new();
    for (name, value) in signed.iter() {
        form = form.text(name.to_owned(), value.to_owned());
    }

    let response = emulator
        .client
        .post(emulator.bucket_url("photos"))
        .multipart(form)
        .send()
        .await
        .unwrap();

    assert_oss_error(
        response,
        400,
        "IncorrectNumberOfFilesInPOSTRequest",
        "POST requires exactly one file upload per request.",
    )
    .await;
}

#[tokio::test]
async fn partial_v1_field_sets_are_rejected() {
    let emulator = TestEmulator::start().await;
    let signed = signed_fields("a.txt", policy(vec![]), SignatureVersion::V1);
    let without =
        |skip: &str| -> FormFields { signed.iter().filter(|(name, _)| *name != skip).collect() };

    let response = emulator
        .post("photos", &without("OSSAccessKeyId"), FilePart::text("x"))
        .await;
    let body = assert_oss_error(
        response,
        400,
        "InvalidArgument",
        "Post request accessKeyId is empty.",
    )
    .await;
    assert_eq!(body.ec.as_deref(), Some("0002-00000703"));

    let response = emulator
        .post("photos", &without("Signature"), FilePart::text("x"))
        .await;
    let body = assert_oss_error(
        response,
        400,
        "InvalidArgument",
        "Post request signature is empty.",
    )
    .await;
    assert_eq!(body.ec.as_deref(), Some("0002-00000704"));

    let response = emulator
        .post("photos", &without("policy"), FilePart::text("x"))
        .await;
    assert_oss_error(
        response,
        400,
        "InvalidArgument",
        "Post request policy is empty.",
    )
    .await;
}

#[tokio::test]
async fn partial_v4_field_set_is_rejected() {
    let emulator = TestEmulator::start().await;
    let signed = signed_fields("a.txt", policy(vec![]), SignatureVersion::V4);
    let fields: FormFields = signed
        .iter()
        .filter(|(name, _)| *name != "x-oss-credential")
        .collect();

    let response = emulator.post("photos", &fields, FilePart::text("x")).await;

    assert_oss_error(
        response,
        400,
        "InvalidArgument",
        "Post request x-oss-credential is empty.",
    )
    .await;
}

#[tokio::test]
async fn field_names_are_case_insensitive() {
    let emulator = TestEmulator::start().await;
    let signed = signed_fields(
        "case.txt",
        policy(vec![starts_with("$key", "case")]),
        SignatureVersion::V1,
    );
    let fields: FormFields = signed
        .iter()
        .map(|(name, value)| {
            let name = match name {
                "key" => "KEY",
                "OSSAccessKeyId" => "ossaccesskeyid",
                "policy" => "Policy",
                "Signature" => "SIGNATURE",
                other => other,
            };
            (name, value)
        })
        .collect();

    let response = emulator.post("photos", &fields, FilePart::text("x")).await;

    assert_eq!(response.status(), 204);
    assert_eq!(emulator.object_keys("photos").await, ["case.txt"]);
}

#[tokio::test]
async fn extra_fields_without_conditions_are_allowed() {
    let emulator = TestEmulator::start().await;
    // plupload adds a `name` field no condition mentions.
    let fields = fields_with(
        signed_fields(
            "dir/${filename}",
            policy(vec![starts_with("$key", "dir/")]),
            SignatureVersion::V1,
        ),
        &[("name", "photo.png"), ("success_action_status", "200")],
    );

    let response = emulator
        .post(
            "photos",
            &fields,
            FilePart::bytes("photo.png", "image/png", tiny_png()),
        )
        .await;

    assert_eq!(response.status(), 200);
    assert_eq!(emulator.object_keys("photos").await, ["dir/photo.png"]);
}

#[tokio::test]
async fn filename_is_expanded_after_policy_check() {
    let emulator = TestEmulator::start().await;
    // The condition is checked against the key as sent, with the literal placeholder.
    let fields = signed_fields(
        "u/${filename}",
        policy(vec![exact("key", "u/${filename}")]),
        SignatureVersion::V1,
    );

    let response = emulator
        .post(
            "photos",
            &fields,
            FilePart::bytes("report final.pdf", "application/pdf", b"%PDF".to_vec()),
        )
        .await;

    assert_eq!(response.status(), 204);
    assert_eq!(emulator.object_keys("photos").await, ["u/report final.pdf"]);
}

#[tokio::test]
async fn content_type_precedence() {
    let emulator = TestEmulator::start().await;
    let emulator = &emulator;
    let upload = |key: &'static str, extra: Vec<(&'static str, &'static str)>| {
        let fields = fields_with(
            signed_fields(key, policy(vec![]), SignatureVersion::V1),
            &extra,
        );
        async move {
            emulator
                .post(
                    "photos",
                    &fields,
                    FilePart::bytes("f.bin", "image/png", b"data".to_vec()),
                )
                .await
        }
    };

    assert_eq!(
        upload(
            "t1",
            vec![
                ("Content-Type", "text/csv"),
                ("x-oss-content-type", "application/json")
            ]
        )
        .await
        .status(),
        204
    );
    assert_eq!(
        upload("t2", vec![("Content-Type", "text/csv")])
            .await
            .status(),
        204
    );
    assert_eq!(upload("t3", vec![]).await.status(), 204);

    let objects = emulator.objects("photos").await;
    let content_type = |key: &str| {
        objects.iter().find(|o| o["key"] == key).unwrap()["contentType"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(content_type("t1"), "application/json");
    assert_eq!(content_type("t2"), "text/csv");
    assert_eq!(content_type("t3"), "image/png");
}

#[tokio::test]
async fn metadata_headers_are_stored_and_served() {
    let emulator = TestEmulator::start().await;
    let fields = fields_with(
        signed_fields("meta.txt", policy(vec![]), SignatureVersion::V1),
        &[
            ("x-oss-meta-Owner", "eric"),
            ("Cache-Control", "no-cache"),
            ("Content-Disposition", "attachment; filename=\"m.txt\""),
            ("Content-Encoding", "identity"),
            ("Expires", "Thu, 01 Dec 2094 16:00:00 GMT"),
        ],
    );

    assert_eq!(
        emulator
            .post("photos", &fields, FilePart::text("meta"))
            .await
            .status(),
        204
    );

    let read = emulator.read("photos", "meta.txt").await;
    assert_eq!(read.status(), 200);
    let headers = read.headers();
    assert_eq!(headers["x-oss-meta-owner"], "eric");
    assert_eq!(headers["cache-control"], "no-cache");
    assert_eq!(
        headers["content-disposition"],
        "attachment; filename=\"m.txt\""
    );
    assert_eq!(headers["content-encoding"], "identity");
    assert_eq!(headers["expires"], "Thu, 01 Dec 2094 16:00:00 GMT");
    assert_eq!(headers["x-oss-object-type"], "Normal");
}

#[tokio::test]
async fn object_acl_public_read_allows_anonymous_get() {
    let emulator = TestEmulator::start().await;
    let fields = fields_with(
        signed_fields("pub.txt", policy(vec![]), SignatureVersion::V1),
        &[("x-oss-object-acl", "public-read")],
    );
    assert_eq!(
        emulator
            .post("photos", &fields, FilePart::text("visible"))
            .await
            .status(),
        204
    );
    let fields = signed_fields("priv.txt", policy(vec![]), SignatureVersion::V1);
    assert_eq!(
        emulator
            .post("photos", &fields, FilePart::text("hidden"))
            .await
            .status(),
        204
    );

    let public = emulator
        .client
        .get(format!("{}/photos/pub.txt", emulator.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(public.status(), 200);
    assert_eq!(public.text().await.unwrap(), "visible");
    let private = emulator
        .client
        .get(format!("{}/photos/priv.txt", emulator.base_url))
        .send()
        .await
        .unwrap();
    assert_oss_error(
        private,
        403,
        "AccessDenied",
        "You have no right to access this object because of bucket acl.",
    )
    .await;

    let fields = fields_with(
        signed_fields("bad.txt", policy(vec![]), SignatureVersion::V1),
        &[("x-oss-object-acl", "everyone")],
    );
    let response = emulator.post("photos", &fields, FilePart::text("x")).await;
    assert_oss_error(
        response,
        400,
        "InvalidArgument",
        "no such object access control exists",
    )
    .await;
}

#[tokio::test]
async fn forbid_overwrite_gives_409() {
    let emulator = TestEmulator::start().await;
    let fields = fields_with(
        signed_fields("once.txt", policy(vec![]), SignatureVersion::V1),
        &[("x-oss-forbid-overwrite", "true")],
    );
    assert_eq!(
        emulator
            .post("photos", &fields, FilePart::text("first"))
            .await
            .status(),
        204
    );

    let response = emulator
        .post("photos", &fields, FilePart::text("second"))
        .await;

    assert_oss_error(
        response,
        409,
        "FileAlreadyExists",
        "The object you specified already exists and can not be overwritten.",
    )
    .await;
    assert_eq!(
        emulator
            .read("photos", "once.txt")
            .await
            .text()
            .await
            .unwrap(),
        "first"
    );
}

#[tokio::test]
async fn content_md5_mismatch_gives_invalid_digest() {
    let emulator = TestEmulator::start().await;
    // The base64 MD5 of "hello"; the file is "hellO".
    let fields = fields_with(
        signed_fields("md5.txt", policy(vec![]), SignatureVersion::V1),
        &[("Content-MD5", "XUFAKrxLKna5cZ2REBfFkg==")],
    );

    let response = emulator
        .post("photos", &fields, FilePart::text("hellO"))
        .await;
    assert_oss_error(
        response,
        400,
        "InvalidDigest",
        "The Content-MD5 you specified is not valid.",
    )
    .await;
    assert!(emulator.object_keys("photos").await.is_empty());

    let response = emulator
        .post("photos", &fields, FilePart::text("hello"))
        .await;
    assert_eq!(response.status(), 204);
}

#[tokio::test]
async fn too_long_field_values_are_rejected() {
    let emulator = TestEmulator::start().await;
    let long = "v".repeat(2 * 1024 * 1024 + 1);
    let fields = fields_with(
        signed_fields("a.txt", policy(vec![]), SignatureVersion::V1),
        &[("x-oss-meta-big", long.as_str())],
    );

    let response = emulator.post("photos", &fields, FilePart::text("x")).await;

    assert_oss_error(
        response,
        400,
        "FieldItemTooLong",
        "The form field values exceed 2 MB in total.",
    )
    .await;
}

#[tokio::test]
async fn declared_body_over_5g_is_rejected() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let emulator = TestEmulator::start().await;
    let mut stream = tokio::net::TcpStream::connect(emulator.address)
        .await
        .unwrap();
    let request = format!(
        "POST /photos HTTP/1.1\r\nHost: {}\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 6000000000\r\nConnection: close\r\n\r\n--b\r\n",
        emulator.address
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    stream.shutdown().await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();

    assert!(response.starts_with("HTTP/1.1 400"), "{response}");
    assert!(
        response.contains("<Message>Post body size must be less than 5G.</Message>"),
        "{response}"
    );
}

#[tokio::test]
async fn sts_rules_are_enforced() {
    let emulator = TestEmulator::start().await;
    let sts = Credentials::new(STS_KEY_ID, STS_SECRET).with_security_token(STS_TOKEN);

    // Right key, right token.
    let fields = signed_fields_with(
        "sts.txt",
        policy(vec![]),
        SignatureVersion::V1,
        sts.clone(),
        Utc::now(),
    );
    assert_eq!(
        emulator
            .post("photos", &fields, FilePart::text("x"))
            .await
            .status(),
        204
    );
    let fields = signed_fields_with(
        "sts4.txt",
        policy(vec![]),
        SignatureVersion::V4,
        sts.clone(),
        Utc::now(),
    );
    assert_eq!(
        emulator
            .post("photos", &fields, FilePart::text("x"))
            .await
            .status(),
        204
    );

    // An STS key without its token.
    let fields = signed_fields_with(
        "a.txt",
        policy(vec![]),
        SignatureVersion::V1,
        Credentials::new(STS_KEY_ID, STS_SECRET),
        Utc::now(),
    );
    let body = assert_oss_error(
        emulator.post("photos", &fields, FilePart::text("x")).await,
        403,
        "InvalidAccessKeyId",
        "The OSS Access Key Id you provided does not exist in our records.",
    )
    .await;
    assert_eq!(body.ec.as_deref(), Some("0002-00000003"));

    // A long-term key with a token.
    let fields = signed_fields_with(
        "a.txt",
        policy(vec![]),
        SignatureVersion::V1,
        Credentials::new(ACCESS_KEY_ID, ACCESS_KEY_SECRET).with_security_token("stray"),
        Utc::now(),
    );
    let body = error_body(emulator.post("photos", &fields, FilePart::text("x")).await).await;
    assert_eq!(body.code, "InvalidAccessKeyId");
    assert_eq!(body.ec.as_deref(), Some("0002-00000002"));

    // An STS key with another token.
    let wrong = Credentials::new(STS_KEY_ID, STS_SECRET).with_security_token("CAISwrong");
    let fields = signed_fields_with(
        "a.txt",
        policy(vec![]),
        SignatureVersion::V1,
        wrong,
        Utc::now(),
    );
    assert_oss_error(
        emulator.post("photos", &fields, FilePart::text("x")).await,
        403,
        "InvalidSecurityToken",
        "The security token you provided is invalid.",
    )
    .await;
}

#[tokio::test]
async fn v4_date_outside_skew_is_rejected() {
    let emulator = TestEmulator::start().await;
    let fields = signed_fields_with(
        "a.txt",
        policy(vec![]),
        SignatureVersion::V4,
        Credentials::new(ACCESS_KEY_ID, ACCESS_KEY_SECRET),
        Utc::now() - Duration::minutes(16),
    );

    let response = emulator.post("photos", &fields, FilePart::text("x")).await;

    assert_oss_error(
        response,
        403,
        "RequestTimeTooSkewed",
        "The difference between the request time and the current time is too large.",
    )
    .await;

    let fields = signed_fields_with(
        "a.txt",
        policy(vec![]),
        SignatureVersion::V4,
        Credentials::new(ACCESS_KEY_ID, ACCESS_KEY_SECRET),
        Utc::now() - Duration::minutes(14),
    );
    assert_eq!(
        emulator
            .post("photos", &fields, FilePart::text("x"))
            .await
            .status(),
        204
    );
}

#[tokio::test]
async fn v4_credential_for_other_region_is_rejected() {
    let emulator = TestEmulator::start().await;
    let signer = ossgate_protocol::form::FormSigner::new(
        Credentials::new(ACCESS_KEY_ID, ACCESS_KEY_SECRET),
        SignatureVersion::V4,
        "cn-beijing",
    );
    let signed = signer.sign(policy(vec![]), Utc::now());
    let mut fields = FormFields::new();
    fields.push("key", "a.txt");
    for (name, value) in signed.fields.iter() {
        fields.push(name, value);
    }

    let response = emulator.post("photos", &fields, FilePart::text("x")).await;

    assert_oss_error(
        response,
        400,
        "InvalidArgument",
        "Invalid credential region \"cn-beijing\": this endpoint is in region \"cn-hangzhou\".",
    )
    .await;
}

#[tokio::test]
async fn callback_configuration_errors_are_rejected() {
    use base64::Engine as _;
    let emulator = TestEmulator::start().await;
    let encode = |json: &str| base64::engine::general_purpose::STANDARD.encode(json);
    let cases = [
        (
            "%%%not base64".to_owned(),
            "The callback configuration is not base64 encoded.",
        ),
        (
            encode("not json"),
            "The callback configuration is not json format.",
        ),
        (
            encode(r#"{"callbackUrl":"ftp://x","callbackBody":"a"}"#),
            "The callback url configuration is invalid.",
        ),
        (
            encode(
                r#"{"callbackUrl":"http://127.0.0.1:1/","callbackHost":"bad host/","callbackBody":"a"}"#,
            ),
            "The callback host configuration is invalid.",
        ),
        (
            encode(
                r#"{"callbackUrl":"http://127.0.0.1:1/","callbackBody":"a","callbackBodyType":"text/plain"}"#,
            ),
            "The callback body type configuration is invalid.",
        ),
        (
            encode(
                r#"{"callbackUrl":"http://a.test/;http://b.test/;http://c.test/;http://d.test/;http://e.test/;http://f.test/","callbackBody":"a"}"#,
            ),
            "The number of callback url exceed max value.",
        ),
    ];
    for (callback, message) in cases {
        let fields = fields_with(
            signed_fields("cb.txt", policy(vec![]), SignatureVersion::V1),
            &[("callback", callback.as_str())],
        );
        let response = emulator.post("photos", &fields, FilePart::text("x")).await;
        assert_oss_error(response, 400, "InvalidArgument", message).await;
    }
    assert!(emulator.object_keys("photos").await.is_empty());
}

#[tokio::test]
async fn key_escape_attempts_are_rejected() {
    let emulator = TestEmulator::start().await;
    for key in ["../../etc/passwd", "/absolute", "\\windows", "a/../../x"] {
        let fields = signed_fields(key, policy(vec![]), SignatureVersion::V1);
        let response = emulator.post("photos", &fields, FilePart::text("x")).await;
        assert_eq!(response.status(), 400, "key {key:?}");
        assert_eq!(
            error_body(response).await.code,
            "InvalidObjectName",
            "key {key:?}"
        );
    }

    // The file name is expanded into the key and checked the same way.
    let fields = signed_fields("u/${filename}", policy(vec![]), SignatureVersion::V1);
    let response = emulator
        .post(
            "photos",
            &fields,
            FilePart::bytes("../../../escape", "text/plain", b"x".to_vec()),
        )
        .await;
    assert_eq!(error_body(response).await.code, "InvalidObjectName");

    let long_key = "k".repeat(1024);
    let fields = signed_fields(&long_key, policy(vec![]), SignatureVersion::V1);
    let response = emulator.post("photos", &fields, FilePart::text("x")).await;
    assert_eq!(error_body(response).await.code, "InvalidObjectName");

    assert!(emulator.object_keys("photos").await.is_empty());
    assert!(!emulator.data_dir.path().join("etc").exists());
    assert_eq!(emulator.files_with_suffix(".data"), 0);
}

#[tokio::test]
async fn concurrent_uploads_keep_one_object() {
    use md5::{Digest, Md5};
    let emulator = TestEmulator::start().await;
    let bodies: Vec<Vec<u8>> = (0..8u8)
        .map(|i| vec![b'a' + i; 256 * 1024 + i as usize])
        .collect();

    let uploads = bodies.iter().map(|body| {
        let fields = signed_fields("same.bin", policy(vec![]), SignatureVersion::V1);
        let emulator = &emulator;
        let body = body.clone();
        async move {
            emulator
                .post(
                    "photos",
                    &fields,
                    FilePart::bytes("same.bin", "application/octet-stream", body),
                )
                .await
                .status()
        }
    });
    let statuses = futures_util::future::join_all(uploads).await;

    assert!(statuses.iter().all(|status| *status == 204), "{statuses:?}");
    let read = emulator.read("photos", "same.bin").await;
    let etag = read.headers()["etag"].to_str().unwrap().to_owned();
    let content = read.bytes().await.unwrap();
    assert!(
        bodies
            .iter()
            .any(|body| body.as_slice() == content.as_ref()),
        "the object is not one of the uploads"
    );
    assert_eq!(
        etag,
        format!("\"{}\"", hex::encode_upper(Md5::digest(&content)))
    );
    assert_eq!(emulator.files_with_suffix(".data"), 1);
    assert_eq!(emulator.temp_files("photos"), 0);
}

#[tokio::test]
async fn failing_storage_fault_stores_nothing() {
    let emulator = TestEmulator::start().await;
    emulator
        .set_faults(serde_json::json!({ "fail_storage_writes": true }))
        .await;
    let fields = signed_fields("fail.txt", policy(vec![]), SignatureVersion::V1);

    let response = emulator.post("photos", &fields, FilePart::text("x")).await;

    assert_oss_error(
        response,
        500,
        "InternalError",
        "We encountered an internal error. Please try again.",
    )
    .await;
    assert!(emulator.object_keys("photos").await.is_empty());
    assert_eq!(emulator.temp_files("photos"), 0);
}

#[tokio::test]
async fn clock_offset_fault_expires_policy() {
    let emulator = TestEmulator::start().await;
    emulator
        .set_faults(serde_json::json!({ "clock_offset_secs": 7200 }))
        .await;
    let fields = signed_fields("late.txt", policy(vec![]), SignatureVersion::V1);

    let response = emulator.post("photos", &fields, FilePart::text("x")).await;

    assert_oss_error(
        response,
        403,
        "AccessDenied",
        "Invalid according to Policy: Policy expired.",
    )
    .await;
    let cleared = emulator
        .client
        .delete(format!("{}/_emulator/faults", emulator.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(cleared.status(), 200);
    let fields = signed_fields("late.txt", policy(vec![]), SignatureVersion::V1);
    assert_eq!(
        emulator
            .post("photos", &fields, FilePart::text("x"))
            .await
            .status(),
        204
    );
}

#[tokio::test]
async fn posts_hook_records_outcomes() {
    let emulator = TestEmulator::start().await;
    let fields = signed_fields("ok.txt", policy(vec![]), SignatureVersion::V1);
    emulator.post("photos", &fields, FilePart::text("x")).await;
    let expired = signed_fields(
        "old.txt",
        Policy::new(Utc::now() - Duration::seconds(1)),
        SignatureVersion::V1,
    );
    emulator.post("photos", &expired, FilePart::text("x")).await;

    let posts: serde_json::Value = emulator
        .client
        .get(format!("{}/_emulator/posts", emulator.base_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    let posts = posts["posts"].as_array().unwrap();
    assert_eq!(posts.len(), 2);
    assert_eq!(posts[0]["key"], "ok.txt");
    assert_eq!(posts[0]["status"], 204);
    assert_eq!(posts[0]["code"], serde_json::Value::Null);
    assert_eq!(posts[0]["accessKeyId"], ACCESS_KEY_ID);
    assert_eq!(posts[1]["key"], "old.txt");
    assert_eq!(posts[1]["status"], 403);
    assert_eq!(posts[1]["code"], "AccessDenied");
    assert_eq!(posts[1]["bucket"], "photos");
}

#[tokio::test]
async fn virtual_hosted_post_works() {
    let emulator = TestEmulator::start().await;
    let fields = signed_fields(
        "vh.txt",
        policy(vec![exact("bucket", "photos")]),
        SignatureVersion::V1,
    );

    let response = emulator
        .client
        .post(format!("{}/", emulator.base_url))
        .header(
            "host",
            format!("photos.localhost:{}", emulator.address.port()),
        )
        .multipart(multipart_form(&fields, FilePart::text("x")))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 204);
    assert_eq!(emulator.object_keys("photos").await, ["vh.txt"]);
}

#[tokio::test]
async fn unknown_bucket_gives_no_such_bucket() {
    let emulator = TestEmulator::start().await;
    let fields = signed_fields("a.txt", policy(vec![]), SignatureVersion::V1);

    let response = emulator.post("nothere", &fields, FilePart::text("x")).await;

    assert_oss_error(
        response,
        404,
        "NoSuchBucket",
        "The specified bucket does not exist.",
    )
    .await;
}
