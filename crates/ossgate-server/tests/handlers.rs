//! Handler tests through the router with `oneshot`: tokens, the legacy policy,
//! callbacks accepted, replayed and rejected for every cause, listings and
//! operations endpoints.

mod common;

use axum::http::StatusCode;
use chrono::Utc;
use common::*;
use ossgate_protocol::form::{verify_policy_v1, verify_policy_v4};
use ossgate_protocol::v4::SigningKey;
use ossgate_protocol::{AccessKeySecret, Condition, Policy};
use ossgate_server::ticket::{Ticket, TicketKey, TicketScope};
use serde_json::Value;

fn policy_of(token: &Value) -> Policy {
    Policy::from_base64(token["fields"]["policy"].as_str().unwrap()).unwrap()
}

async fn token_field_names(app: &TestApp, query: &str) -> Vec<String> {
    let answer = app
        .get(&format!("/api/upload-token?{query}"), Some(ALICE_TOKEN))
        .await;
    ordered_fields(&answer.body)
        .into_iter()
        .map(|(name, _)| name)
        .collect()
}

#[tokio::test]
async fn limits_report_the_settings() {
    let mut sources = sources();
    sources.set("upload.content_types", vec!["image/png", "image/jpeg"]);
    let app = app(sources).await;
    let answer = app.get("/api/limits", None).await;
    assert_eq!(answer.status, StatusCode::OK);
    let limits = answer.json();
    assert_eq!(limits["maxSize"], 10 * 1024 * 1024);
    assert_eq!(
        limits["contentTypes"],
        serde_json::json!(["image/png", "image/jpeg"])
    );
    assert_eq!(limits["signatureVersion"], "v4");
    assert_eq!(limits["tokenLifetime"], 300);
    assert_eq!(limits["authMode"], "bearer");
}

#[tokio::test]
async fn upload_token_signs_a_complete_v4_policy() {
    let mut sources = sources();
    sources.set("upload.content_types", vec!["image/png", "image/jpeg"]);
    let app = app(sources).await;
    let before = Utc::now().timestamp();
    let token = token(&app, "filename=cat.PNG&size=1234&contentType=image%2Fpng").await;

    // The answer's shape.
    assert_eq!(
        token["url"],
        "https://test-bucket.oss-cn-hangzhou.aliyuncs.com"
    );
    assert_eq!(token["method"], "POST");
    assert_eq!(token["signatureVersion"], "v4");
    // The token allows no more than the declared size.
    assert_eq!(token["maxSize"], 1234);
    let dir = token["dir"].as_str().unwrap();
    assert_eq!(
        dir,
        format!("uploads/alice/{}/", Utc::now().format("%Y-%m-%d"))
    );
    let key = token["key"].as_str().unwrap();
    assert!(key.starts_with(dir), "{key}");
    assert!(key.ends_with(".png"), "{key}");
    let expire = token["expire"].as_i64().unwrap();
    assert!((before + 300..=before + 302).contains(&expire), "{expire}");
    assert_eq!(
        token_field_names(&app, "filename=cat.PNG&size=1234&contentType=image%2Fpng").await,
        [
            "key",
            "Content-Type",
            "x-oss-content-type",
            "x-oss-object-acl",
            "x-oss-forbid-overwrite",
            "success_action_status",
            "callback",
            "policy",
            "x-oss-signature-version",
            "x-oss-credential",
            "x-oss-date",
            "x-oss-signature"
        ]
    );
    assert_eq!(token["fields"]["key"], key);
    assert_eq!(token["fields"]["Content-Type"], "image/png");
    assert_eq!(token["fields"]["success_action_status"], "200");
    assert_eq!(token["fields"]["x-oss-object-acl"], "default");
    assert_eq!(token["fields"]["x-oss-forbid-overwrite"], "true");

    // The policy binds every field the browser could change.
    let policy = policy_of(&token);
    assert_eq!(policy.expiration.timestamp(), expire);
    let callback = token["fields"]["callback"].as_str().unwrap().to_owned();
    let expected = [
        Condition::Exact {
            field: "bucket".into(),
            value: BUCKET.into(),
        },
        Condition::Eq {
            field: "key".into(),
            value: key.into(),
        },
        Condition::ContentLengthRange { min: 0, max: 1234 },
        Condition::In {
            field: "content-type".into(),
            values: vec!["image/png".into(), "image/jpeg".into()],
        },
        Condition::Exact {
            field: "x-oss-object-acl".into(),
            value: "default".into(),
        },
        Condition::Exact {
            field: "x-oss-forbid-overwrite".into(),
            value: "true".into(),
        },
        Condition::Exact {
            field: "success_action_status".into(),
            value: "200".into(),
        },
        Condition::Exact {
            field: "callback".into(),
            value: callback.clone(),
        },
    ];
    for condition in &expected {
        assert!(
            policy.conditions.contains(condition),
            "{condition:?} missing"
        );
    }

    // The callback points at the configured URL with a form body.
    let param = ossgate_protocol::CallbackParam::from_base64(&callback).unwrap();
    assert_eq!(param.urls, [CALLBACK_URL]);
    assert!(param.body.contains("&ticket="));

    // The signature checks out with the secret.
    let date = chrono::DateTime::from_timestamp(expire - 300, 0)
        .unwrap()
        .date_naive();
    let signing_key = SigningKey::derive(
        &AccessKeySecret::new("test-access-key-secret"),
        date,
        "cn-hangzhou",
    );
    assert!(verify_policy_v4(
        &signing_key,
        token["fields"]["policy"].as_str().unwrap(),
        token["fields"]["x-oss-signature"].as_str().unwrap()
    ));
    assert_eq!(answer_cache_control(&app).await, "no-store");
}

async fn answer_cache_control(app: &TestApp) -> String {
    let answer = app
        .get("/api/upload-token?contentType=image/png", Some(ALICE_TOKEN))
        .await;
    answer.headers["cache-control"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn upload_token_rejects_declared_limits() {
    let mut sources = sources();
    sources.set("upload.content_types", vec!["image/png"]);
    sources.set("upload.max_size", 1000);
    let app = app(sources).await;

    let too_large = app
        .get(
            "/api/upload-token?size=1001&contentType=image/png",
            Some(ALICE_TOKEN),
        )
        .await;
    assert_eq!(too_large.status, StatusCode::BAD_REQUEST);
    assert_eq!(too_large.code(), "EntityTooLarge");
    assert_eq!(too_large.json()["Status"], "Error");

    let wrong_type = app
        .get(
            "/api/upload-token?size=10&contentType=text/html",
            Some(ALICE_TOKEN),
        )
        .await;
    assert_eq!(wrong_type.status, StatusCode::BAD_REQUEST);
    assert_eq!(wrong_type.code(), "InvalidContentType");

    let no_type = app
        .get("/api/upload-token?size=10", Some(ALICE_TOKEN))
        .await;
    assert_eq!(no_type.code(), "InvalidContentType");

    let bad_size = app
        .get("/api/upload-token?size=ten", Some(ALICE_TOKEN))
        .await;
    assert_eq!(bad_size.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad_size.code(), "InvalidArgument");
}

#[tokio::test]
async fn upload_token_requires_a_known_bearer_token() {
    let app = app(sources()).await;
    let missing = app.get("/api/upload-token", None).await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert_eq!(missing.code(), "MissingToken");
    assert_eq!(missing.headers["www-authenticate"], "Bearer");

    let unknown = app
        .get("/api/upload-token", Some("not-a-token-0123456789"))
        .await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.code(), "InvalidToken");

    let policy = app.get("/api/policy", None).await;
    assert_eq!(policy.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn filename_strategy_uses_a_directory_prefix() {
    let mut sources = sources();
    sources.set("upload.key_strategy", "filename");
    let app = app(sources).await;
    let token = token(&app, "filename=report.pdf").await;
    assert!(token.get("key").is_none(), "{token}");
    let dir = token["dir"].as_str().unwrap();
    assert_eq!(token["fields"]["key"], format!("{dir}${{filename}}"));
    let policy = policy_of(&token);
    assert!(policy.conditions.contains(&Condition::StartsWith {
        field: "key".into(),
        prefix: dir.into()
    }));
    assert!(!token_field_names(&app, "")
        .await
        .contains(&"Content-Type".to_owned()));
}

#[tokio::test]
async fn v1_token_uses_the_v1_fields() {
    let mut sources = sources();
    sources.set("oss.signature_version", "v1");
    let app = app(sources).await;
    let token = token(&app, "").await;
    assert_eq!(token["signatureVersion"], "v1");
    let names = token_field_names(&app, "").await;
    for name in ["OSSAccessKeyId", "policy", "Signature"] {
        assert!(
            names.contains(&name.to_owned()),
            "{name} missing from {names:?}"
        );
    }
    assert!(verify_policy_v1(
        &AccessKeySecret::new("test-access-key-secret"),
        token["fields"]["policy"].as_str().unwrap(),
        token["fields"]["Signature"].as_str().unwrap()
    ));
}

#[tokio::test]
async fn sts_token_in_form_and_policy() {
    let mut sources = sources();
    sources
        .env
        .push(("OSS_SESSION_TOKEN".into(), "sts-session-token".into()));
    let app = app(sources).await;
    let token = token(&app, "").await;
    assert_eq!(token["fields"]["x-oss-security-token"], "sts-session-token");
    let policy = policy_of(&token);
    let bound = policy.conditions.iter().any(|condition| {
        matches!(condition, Condition::Exact { field, value }
            if field == "x-oss-security-token" && value == "sts-session-token")
    });
    assert!(bound, "{:?}", policy.conditions);
}

#[tokio::test]
async fn legacy_policy_with_sts_is_refused() {
    let mut sources = sources();
    sources
        .env
        .push(("OSS_SESSION_TOKEN".into(), "sts-session-token".into()));
    let app = app(sources).await;
    let answer = app.get("/api/policy", Some(ALICE_TOKEN)).await;
    assert_eq!(answer.status, StatusCode::CONFLICT);
    let body: Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(body["code"], "LegacyPolicyWithSts");
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("/api/upload-token"));
}

#[tokio::test]
async fn legacy_policy_has_the_sample_shape() {
    let app = app(sources()).await;
    let answer = app.get("/api/policy", Some(ALICE_TOKEN)).await;
    assert_eq!(answer.status, StatusCode::OK);
    let text = String::from_utf8(answer.body.clone()).unwrap();
    let order: Vec<usize> = [
        "\"accessid\"",
        "\"host\"",
        "\"expire\"",
        "\"signature\"",
        "\"policy\"",
        "\"dir\"",
        "\"callback\"",
    ]
    .iter()
    .map(|name| {
        text.find(name)
            .unwrap_or_else(|| panic!("{name} missing: {text}"))
    })
    .collect();
    assert!(order.windows(2).all(|pair| pair[0] < pair[1]), "{text}");

    let policy = answer.json();
    assert_eq!(policy["accessid"], "LTAI5tTestKeyId");
    assert_eq!(
        policy["host"],
        "https://test-bucket.oss-cn-hangzhou.aliyuncs.com"
    );
    assert!(policy["expire"].is_i64());
    assert!(verify_policy_v1(
        &AccessKeySecret::new("test-access-key-secret"),
        policy["policy"].as_str().unwrap(),
        policy["signature"].as_str().unwrap()
    ));
    let decoded = Policy::from_base64(policy["policy"].as_str().unwrap()).unwrap();
    assert!(decoded.conditions.contains(&Condition::StartsWith {
        field: "key".into(),
        prefix: policy["dir"].as_str().unwrap().into()
    }));
    assert!(decoded.conditions.contains(&Condition::Exact {
        field: "callback".into(),
        value: policy["callback"].as_str().unwrap().into()
    }));
}

/// A token for alice and the callback OSS would send after storing its key.
async fn accepted_callback(app: &TestApp) -> (Value, String) {
    let token = token(app, "filename=cat.png&contentType=image/png").await;
    let key = token["key"].as_str().unwrap();
    let body = render(
        token["fields"]["callback"].as_str().unwrap(),
        &stored(key, 68, "image/png"),
    );
    (token, body)
}

#[tokio::test]
async fn callback_is_verified_and_recorded() {
    let app = app(sources()).await;
    let (token, body) = accepted_callback(&app).await;
    let answer = app.signed_callback("/api/oss/callback", &body).await;
    assert_eq!(
        answer.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    assert_eq!(answer.headers["content-type"], "application/json");
    assert_eq!(
        answer.headers["content-length"].to_str().unwrap(),
        answer.body.len().to_string()
    );
    let reply = answer.json();
    assert_eq!(reply["Status"], "OK");
    assert_eq!(reply["object"], token["key"]);
    assert_eq!(reply["size"], 68);
    assert_eq!(reply["mimeType"], "image/png");
    let url = reply["url"].as_str().unwrap();
    let expected_prefix = format!(
        "https://test-bucket.oss-cn-hangzhou.aliyuncs.com/{}?",
        token["key"].as_str().unwrap()
    );
    assert!(url.starts_with(&expected_prefix), "{url}");
    assert!(url.contains("x-oss-signature="), "{url}");

    // The record is listed for alice, with every detail from the callback.
    let list = app.get("/api/uploads", Some(ALICE_TOKEN)).await.json();
    let uploads = list["uploads"].as_array().unwrap();
    assert_eq!(uploads.len(), 1);
    let upload = &uploads[0];
    assert_eq!(upload["id"], reply["id"]);
    assert_eq!(upload["bucket"], BUCKET);
    assert_eq!(upload["etag"], "5EB63BBBE01EEED093CB22BB8F5ACDC3");
    assert_eq!(upload["imageWidth"], 640);
    assert_eq!(upload["imageHeight"], 480);
    assert_eq!(upload["imageFormat"], "png");
    assert!(upload["createdAt"].as_str().unwrap().ends_with('Z'));
    assert_eq!(list["next"], Value::Null);

    // Bob's listing does not include it.
    let bob = app.get("/api/uploads", Some(BOB_TOKEN)).await.json();
    assert_eq!(bob["uploads"].as_array().unwrap().len(), 0);
    let id = reply["id"].as_i64().unwrap();
    let hidden = app
        .get(&format!("/api/uploads/{id}"), Some(BOB_TOKEN))
        .await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
    let own = app
        .get(&format!("/api/uploads/{id}"), Some(ALICE_TOKEN))
        .await;
    assert_eq!(own.json()["object"], token["key"]);
}

#[tokio::test]
async fn replayed_callback_adds_no_row() {
    let app = app(sources()).await;
    let (_, body) = accepted_callback(&app).await;
    let first = app.signed_callback("/api/oss/callback", &body).await;
    let second = app.signed_callback("/api/oss/callback", &body).await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(second.status, StatusCode::OK);
    let (first, second) = (first.json(), second.json());
    assert_eq!(first["id"], second["id"]);
    assert_eq!(first["object"], second["object"]);
    let list = app.get("/api/uploads", Some(ALICE_TOKEN)).await.json();
    assert_eq!(list["uploads"].as_array().unwrap().len(), 1);
    let metrics = String::from_utf8(app.get("/metrics", None).await.body).unwrap();
    assert!(
        metrics.contains("ossgate_callbacks_total{outcome=\"replayed\",reason=\"ok\"} 1"),
        "{metrics}"
    );
}

async fn assert_rejected(answer: common::Answer, status: StatusCode, code: &str) {
    assert_eq!(
        answer.status,
        status,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let json = answer.json();
    assert_eq!(json["Status"], "Error");
    assert_eq!(json["code"], code);
    assert!(json["message"]
        .as_str()
        .is_some_and(|message| !message.is_empty()));
}

#[tokio::test]
async fn callback_without_headers_is_rejected() {
    let app = app(sources()).await;
    let (_, body) = accepted_callback(&app).await;
    let authorization = sign("/api/oss/callback", &body);
    let key_url = b64(TEST_KEY_URL);
    let no_auth = app
        .callback("/api/oss/callback", &body, None, Some(&key_url))
        .await;
    assert_rejected(no_auth, StatusCode::BAD_REQUEST, "MissingHeader").await;
    let no_key = app
        .callback("/api/oss/callback", &body, Some(&authorization), None)
        .await;
    assert_rejected(no_key, StatusCode::BAD_REQUEST, "MissingHeader").await;
}

#[tokio::test]
async fn callback_with_bad_base64_is_rejected() {
    let app = app(sources()).await;
    let (_, body) = accepted_callback(&app).await;
    let authorization = sign("/api/oss/callback", &body);
    let bad_key_url = app
        .callback(
            "/api/oss/callback",
            &body,
            Some(&authorization),
            Some("%%%not base64%%%"),
        )
        .await;
    assert_rejected(bad_key_url, StatusCode::BAD_REQUEST, "InvalidHeader").await;
    let bad_signature = app
        .callback(
            "/api/oss/callback",
            &body,
            Some("***"),
            Some(&b64(TEST_KEY_URL)),
        )
        .await;
    assert_rejected(bad_signature, StatusCode::BAD_REQUEST, "InvalidHeader").await;
}

#[tokio::test]
async fn callback_naming_an_untrusted_key_url_is_rejected() {
    let app = app(sources()).await;
    let (_, body) = accepted_callback(&app).await;
    let authorization = sign("/api/oss/callback", &body);
    // None of these is fetched: the policy rejects them first.
    for url in [
        "http://attacker.example.com/callback_pub_key_v1.pem",
        "http://user@gosspublic.alicdn.com/callback_pub_key_v1.pem",
        "http://gosspublic.alicdn.com:8080/callback_pub_key_v1.pem",
        "ftp://gosspublic.alicdn.com/callback_pub_key_v1.pem",
        "http://gosspublic.alicdn.com.attacker.example.com/callback_pub_key_v1.pem",
        "http://127.0.0.1:1/other/callback_pub_key.pem",
    ] {
        let answer = app
            .callback(
                "/api/oss/callback",
                &body,
                Some(&authorization),
                Some(&b64(url)),
            )
            .await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{url}");
        assert_eq!(answer.code(), "UntrustedKeyUrl", "{url}");
    }
}

#[tokio::test]
async fn callback_with_a_wrong_signature_is_rejected() {
    let app = app(sources()).await;
    let (_, body) = accepted_callback(&app).await;

    // Signed by the test key but naming OSS's key: checked with the built-in key.
    let authorization = sign("/api/oss/callback", &body);
    let oss_url = b64("https://gosspublic.alicdn.com/callback_pub_key_v1.pem");
    let answer = app
        .callback(
            "/api/oss/callback",
            &body,
            Some(&authorization),
            Some(&oss_url),
        )
        .await;
    assert_rejected(answer, StatusCode::FORBIDDEN, "SignatureDoesNotMatch").await;

    // A signature over another path.
    let other = sign("/api/oss/other", &body);
    let answer = app
        .callback(
            "/api/oss/callback",
            &body,
            Some(&other),
            Some(&b64(TEST_KEY_URL)),
        )
        .await;
    assert_rejected(answer, StatusCode::FORBIDDEN, "SignatureDoesNotMatch").await;
}

#[tokio::test]
async fn callback_with_a_tampered_body_is_rejected() {
    let app = app(sources()).await;
    let (_, body) = accepted_callback(&app).await;
    let authorization = sign("/api/oss/callback", &body);
    let tampered = body.replace("size=68", "size=6");
    assert_ne!(tampered, body);
    let answer = app
        .callback(
            "/api/oss/callback",
            &tampered,
            Some(&authorization),
            Some(&b64(TEST_KEY_URL)),
        )
        .await;
    assert_rejected(answer, StatusCode::FORBIDDEN, "SignatureDoesNotMatch").await;
}

#[tokio::test]
async fn callback_for_another_bucket_is_rejected() {
    let app = app(sources()).await;
    let token = token(&app, "filename=a.png").await;
    let mut context = stored(token["key"].as_str().unwrap(), 68, "image/png");
    context.bucket = "other-bucket".into();
    let body = render(token["fields"]["callback"].as_str().unwrap(), &context);
    let answer = app.signed_callback("/api/oss/callback", &body).await;
    assert_rejected(answer, StatusCode::FORBIDDEN, "WrongBucket").await;
}

#[tokio::test]
async fn callback_object_outside_scope_rejected() {
    // An exact key, and a directory prefix.
    let app_unique = app(sources()).await;
    let token = token(&app_unique, "filename=a.png").await;
    let other_key = format!("{}other.png", token["dir"].as_str().unwrap());
    let body = render(
        token["fields"]["callback"].as_str().unwrap(),
        &stored(&other_key, 68, "image/png"),
    );
    let answer = app_unique.signed_callback("/api/oss/callback", &body).await;
    assert_rejected(answer, StatusCode::FORBIDDEN, "ObjectOutsideScope").await;

    let mut sources = sources();
    sources.set("upload.key_strategy", "filename");
    let app_dir = app(sources).await;
    let token = common::token(&app_dir, "").await;
    let body = render(
        token["fields"]["callback"].as_str().unwrap(),
        &stored("uploads/bob/secret.png", 68, "image/png"),
    );
    let answer = app_dir.signed_callback("/api/oss/callback", &body).await;
    assert_rejected(answer, StatusCode::FORBIDDEN, "ObjectOutsideScope").await;
}

fn body_with_ticket(token: &Value, ticket: &str) -> String {
    let body = render(
        token["fields"]["callback"].as_str().unwrap(),
        &stored(token["key"].as_str().unwrap(), 68, "image/png"),
    );
    let (head, _) = body.rsplit_once("&ticket=").unwrap();
    format!("{head}&ticket={ticket}")
}

#[tokio::test]
async fn callback_with_an_expired_ticket_is_rejected() {
    let app = app(sources()).await;
    let token = token(&app, "filename=a.png").await;
    // Past the 900 s default grace.
    let ticket = TicketKey::new(TICKET_SECRET.as_bytes()).seal(&Ticket {
        user: "alice".into(),
        scope: TicketScope::Key(token["key"].as_str().unwrap().into()),
        expires: Utc::now().timestamp() - 901,
        token_id: "expired-token".into(),
        filename: None,
    });
    let answer = app
        .signed_callback("/api/oss/callback", &body_with_ticket(&token, &ticket))
        .await;
    assert_rejected(answer, StatusCode::FORBIDDEN, "TicketExpired").await;

    // Within the grace period it is still accepted.
    let ticket = TicketKey::new(TICKET_SECRET.as_bytes()).seal(&Ticket {
        user: "alice".into(),
        scope: TicketScope::Key(token["key"].as_str().unwrap().into()),
        expires: Utc::now().timestamp() - 800,
        token_id: "late-token".into(),
        filename: None,
    });
    let answer = app
        .signed_callback("/api/oss/callback", &body_with_ticket(&token, &ticket))
        .await;
    assert_eq!(answer.status, StatusCode::OK);
}

#[tokio::test]
async fn callback_with_a_forged_ticket_is_rejected() {
    let app = app(sources()).await;
    let token = token(&app, "filename=a.png").await;
    let forged = TicketKey::new(b"a-guess-at-the-server-secret-000000").seal(&Ticket {
        user: "alice".into(),
        scope: TicketScope::Dir("uploads/".into()),
        expires: Utc::now().timestamp() + 60,
        token_id: "forged".into(),
        filename: None,
    });
    let answer = app
        .signed_callback("/api/oss/callback", &body_with_ticket(&token, &forged))
        .await;
    assert_rejected(answer, StatusCode::FORBIDDEN, "InvalidTicket").await;

    let answer = app
        .signed_callback(
            "/api/oss/callback",
            &body_with_ticket(&token, "not-a-ticket"),
        )
        .await;
    assert_rejected(answer, StatusCode::FORBIDDEN, "InvalidTicket").await;

    let no_ticket = body_with_ticket(&token, "").replace("&ticket=", "");
    let answer = app.signed_callback("/api/oss/callback", &no_ticket).await;
    assert_rejected(answer, StatusCode::BAD_REQUEST, "MalformedCallbackBody").await;
}

#[tokio::test]
async fn callback_over_the_limits_is_rejected() {
    let mut sources = sources();
    sources.set("upload.content_types", vec!["image/png"]);
    sources.set("upload.max_size", 100);
    let app = app(sources).await;
    let token = token(&app, "filename=a.png&contentType=image/png").await;
    let key = token["key"].as_str().unwrap();
    let callback = token["fields"]["callback"].as_str().unwrap();

    let too_large = render(callback, &stored(key, 101, "image/png"));
    let answer = app.signed_callback("/api/oss/callback", &too_large).await;
    assert_rejected(answer, StatusCode::BAD_REQUEST, "EntityTooLarge").await;

    let wrong_type = render(callback, &stored(key, 10, "text/html"));
    let answer = app.signed_callback("/api/oss/callback", &wrong_type).await;
    assert_rejected(answer, StatusCode::BAD_REQUEST, "InvalidContentType").await;
}

#[tokio::test]
async fn oversized_callback_body_is_rejected() {
    let app = app(sources()).await;
    let body = format!("bucket=x&padding={}", "a".repeat(17 * 1024));
    let answer = app.signed_callback("/api/oss/callback", &body).await;
    assert_rejected(answer, StatusCode::BAD_REQUEST, "CallbackBodyTooLarge").await;
}

/// Posts a callback whose body yields `chunks` and then, when `error` is
/// given, fails with it, as a body does when its sender disconnects.
async fn streamed_callback(
    app: &TestApp,
    chunks: &[&str],
    error: Option<std::io::ErrorKind>,
) -> common::Answer {
    let mut items: Vec<Result<bytes::Bytes, std::io::Error>> = chunks
        .iter()
        .map(|chunk| Ok(bytes::Bytes::copy_from_slice(chunk.as_bytes())))
        .collect();
    if let Some(kind) = error {
        items.push(Err(std::io::Error::new(kind, "the sender went away")));
    }
    let body = axum::body::Body::from_stream(futures_util::stream::iter(items));
    let request = axum::http::Request::post("/api/oss/callback")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .unwrap();
    app.send(request).await
}

async fn callback_metrics(app: &TestApp) -> String {
    String::from_utf8(app.get("/metrics", None).await.body).unwrap()
}

#[tokio::test]
async fn failed_callback_body_read_is_not_too_large() {
    let app = app(sources()).await;
    let answer = streamed_callback(
        &app,
        &["bucket=test-bucket&", "object=a"],
        Some(std::io::ErrorKind::ConnectionReset),
    )
    .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.code(), "CallbackBodyReadFailed");
    let message = answer.json()["message"].as_str().unwrap().to_owned();
    assert!(message.contains("the sender went away"), "{message}");
    assert!(!message.contains("larger than"), "{message}");

    let metrics = callback_metrics(&app).await;
    assert!(
        metrics.contains(
            "ossgate_callbacks_total{outcome=\"rejected\",reason=\"body_read_failed\"} 1\n"
        ),
        "{metrics}"
    );
    assert!(!metrics.contains("body_too_large"), "{metrics}");
}

#[tokio::test]
async fn streamed_callback_over_limit_is_too_large() {
    let app = app(sources()).await;
    // Without a Content-Length, only reading finds the body too large.
    let chunk = "a".repeat(8 * 1024);
    let answer = streamed_callback(&app, &[&chunk, &chunk, &chunk], None).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.code(), "CallbackBodyTooLarge");

    let metrics = callback_metrics(&app).await;
    assert!(
        metrics.contains(
            "ossgate_callbacks_total{outcome=\"rejected\",reason=\"body_too_large\"} 1\n"
        ),
        "{metrics}"
    );
    assert!(!metrics.contains("body_read_failed"), "{metrics}");
}

#[tokio::test]
async fn callback_query_is_part_of_the_signed_target() {
    let app = app(sources()).await;
    let (_, body) = accepted_callback(&app).await;
    let answer = app
        .signed_callback("/api/oss/callback?source=oss&n=1", &body)
        .await;
    assert_eq!(answer.status, StatusCode::OK);

    let (_, body) = accepted_callback(&app).await;
    let authorization = sign("/api/oss/callback?source=oss&n=1", &body);
    let answer = app
        .callback(
            "/api/oss/callback?source=oss&n=2",
            &body,
            Some(&authorization),
            Some(&b64(TEST_KEY_URL)),
        )
        .await;
    assert_rejected(answer, StatusCode::FORBIDDEN, "SignatureDoesNotMatch").await;
}

#[tokio::test]
async fn proxy_prefix_is_prepended_before_verification() {
    let mut sources = sources();
    sources.set("callback.public_path_prefix", "/ossgate");
    sources.set(
        "callback.url",
        "https://app.example.com/ossgate/api/oss/callback",
    );
    let app = app(sources).await;

    // OSS signed the public path; the proxy stripped the prefix.
    let (_, body) = accepted_callback(&app).await;
    let authorization = sign("/ossgate/api/oss/callback", &body);
    let answer = app
        .callback(
            "/api/oss/callback",
            &body,
            Some(&authorization),
            Some(&b64(TEST_KEY_URL)),
        )
        .await;
    assert_eq!(
        answer.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );

    let (_, body) = accepted_callback(&app).await;
    let unprefixed = app.signed_callback("/api/oss/callback", &body).await;
    assert_rejected(unprefixed, StatusCode::FORBIDDEN, "SignatureDoesNotMatch").await;
}

#[tokio::test]
async fn configured_callback_path_is_served() {
    let mut sources = sources();
    sources.set("callback.path", "/hooks/oss");
    sources.set("callback.url", "https://app.example.com/hooks/oss");
    let app = app(sources).await;
    let (_, body) = accepted_callback(&app).await;
    let answer = app.signed_callback("/hooks/oss", &body).await;
    assert_eq!(answer.status, StatusCode::OK);
    let old = app.signed_callback("/api/oss/callback", &body).await;
    assert_eq!(old.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn uploads_are_paged_newest_first() {
    let app = app(sources()).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let (_, body) = accepted_callback(&app).await;
        let answer = app.signed_callback("/api/oss/callback", &body).await;
        ids.push(answer.json()["id"].as_i64().unwrap());
    }
    let page = app
        .get("/api/uploads?limit=2", Some(ALICE_TOKEN))
        .await
        .json();
    let listed: Vec<i64> = page["uploads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_i64().unwrap())
        .collect();
    assert_eq!(listed, [ids[2], ids[1]]);
    let next = page["next"].as_str().unwrap();
    let rest = app
        .get(
            &format!("/api/uploads?limit=2&before={next}"),
            Some(ALICE_TOKEN),
        )
        .await
        .json();
    let listed: Vec<i64> = rest["uploads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_i64().unwrap())
        .collect();
    assert_eq!(listed, [ids[0]]);
    assert_eq!(rest["next"], Value::Null);

    let bad = app.get("/api/uploads?limit=0", Some(ALICE_TOKEN)).await;
    assert_eq!(bad.code(), "InvalidArgument");
}

#[tokio::test]
async fn operations_endpoints_answer() {
    let app = app(sources()).await;
    let health = app.get("/healthz", None).await;
    assert_eq!(health.status, StatusCode::OK);
    assert!(health.headers.contains_key("x-request-id"));
    let ready = app.get("/readyz", None).await;
    assert_eq!(ready.status, StatusCode::OK);

    app.get("/api/upload-token", Some(ALICE_TOKEN)).await;
    let metrics = app.get("/metrics", None).await;
    assert!(metrics.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = String::from_utf8(metrics.body).unwrap();
    assert!(
        text.contains("ossgate_tokens_issued_total{endpoint=\"upload-token\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("route=\"/api/upload-token\",status=\"200\""),
        "{text}"
    );
}

#[tokio::test]
async fn readyz_fails_when_the_database_is_closed() {
    let app = app(sources()).await;
    app.state.db().close().await;
    let ready = app.get("/readyz", None).await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
}

/// Sends `GET /healthz` with the given `x-request-id` and returns the id of
/// the response.
async fn echoed_request_id(app: &TestApp, id: &str) -> String {
    let request = axum::http::Request::get("/healthz")
        .header("x-request-id", id)
        .body(axum::body::Body::empty())
        .unwrap();
    let answer = app.send(request).await;
    answer.headers["x-request-id"].to_str().unwrap().to_owned()
}

fn is_generated_request_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|byte| byte.is_ascii_hexdigit())
}

#[tokio::test]
async fn request_id_is_kept_when_sent() {
    let app = app(sources()).await;
    assert_eq!(echoed_request_id(&app, "req-123").await, "req-123");
    let every_character = "Az09._:-";
    assert_eq!(
        echoed_request_id(&app, every_character).await,
        every_character
    );
    let longest = "r".repeat(128);
    assert_eq!(echoed_request_id(&app, &longest).await, longest);
}

#[tokio::test]
async fn invalid_request_id_is_replaced() {
    let app = app(sources()).await;
    let too_long = "r".repeat(129);
    let huge = "r".repeat(10_000);
    for sent in [
        too_long.as_str(),
        huge.as_str(),
        "",
        "req 123",
        "req\"123",
        "req'123",
        "req/123",
        "req=123",
    ] {
        let answered = echoed_request_id(&app, sent).await;
        assert!(
            is_generated_request_id(&answered),
            "{sent:?} was answered with {answered:?}"
        );
    }

    // The server keeps working after a replaced id.
    let health = app.get("/healthz", None).await;
    assert_eq!(health.status, StatusCode::OK);
}

/// Sends a request without a body, with Alice's token.
async fn send_method(app: &TestApp, method: &str, path: &str) -> common::Answer {
    let request = axum::http::Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {ALICE_TOKEN}"))
        .body(axum::body::Body::empty())
        .unwrap();
    app.send(request).await
}

#[tokio::test]
async fn wrong_method_gets_a_json_405() {
    let app = app(sources()).await;
    let cases = [
        ("POST", "/api/upload-token", "GET, HEAD"),
        ("DELETE", "/api/uploads/1", "GET, HEAD"),
        ("GET", "/api/oss/callback", "POST"),
        ("PUT", "/healthz", "GET, HEAD"),
    ];
    for (method, path, allowed) in cases {
        let answer = send_method(&app, method, path).await;
        assert_eq!(
            answer.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        assert_eq!(
            answer.headers["allow"],
            allowed.replace(", ", ","),
            "{method} {path}"
        );
        assert_eq!(answer.headers["content-type"], "application/json");
        let body = answer.json();
        assert_eq!(body["Status"], "Error", "{method} {path}");
        assert_eq!(body["code"], "MethodNotAllowed", "{method} {path}");
        assert_eq!(
            body["message"],
            format!("the method {method} is not allowed on {path:?}; use {allowed}")
        );
        assert!(answer.headers.contains_key("x-request-id"));
    }
}

#[tokio::test]
async fn head_token_requests_are_not_counted() {
    let app = app(sources()).await;
    for path in ["/api/upload-token", "/api/policy"] {
        let head = send_method(&app, "HEAD", path).await;
        assert_eq!(head.status, StatusCode::OK, "{path}");
        assert!(head.body.is_empty(), "{path}");
    }
    app.get("/api/upload-token", Some(ALICE_TOKEN)).await;
    app.get("/api/policy", Some(ALICE_TOKEN)).await;

    let text = String::from_utf8(app.get("/metrics", None).await.body).unwrap();
    assert!(
        text.contains("ossgate_tokens_issued_total{endpoint=\"upload-token\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("ossgate_tokens_issued_total{endpoint=\"policy\"} 1\n"),
        "{text}"
    );
}

#[tokio::test]
async fn upload_page_is_served_with_its_content_type() {
    let app = app(sources()).await;
    let index = app.get("/", None).await;
    if ossgate_server::web::asset("/").is_none() {
        assert_eq!(index.status, StatusCode::NOT_FOUND);
        return;
    }
    assert_eq!(index.status, StatusCode::OK);
    assert_eq!(index.headers["content-type"], "text/html; charset=utf-8");
    assert_eq!(index.headers["x-content-type-options"], "nosniff");
    assert_eq!(index.headers["x-frame-options"], "DENY");
    let policy = index.headers["content-security-policy"].to_str().unwrap();
    assert!(policy.contains("script-src 'self'"), "{policy}");
    let bucket_origin = format!("https://{}.oss-cn-hangzhou.aliyuncs.com", common::BUCKET);
    assert!(
        policy.contains(&format!("connect-src 'self' {bucket_origin}")),
        "{policy}"
    );
    let missing = app.get("/no-such-file.js", None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.code(), "NotFound");
}

#[tokio::test]
async fn cors_allows_only_configured_origins() {
    let mut sources = sources();
    sources.set("cors_origins", vec!["https://app.example.com"]);
    let app = app(sources).await;
    let preflight = |origin: &'static str| {
        axum::http::Request::options("/api/upload-token")
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .body(axum::body::Body::empty())
            .unwrap()
    };
    let allowed = app.send(preflight("https://app.example.com")).await;
    assert_eq!(
        allowed.headers["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert!(!allowed
        .headers
        .contains_key("access-control-allow-credentials"));
    let allowed_headers = allowed.headers["access-control-allow-headers"]
        .to_str()
        .unwrap();
    assert!(
        allowed_headers.contains("x-request-id"),
        "{allowed_headers}"
    );
    let denied = app.send(preflight("https://evil.example.com")).await;
    assert!(!denied.headers.contains_key("access-control-allow-origin"));

    // A page on the allowed origin can read the request id of a response.
    let limits = app
        .send(
            axum::http::Request::get("/api/limits")
                .header("origin", "https://app.example.com")
                .header("authorization", format!("Bearer {ALICE_TOKEN}"))
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(
        limits.headers["access-control-expose-headers"],
        "x-request-id"
    );
}
