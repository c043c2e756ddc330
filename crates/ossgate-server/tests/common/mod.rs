//! Helpers shared by the server's integration tests: settings, an app with
//! the test key pinned, and callbacks rendered and signed the way OSS does.

#![allow(dead_code)]

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::Router;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ossgate_protocol::callback::{ImageInfo, RenderContext};
use ossgate_protocol::{CallbackParam, CallbackPublicKey};
use ossgate_server::config::{ConfigSources, Mode, ServerConfig};
use ossgate_server::{AppState, Database};
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::RsaPrivateKey;
use serde_json::Value;
use tower::ServiceExt;

/// The key URL the test key is pinned to. Nothing listens there: a pinned
/// key is never fetched.
pub const TEST_KEY_URL: &str = "http://127.0.0.1:1/keys/callback_pub_key.pem";
pub const TEST_KEY_PREFIX: &str = "http://127.0.0.1:1/keys/";
pub const TICKET_SECRET: &str = "test-ticket-secret-0123456789abcdef";
pub const BUCKET: &str = "test-bucket";
pub const CALLBACK_URL: &str = "https://app.example.com/api/oss/callback";
pub const ALICE_TOKEN: &str = "alice-token-0123456789";
pub const BOB_TOKEN: &str = "bob-token-0123456789ab";

fn vector_key(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../ossgate-protocol/tests/vectors/keys")
        .join(name);
    std::fs::read_to_string(path).expect("the test key exists")
}

/// Loads the RSA-2048 test key that plays OSS's part.
pub fn private_key() -> RsaPrivateKey {
    RsaPrivateKey::from_pkcs1_pem(&vector_key("callback_private_pkcs1.pem")).unwrap()
}

/// Loads the public half as PEM, as OSS would serve it.
pub fn public_key_pem() -> String {
    vector_key("callback_public_spki.pem")
}

pub fn public_key() -> CallbackPublicKey {
    CallbackPublicKey::from_pem(&public_key_pem()).unwrap()
}

/// Complete production settings: bearer auth for alice and bob, V4.
pub fn sources() -> ConfigSources {
    let env = [
        ("OSSGATE_BUCKET", BUCKET),
        ("OSSGATE_REGION", "cn-hangzhou"),
        ("OSSGATE_CALLBACK_URL", CALLBACK_URL),
        ("OSSGATE_TICKET_SECRET", TICKET_SECRET),
        ("OSSGATE_AUTH_MODE", "bearer"),
        (
            "OSSGATE_AUTH_TOKENS",
            "alice-token-0123456789=alice,bob-token-0123456789ab=bob",
        ),
        ("OSSGATE_TRUSTED_KEY_URL_PREFIXES", TEST_KEY_PREFIX),
        ("OSS_ACCESS_KEY_ID", "LTAI5tTestKeyId"),
        ("OSS_ACCESS_KEY_SECRET", "test-access-key-secret"),
    ];
    ConfigSources {
        env: env
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect(),
        ..ConfigSources::default()
    }
}

pub struct TestApp {
    pub state: AppState,
    pub router: Router,
}

/// Builds an app on an in-memory database with the test key pinned.
pub async fn app(sources: ConfigSources) -> TestApp {
    let config = ServerConfig::load(&sources, Mode::Serve).expect("test settings are valid");
    app_with_config(config).await
}

pub async fn app_with_config(config: ServerConfig) -> TestApp {
    let db = Database::in_memory().await.unwrap();
    let state =
        AppState::with_pinned_keys(config, db, vec![(TEST_KEY_URL.to_owned(), public_key())])
            .unwrap();
    TestApp {
        router: ossgate_server::router(state.clone()),
        state,
    }
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|error| {
            panic!(
                "not JSON ({error}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// Returns the `code` of an error response.
    pub fn code(&self) -> String {
        self.json()["code"].as_str().unwrap_or_default().to_owned()
    }
}

impl TestApp {
    pub async fn send(&self, request: Request<Body>) -> Answer {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec();
        Answer {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, uri: &str, token: Option<&str>) -> Answer {
        let mut request = Request::get(uri);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        self.send(request.body(Body::empty()).unwrap()).await
    }

    /// Posts a callback with the given headers (each optional).
    pub async fn callback(
        &self,
        target: &str,
        body: &str,
        authorization: Option<&str>,
        key_url_header: Option<&str>,
    ) -> Answer {
        let mut request =
            Request::post(target).header("content-type", "application/x-www-form-urlencoded");
        if let Some(authorization) = authorization {
            request = request.header("authorization", authorization);
        }
        if let Some(key_url) = key_url_header {
            request = request.header("x-oss-pub-key-url", key_url);
        }
        self.send(request.body(Body::from(body.to_owned())).unwrap())
            .await
    }

    /// Posts a callback signed with the test key, naming the pinned URL.
    pub async fn signed_callback(&self, target: &str, body: &str) -> Answer {
        let authorization = sign(target, body);
        self.callback(target, body, Some(&authorization), Some(&b64(TEST_KEY_URL)))
            .await
    }
}

pub fn b64(text: &str) -> String {
    STANDARD.encode(text)
}

/// Signs a target and body: the base64 `authorization` OSS would send.
pub fn sign(target: &str, body: &str) -> String {
    ossgate_protocol::verify::sign(target, body.as_bytes(), &private_key()).unwrap()
}

/// Builds the values OSS substitutes for a stored object.
pub fn stored(object: &str, size: u64, mime_type: &str) -> RenderContext {
    RenderContext {
        bucket: BUCKET.to_owned(),
        object: object.to_owned(),
        etag: "5EB63BBBE01EEED093CB22BB8F5ACDC3".to_owned(),
        size,
        mime_type: mime_type.to_owned(),
        image: mime_type.starts_with("image/").then(|| ImageInfo {
            width: 640,
            height: 480,
            format: "png".to_owned(),
        }),
        crc64: "5981764153023615706".to_owned(),
        content_md5: "XrY7u+Ae7tCTyyK7j1rNww==".to_owned(),
        client_ip: "203.0.113.7".to_owned(),
        req_id: format!("5C{:030X}", rand_id()),
        operation: "PostObject".to_owned(),
        vars: Default::default(),
    }
}

fn rand_id() -> u128 {
    u128::from_le_bytes(*uuid::Uuid::new_v4().as_bytes())
}

/// Renders the callback body that a token's `callback` field requests from OSS.
pub fn render(callback_base64: &str, context: &RenderContext) -> String {
    let param = CallbackParam::from_base64(callback_base64).expect("the token's callback is valid");
    ossgate_protocol::callback::render_body(&param.body, param.effective_body_type(), context)
}

/// Requests a token for alice and returns the answer's JSON.
pub async fn token(app: &TestApp, query: &str) -> Value {
    let answer = app
        .get(&format!("/api/upload-token?{query}"), Some(ALICE_TOKEN))
        .await;
    assert_eq!(
        answer.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    answer.json()
}

/// Reads the `fields` object of a token response as name/value pairs in wire order
/// (`serde_json::Value` would sort them).
pub fn ordered_fields(raw: &[u8]) -> Vec<(String, String)> {
    use serde::de::{Deserializer, MapAccess, Visitor};

    struct Pairs(Vec<(String, String)>);
    impl<'de> serde::Deserialize<'de> for Pairs {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct PairsVisitor;
            impl<'de> Visitor<'de> for PairsVisitor {
                type Value = Pairs;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("an object of strings")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Pairs, A::Error> {
                    let mut pairs = Vec::new();
                    while let Some(pair) = map.next_entry::<String, String>()? {
                        pairs.push(pair);
                    }
                    Ok(Pairs(pairs))
                }
            }
            deserializer.deserialize_map(PairsVisitor)
        }
    }

    #[derive(serde::Deserialize)]
    struct Token {
        fields: Pairs,
    }
    let token: Token = serde_json::from_slice(raw).expect("a token answer");
    token.fields.0
}
