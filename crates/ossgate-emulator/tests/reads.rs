//! Object reads: GET and HEAD with ranges and conditions, presigned URLs (V1
//! and V4), anonymous access by ACL, DELETE, and ListObjects paging.

mod common;

use chrono::{Duration, Utc};
use common::*;
use ossgate_protocol::form::SignatureVersion;

async fn upload(emulator: &TestEmulator, bucket: &str, key: &str, body: &str) {
    let fields = signed_fields(key, policy(vec![]), SignatureVersion::V1);
    let response = emulator.post(bucket, &fields, FilePart::text(body)).await;
    assert_eq!(response.status(), 204, "upload of {key}");
}

fn presigned(
    emulator: &TestEmulator,
    bucket: &str,
    key: &str,
    version: SignatureVersion,
) -> String {
    presigned_url(
        &emulator.bucket_url(bucket),
        bucket,
        key,
        version,
        Utc::now(),
        600,
    )
}

#[tokio::test]
async fn range_reads_return_206() {
    let emulator = TestEmulator::start().await;
    upload(&emulator, "photos", "digits.txt", "0123456789").await;
    let url = presigned(&emulator, "photos", "digits.txt", SignatureVersion::V1);
    let get = |range: &'static str| emulator.client.get(&url).header("range", range).send();

    let response = get("bytes=2-4").await.unwrap();
    assert_eq!(response.status(), 206);
    assert_eq!(response.headers()["content-range"], "bytes 2-4/10");
    assert_eq!(response.headers()["content-length"], "3");
    assert_eq!(response.text().await.unwrap(), "234");

    let response = get("bytes=-3").await.unwrap();
    assert_eq!(response.status(), 206);
    assert_eq!(response.text().await.unwrap(), "789");

    let response = get("bytes=8-").await.unwrap();
    assert_eq!(response.text().await.unwrap(), "89");

    let response = get("bytes=20-30").await.unwrap();
    assert_oss_error(
        response,
        416,
        "InvalidRange",
        "The requested range cannot be satisfied.",
    )
    .await;

    let response = get("bytes=5-1").await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "0123456789");
}

#[tokio::test]
async fn conditional_get_gives_304() {
    let emulator = TestEmulator::start().await;
    upload(&emulator, "public", "c.txt", "cached").await;
    let url = format!("{}/public/c.txt", emulator.base_url);
    let first = emulator.client.get(&url).send().await.unwrap();
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    let last_modified = first.headers()["last-modified"]
        .to_str()
        .unwrap()
        .to_owned();

    let response = emulator
        .client
        .get(&url)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 304);
    let response = emulator
        .client
        .get(&url)
        .header("if-modified-since", &last_modified)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 304);
    let response = emulator
        .client
        .get(&url)
        .header("if-none-match", "\"OTHER\"")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let response = emulator
        .client
        .get(&url)
        .header("if-match", "\"OTHER\"")
        .send()
        .await
        .unwrap();
    assert_oss_error(
        response,
        412,
        "PreconditionFailed",
        "At least one of the pre-conditions you specified did not hold.",
    )
    .await;
}

#[tokio::test]
async fn head_returns_headers_without_body() {
    let emulator = TestEmulator::start().await;
    upload(&emulator, "public", "h.txt", "head me").await;

    let response = emulator
        .client
        .head(format!("{}/public/h.txt", emulator.base_url))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    let headers = response.headers();
    assert_eq!(headers["content-length"], "7");
    assert_eq!(headers["content-type"], "text/plain");
    assert!(headers.contains_key("x-oss-hash-crc64ecma"));
    assert!(headers.contains_key("last-modified"));
    assert_eq!(headers["accept-ranges"], "bytes");
    assert_eq!(response.bytes().await.unwrap().len(), 0);

    let missing = emulator
        .client
        .head(format!("{}/public/none.txt", emulator.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(missing.headers()["x-oss-ec"], "0026-00000001");
}

#[tokio::test]
async fn presigned_v1_and_v4_urls_read_private_objects() {
    let emulator = TestEmulator::start().await;
    upload(&emulator, "photos", "dir/private file.txt", "secret data").await;

    for version in [SignatureVersion::V1, SignatureVersion::V4] {
        let url = presigned(&emulator, "photos", "dir/private file.txt", version);
        let response = emulator.client.get(&url).send().await.unwrap();
        assert_eq!(response.status(), 200, "{version:?}");
        assert_eq!(response.text().await.unwrap(), "secret data");
    }

    let anonymous = emulator
        .client
        .get(format!(
            "{}/photos/dir/private%20file.txt",
            emulator.base_url
        ))
        .send()
        .await
        .unwrap();
    assert_oss_error(
        anonymous,
        403,
        "AccessDenied",
        "You have no right to access this object because of bucket acl.",
    )
    .await;
}

#[tokio::test]
async fn expired_presigned_url_is_rejected() {
    let emulator = TestEmulator::start().await;
    upload(&emulator, "photos", "old.txt", "x").await;
    let url = presigned_url(
        &emulator.bucket_url("photos"),
        "photos",
        "old.txt",
        SignatureVersion::V1,
        Utc::now() - Duration::hours(2),
        60,
    );

    let response = emulator.client.get(&url).send().await.unwrap();

    assert_oss_error(response, 403, "AccessDenied", "Request has expired.").await;
}

#[tokio::test]
async fn tampered_presigned_url_is_rejected() {
    let emulator = TestEmulator::start().await;
    upload(&emulator, "photos", "a.txt", "x").await;
    upload(&emulator, "photos", "b.txt", "y").await;
    let url =
        presigned(&emulator, "photos", "a.txt", SignatureVersion::V4).replace("/a.txt?", "/b.txt?");

    let response = emulator.client.get(&url).send().await.unwrap();

    assert_eq!(response.status(), 403);
    assert_eq!(error_body(response).await.code, "SignatureDoesNotMatch");
}

#[tokio::test]
async fn public_read_bucket_allows_anonymous_reads_only() {
    let emulator = TestEmulator::start().await;
    upload(&emulator, "public", "p.txt", "open").await;

    let response = emulator
        .client
        .get(format!("{}/public/p.txt", emulator.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.text().await.unwrap(), "open");

    let missing = emulator
        .client
        .get(format!("{}/public/none.txt", emulator.base_url))
        .send()
        .await
        .unwrap();
    assert_oss_error(
        missing,
        404,
        "NoSuchKey",
        "The specified key does not exist.",
    )
    .await;

    let delete = emulator
        .client
        .delete(format!("{}/public/p.txt", emulator.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), 403);
    let fields: ossgate_protocol::FormFields = [("key", "anon.txt")].into_iter().collect();
    let post = emulator.post("public", &fields, FilePart::text("x")).await;
    assert_eq!(post.status(), 403);
}

#[tokio::test]
async fn delete_removes_object() {
    let emulator = TestEmulator::start().await;
    upload(&emulator, "open", "d.txt", "x").await;

    let response = emulator
        .client
        .delete(format!("{}/open/d.txt", emulator.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert!(emulator.object_keys("open").await.is_empty());
    let again = emulator
        .client
        .delete(format!("{}/open/d.txt", emulator.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 204);
    assert_eq!(emulator.files_with_suffix(".data"), 0);
}

#[tokio::test]
async fn authorization_header_is_not_verified() {
    let emulator = TestEmulator::start().await;
    upload(&emulator, "photos", "a.txt", "x").await;

    let response = emulator
        .client
        .get(format!("{}/photos/a.txt", emulator.base_url))
        .header("authorization", "OSS id:signature")
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 501);
    assert_eq!(error_body(response).await.code, "NotImplemented");
}

#[tokio::test]
async fn list_objects_v2_pages_with_delimiter() {
    let emulator = TestEmulator::start().await;
    for key in ["a.txt", "b/1.txt", "b/2.txt", "c/1.txt", "d.txt", "e.txt"] {
        upload(&emulator, "public", key, "x").await;
    }
    let list = |query: String| {
        let url = format!("{}/public?list-type=2&{query}", emulator.base_url);
        let client = emulator.client.clone();
        async move { client.get(url).send().await.unwrap().text().await.unwrap() }
    };

    let page = list("delimiter=/&max-keys=2".to_owned()).await;
    assert_eq!(xml_element(&page, "KeyCount").as_deref(), Some("2"));
    assert_eq!(xml_element(&page, "IsTruncated").as_deref(), Some("true"));
    assert!(page.contains("<Key>a.txt</Key>"), "{page}");
    assert!(page.contains("<Prefix>b/</Prefix>"), "{page}");
    let token = xml_element(&page, "NextContinuationToken").unwrap();

    let page = list(format!("delimiter=/&max-keys=2&continuation-token={token}")).await;
    assert!(page.contains("<Prefix>c/</Prefix>"), "{page}");
    assert!(page.contains("<Key>d.txt</Key>"), "{page}");
    assert!(!page.contains("b/2.txt"), "{page}");
    let token = xml_element(&page, "NextContinuationToken").unwrap();

    let page = list(format!("delimiter=/&max-keys=2&continuation-token={token}")).await;
    assert_eq!(xml_element(&page, "IsTruncated").as_deref(), Some("false"));
    assert_eq!(xml_element(&page, "KeyCount").as_deref(), Some("1"));
    assert!(page.contains("<Key>e.txt</Key>"), "{page}");

    let page = list("prefix=b/".to_owned()).await;
    assert!(
        page.contains("<Key>b/1.txt</Key>") && page.contains("<Key>b/2.txt</Key>"),
        "{page}"
    );
    assert_eq!(xml_element(&page, "KeyCount").as_deref(), Some("2"));

    let page = list("start-after=c/1.txt".to_owned()).await;
    assert_eq!(xml_element(&page, "KeyCount").as_deref(), Some("2"));
    assert!(page.contains("<StartAfter>c/1.txt</StartAfter>"), "{page}");

    let bad = emulator
        .client
        .get(format!(
            "{}/public?list-type=2&max-keys=0",
            emulator.base_url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert_eq!(error_body(bad).await.code, "InvalidArgument");
}

#[tokio::test]
async fn list_objects_v1_uses_markers() {
    let emulator = TestEmulator::start().await;
    for key in ["a", "b", "c"] {
        upload(&emulator, "public", key, "x").await;
    }

    let page = emulator
        .client
        .get(format!("{}/public?max-keys=2", emulator.base_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(xml_element(&page, "NextMarker").as_deref(), Some("b"));
    let page = emulator
        .client
        .get(format!("{}/public?marker=b", emulator.base_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("<Key>c</Key>") && !page.contains("<Key>a</Key>"),
        "{page}"
    );
    assert_eq!(xml_element(&page, "IsTruncated").as_deref(), Some("false"));
}

#[tokio::test]
async fn private_bucket_listing_needs_signature() {
    let emulator = TestEmulator::start().await;
    upload(&emulator, "photos", "x.txt", "x").await;

    let anonymous = emulator
        .client
        .get(format!("{}/photos?list-type=2", emulator.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 403);

    let url = presigned_url(
        &emulator.bucket_url("photos"),
        "photos",
        "",
        SignatureVersion::V1,
        Utc::now(),
        60,
    );
    let signed = emulator.client.get(&url).send().await.unwrap();
    assert_eq!(signed.status(), 200);
    assert!(signed.text().await.unwrap().contains("<Key>x.txt</Key>"));
}
