//! CORS: preflight requests against the bucket's rules, and the headers on
//! actual requests, as OSS evaluates them.

mod common;

use common::*;
use ossgate_protocol::form::SignatureVersion;

const NOT_ALLOWED: &str = "CORSResponse: This CORS request is not allowed. This is usually because the evalution of \
     Origin, request method / Access-Control-Request-Method or Access-Control-Requet-Headers are not whitelisted \
     by the resource's CORS spec.";

async fn preflight(
    emulator: &TestEmulator,
    bucket: &str,
    origin: &str,
    method: &str,
    headers: Option<&str>,
) -> reqwest::Response {
    let mut request = emulator
        .client
        .request(reqwest::Method::OPTIONS, emulator.bucket_url(bucket))
        .header("origin", origin)
        .header("access-control-request-method", method);
    if let Some(headers) = headers {
        request = request.header("access-control-request-headers", headers);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn matching_preflight_gets_cors_headers() {
    let emulator = TestEmulator::start().await;

    let response = preflight(
        &emulator,
        "photos",
        PAGE_ORIGIN,
        "POST",
        Some("x-oss-meta-a, Content-Type"),
    )
    .await;

    assert_eq!(response.status(), 200);
    let headers = response.headers();
    assert_eq!(headers["access-control-allow-origin"], PAGE_ORIGIN);
    assert_eq!(headers["access-control-allow-methods"], "POST, GET");
    assert_eq!(
        headers["access-control-allow-headers"],
        "x-oss-meta-a, Content-Type"
    );
    assert_eq!(
        headers["access-control-expose-headers"],
        "ETag, x-oss-request-id"
    );
    assert_eq!(headers["access-control-max-age"], "600");
}

#[tokio::test]
async fn preflight_matrix() {
    let emulator = TestEmulator::start().await;
    // (origin, method, request headers, allowed)
    let cases: [(&str, &str, Option<&str>, bool); 10] = [
        (PAGE_ORIGIN, "POST", None, true),
        (PAGE_ORIGIN, "GET", Some("x-oss-date"), true),
        ("https://a.example.com", "POST", None, true),
        ("https://deep.a.example.com", "GET", None, true),
        ("https://example.com", "POST", None, false),
        ("http://a.example.com", "POST", None, false),
        (PAGE_ORIGIN, "DELETE", None, false),
        (PAGE_ORIGIN, "POST", Some("authorization"), false),
        (
            "http://uploader.test",
            "PUT",
            Some("anything, at-all"),
            true,
        ),
        ("http://uploader.test", "POST", None, false),
    ];
    for (origin, method, headers, allowed) in cases {
        let response = preflight(&emulator, "photos", origin, method, headers).await;
        if allowed {
            assert_eq!(response.status(), 200, "{origin} {method} {headers:?}");
            assert_eq!(response.headers()["access-control-allow-origin"], origin);
        } else {
            assert!(
                !response
                    .headers()
                    .contains_key("access-control-allow-origin"),
                "{origin} {method} {headers:?}"
            );
            assert_oss_error(response, 403, "AccessForbidden", NOT_ALLOWED).await;
        }
    }
}

#[tokio::test]
async fn preflight_on_bucket_without_rules_is_forbidden() {
    let emulator = TestEmulator::start().await;

    let response = preflight(&emulator, "public", PAGE_ORIGIN, "GET", None).await;

    assert_oss_error(
        response,
        403,
        "AccessForbidden",
        "CORSResponse: CORS is not enabled for this bucket.",
    )
    .await;
}

#[tokio::test]
async fn actual_requests_carry_headers_only_on_match() {
    let emulator = TestEmulator::start().await;
    let fields = signed_fields("cors.txt", policy(vec![]), SignatureVersion::V1);

    let allowed = emulator
        .client
        .post(emulator.bucket_url("photos"))
        .header("origin", PAGE_ORIGIN)
        .multipart(multipart_form(&fields, FilePart::text("x")))
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status(), 204);
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        PAGE_ORIGIN
    );
    assert_eq!(
        allowed.headers()["access-control-expose-headers"],
        "ETag, x-oss-request-id"
    );

    let foreign = emulator
        .client
        .post(emulator.bucket_url("photos"))
        .header("origin", "https://evil.test")
        .multipart(multipart_form(&fields, FilePart::text("x")))
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 204);
    assert!(!foreign
        .headers()
        .contains_key("access-control-allow-origin"));

    // Errors carry the headers too, so a page can read OSS's error XML.
    let expired = signed_fields(
        "e.txt",
        ossgate_protocol::policy::Policy::new(chrono::Utc::now()),
        SignatureVersion::V1,
    );
    let rejected = emulator
        .client
        .post(emulator.bucket_url("photos"))
        .header("origin", PAGE_ORIGIN)
        .multipart(multipart_form(&expired, FilePart::text("x")))
        .send()
        .await
        .unwrap();
    assert_eq!(rejected.status(), 403);
    assert_eq!(
        rejected.headers()["access-control-allow-origin"],
        PAGE_ORIGIN
    );
}
