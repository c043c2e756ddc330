//! Shared helpers for the emulator's integration tests: an emulator on
//! 127.0.0.1:0 with known buckets and credentials, signed forms, multipart
//! bodies, OSS error parsing and callback receivers.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use chrono::{DateTime, Utc};
use ossgate_emulator::{
    BucketAcl, BucketConfig, CorsRule, CredentialConfig, Emulator, EmulatorConfig,
};
use ossgate_protocol::form::{FormSigner, SignatureVersion};
use ossgate_protocol::policy::{Condition, Policy};
use ossgate_protocol::{Credentials, FormFields};
use tokio::sync::oneshot;

pub const ACCESS_KEY_ID: &str = "LTAI5tTestKeyId";
pub const ACCESS_KEY_SECRET: &str = "test-secret-for-the-emulator";
pub const STS_KEY_ID: &str = "STS.NTestTemporaryKey";
pub const STS_SECRET: &str = "sts-secret";
pub const STS_TOKEN: &str = "CAIStestsecuritytoken";
pub const PAGE_ORIGIN: &str = "http://localhost:8080";

/// An emulator serving on 127.0.0.1:0, stopped when dropped.
pub struct TestEmulator {
    pub base_url: String,
    pub address: SocketAddr,
    pub emulator: Emulator,
    pub client: reqwest::Client,
    pub data_dir: tempfile::TempDir,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Drop for TestEmulator {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Builds the configuration every test starts from. It has a private bucket
/// `photos` with CORS rules for the upload page, a public-read bucket
/// `public` and a public-read-write bucket `open`. It has one long-term and
/// one STS credential, a 512-bit callback key and a 2-second callback budget.
pub fn test_config(data_dir: &std::path::Path) -> EmulatorConfig {
    let mut photos = BucketConfig::new("photos");
    photos.cors = vec![
        CorsRule {
            allowed_origins: vec![PAGE_ORIGIN.to_owned(), "https://*.example.com".to_owned()],
            allowed_methods: vec!["POST".to_owned(), "GET".to_owned()],
            allowed_headers: vec!["x-oss-*".to_owned(), "content-type".to_owned()],
            expose_headers: vec!["ETag".to_owned(), "x-oss-request-id".to_owned()],
            max_age_seconds: Some(600),
        },
        CorsRule {
            allowed_origins: vec!["http://uploader.test".to_owned()],
            allowed_methods: vec!["PUT".to_owned()],
            allowed_headers: vec!["*".to_owned()],
            expose_headers: vec![],
            max_age_seconds: None,
        },
    ];
    let mut public = BucketConfig::new("public");
    public.acl = BucketAcl::PublicRead;
    let mut open = BucketConfig::new("open");
    open.acl = BucketAcl::PublicReadWrite;

    EmulatorConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        data_dir: data_dir.join("data"),
        region: "cn-hangzhou".to_owned(),
        buckets: vec![photos, public, open],
        credentials: vec![
            CredentialConfig::new(ACCESS_KEY_ID, ACCESS_KEY_SECRET),
            CredentialConfig::new(STS_KEY_ID, STS_SECRET).with_security_token(STS_TOKEN),
        ],
        callback_key_bits: 512,
        callback_key_path: Some(data_dir.join("callback_key.pem")),
        callback_timeout: Duration::from_secs(2),
        test_hooks: true,
    }
}

impl TestEmulator {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut EmulatorConfig)) -> Self {
        let data_dir = tempfile::tempdir().unwrap();
        let mut config = test_config(data_dir.path());
        adjust(&mut config);
        let emulator = Emulator::new(config).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (shutdown, shutdown_rx) = oneshot::channel();
        let task = tokio::spawn(ossgate_emulator::serve(emulator.clone(), listener, async {
            let _ = shutdown_rx.await;
        }));
        Self {
            base_url: format!("http://{address}"),
            address,
            emulator,
            client: reqwest::Client::builder()
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            data_dir,
            shutdown: Some(shutdown),
            task: Some(task),
        }
    }

    pub fn bucket_url(&self, bucket: &str) -> String {
        format!("{}/{bucket}", self.base_url)
    }

    /// POSTs a form (fields in order, then the file part) to a bucket.
    pub async fn post(
        &self,
        bucket: &str,
        fields: &FormFields,
        file: FilePart,
    ) -> reqwest::Response {
        self.client
            .post(self.bucket_url(bucket))
            .multipart(multipart_form(fields, file))
            .send()
            .await
            .unwrap()
    }

    /// The objects the test hook lists for a bucket: (key, size, etag, content type).
    pub async fn objects(&self, bucket: &str) -> Vec<serde_json::Value> {
        let listing: serde_json::Value = self
            .client
            .get(format!(
                "{}/_emulator/objects?bucket={bucket}",
                self.base_url
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        listing["objects"].as_array().unwrap().clone()
    }

    pub async fn object_keys(&self, bucket: &str) -> Vec<String> {
        self.objects(bucket)
            .await
            .iter()
            .map(|object| object["key"].as_str().unwrap().to_owned())
            .collect()
    }

    /// Reads an object back through a V1 presigned URL.
    pub async fn read(&self, bucket: &str, key: &str) -> reqwest::Response {
        let url = presigned_url(
            &self.bucket_url(bucket),
            bucket,
            key,
            SignatureVersion::V1,
            Utc::now(),
            600,
        );
        self.client.get(url).send().await.unwrap()
    }

    /// Counts files under the data directory whose name has the suffix.
    pub fn files_with_suffix(&self, suffix: &str) -> usize {
        fn walk(dir: &std::path::Path, suffix: &str) -> usize {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return 0;
            };
            entries
                .flatten()
                .map(|entry| {
                    let path = entry.path();
                    if path.is_dir() {
                        walk(&path, suffix)
                    } else if path.to_string_lossy().ends_with(suffix) {
                        1
                    } else {
                        0
                    }
                })
                .sum()
        }
        walk(self.data_dir.path(), suffix)
    }

    /// Counts files in the bucket's temporary upload directory.
    pub fn temp_files(&self, bucket: &str) -> usize {
        std::fs::read_dir(self.data_dir.path().join("data").join(bucket).join(".tmp"))
            .map(|entries| entries.count())
            .unwrap_or(0)
    }

    pub async fn set_faults(&self, faults: serde_json::Value) {
        let response = self
            .client
            .post(format!("{}/_emulator/faults", self.base_url))
            .json(&faults)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
}

pub fn presigned_url(
    bucket_url: &str,
    bucket: &str,
    key: &str,
    version: SignatureVersion,
    now: DateTime<Utc>,
    expires_in: u64,
) -> String {
    ossgate_protocol::presign::presign_get(
        &Credentials::new(ACCESS_KEY_ID, ACCESS_KEY_SECRET),
        version,
        "cn-hangzhou",
        &ossgate_protocol::presign::ObjectLocation {
            bucket_url,
            bucket,
            key,
        },
        now,
        expires_in,
    )
}

/// The file part of a form.
pub struct FilePart {
    pub file_name: String,
    pub content_type: Option<String>,
    pub body: reqwest::Body,
    pub length: Option<u64>,
}

impl FilePart {
    pub fn bytes(file_name: &str, content_type: &str, data: impl Into<Vec<u8>>) -> Self {
        let data: Vec<u8> = data.into();
        Self {
            file_name: file_name.to_owned(),
            content_type: Some(content_type.to_owned()),
            length: Some(data.len() as u64),
            body: reqwest::Body::from(data),
        }
    }

    pub fn text(data: &str) -> Self {
        Self::bytes("note.txt", "text/plain", data.as_bytes().to_vec())
    }
}

pub fn multipart_form(fields: &FormFields, file: FilePart) -> reqwest::multipart::Form {
    let mut form = reqwest::multipart::Form::new();
    for (name, value) in fields.iter() {
        form = form.text(name.to_owned(), value.to_owned());
    }
    let mut part = match file.length {
        Some(length) => reqwest::multipart::Part::stream_with_length(file.body, length),
        None => reqwest::multipart::Part::stream(file.body),
    }
    .file_name(file.file_name);
    if let Some(content_type) = file.content_type {
        part = part.mime_str(&content_type).unwrap();
    }
    form.part("file", part)
}

/// Builds a policy expiring in an hour with the given conditions.
pub fn policy(conditions: Vec<Condition>) -> Policy {
    let mut policy = Policy::new(Utc::now() + chrono::Duration::hours(1));
    policy.conditions = conditions;
    policy
}

/// Builds `["starts-with", "$field", prefix]`. The field may be written with or without `$`.
pub fn starts_with(field: &str, prefix: &str) -> Condition {
    Condition::StartsWith {
        field: field.trim_start_matches('$').to_owned(),
        prefix: prefix.to_owned(),
    }
}

pub fn exact(field: &str, value: &str) -> Condition {
    Condition::Exact {
        field: field.to_owned(),
        value: value.to_owned(),
    }
}

pub fn size_range(min: u64, max: u64) -> Condition {
    Condition::ContentLengthRange { min, max }
}

/// Signs a policy and returns `key` followed by the signed fields.
pub fn signed_fields(key: &str, policy: Policy, version: SignatureVersion) -> FormFields {
    signed_fields_with(
        key,
        policy,
        version,
        Credentials::new(ACCESS_KEY_ID, ACCESS_KEY_SECRET),
        Utc::now(),
    )
}

pub fn signed_fields_with(
    key: &str,
    policy: Policy,
    version: SignatureVersion,
    credentials: Credentials,
    now: DateTime<Utc>,
) -> FormFields {
    let signer = FormSigner::new(credentials, version, "cn-hangzhou");
    let signed = signer.sign(policy, now);
    let mut fields = FormFields::new();
    fields.push("key", key);
    for (name, value) in signed.fields.iter() {
        fields.push(name, value);
    }
    fields
}

/// An OSS error body, parsed.
#[derive(Debug)]
pub struct OssErrorBody {
    pub code: String,
    pub message: String,
    pub request_id: String,
    pub host_id: String,
    pub ec: Option<String>,
    pub xml: String,
}

/// Extracts the text of the first `<name>` element.
pub fn xml_element(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&close)?;
    Some(
        xml[start..end]
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
}

pub async fn error_body(response: reqwest::Response) -> OssErrorBody {
    let header_id = response
        .headers()
        .get("x-oss-request-id")
        .map(|v| v.to_str().unwrap().to_owned());
    let xml = response.text().await.unwrap();
    let body = OssErrorBody {
        code: xml_element(&xml, "Code").unwrap_or_default(),
        message: xml_element(&xml, "Message").unwrap_or_default(),
        request_id: xml_element(&xml, "RequestId").unwrap_or_default(),
        host_id: xml_element(&xml, "HostId").unwrap_or_default(),
        ec: xml_element(&xml, "EC"),
        xml: xml.clone(),
    };
    assert_eq!(
        Some(&body.request_id),
        header_id.as_ref(),
        "RequestId must match x-oss-request-id in {xml}"
    );
    body
}

/// Asserts an OSS error response: status, code and message.
pub async fn assert_oss_error(
    response: reqwest::Response,
    status: u16,
    code: &str,
    message: &str,
) -> OssErrorBody {
    assert_eq!(response.status().as_u16(), status, "status for {code}");
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap()),
        Some("application/xml")
    );
    let body = error_body(response).await;
    assert_eq!(body.code, code, "{}", body.xml);
    assert_eq!(body.message, message, "{}", body.xml);
    body
}

/// A request a callback receiver got.
#[derive(Clone, Debug)]
pub struct ReceivedCallback {
    pub target: String,
    pub headers: reqwest::header::HeaderMap,
    pub body: Bytes,
}

/// The response a callback receiver sends.
#[derive(Clone)]
pub enum Reply {
    Json(&'static str),
    Status(u16, &'static str),
    Text(&'static str),
    Sleep(Duration),
    Chunked(&'static str),
}

/// A small HTTP server on 127.0.0.1:0 that records callbacks and sends the
/// configured response.
pub struct CallbackReceiver {
    pub url: String,
    pub received: Arc<Mutex<Vec<ReceivedCallback>>>,
    _shutdown: oneshot::Sender<()>,
}

impl CallbackReceiver {
    pub async fn start(reply: Reply) -> Self {
        Self::start_at("/api/oss/callback?token=abc%2Fdef&x=1", reply).await
    }

    pub async fn start_at(path_and_query: &str, reply: Reply) -> Self {
        let received: Arc<Mutex<Vec<ReceivedCallback>>> = Arc::default();
        let sink = received.clone();
        let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
            let sink = sink.clone();
            let reply = reply.clone();
            async move {
                let target = request
                    .uri()
                    .path_and_query()
                    .map(|pq| pq.as_str().to_owned())
                    .unwrap_or_default();
                let headers = request.headers().clone();
                let body = axum::body::to_bytes(request.into_body(), 10 * 1024 * 1024)
                    .await
                    .unwrap();
                sink.lock().unwrap().push(ReceivedCallback {
                    target,
                    headers,
                    body,
                });
                use axum::response::IntoResponse;
                match reply {
                    Reply::Json(body) => (
                        [(axum::http::header::CONTENT_TYPE, "application/json")],
                        body,
                    )
                        .into_response(),
                    Reply::Status(status, body) => (
                        axum::http::StatusCode::from_u16(status).unwrap(),
                        [(axum::http::header::CONTENT_TYPE, "application/json")],
                        body,
                    )
                        .into_response(),
                    Reply::Text(body) => body.into_response(),
                    Reply::Sleep(duration) => {
                        tokio::time::sleep(duration).await;
                        (
                            [(axum::http::header::CONTENT_TYPE, "application/json")],
                            "{}",
                        )
                            .into_response()
                    }
                    Reply::Chunked(body) => {
                        let stream = futures_util::stream::iter([Ok::<_, std::io::Error>(
                            Bytes::from_static(body.as_bytes()),
                        )]);
                        (
                            [(axum::http::header::CONTENT_TYPE, "application/json")],
                            axum::body::Body::from_stream(stream),
                        )
                            .into_response()
                    }
                }
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (shutdown, shutdown_rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = shutdown_rx.await;
                })
                .await
                .unwrap();
        });
        Self {
            url: format!("http://{address}{path_and_query}"),
            received,
            _shutdown: shutdown,
        }
    }

    pub fn requests(&self) -> Vec<ReceivedCallback> {
        self.received.lock().unwrap().clone()
    }
}

/// Returns a URL on 127.0.0.1 where nothing listens.
pub async fn closed_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{address}/callback")
}

/// Returns a 3x2 PNG: signature and IHDR, enough for an image header.
pub fn tiny_png() -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR".to_vec();
    png.extend_from_slice(&3u32.to_be_bytes());
    png.extend_from_slice(&2u32.to_be_bytes());
    png.extend_from_slice(&[8, 6, 0, 0, 0, 0, 0, 0, 0]);
    png
}
