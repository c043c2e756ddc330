//! Test hooks: what the emulator received and sent, and injected faults.
//!
//! Served as JSON under the reserved prefix `/_emulator/` on the emulator's
//! own listener when `test_hooks` is on:
//!
//! - `GET /_emulator/objects[?bucket=<name>]`: `{"objects": [{"bucket", "key",
//!   "size", "etag", "contentType", "crc64", "lastModified"}]}` sorted by
//!   bucket, then key. `etag` is quoted like the `ETag` header.
//! - `GET /_emulator/posts`: `{"posts": [{"requestId", "bucket", "key",
//!   "accessKeyId", "status", "code", "message", "time"}]}` oldest first;
//!   `code` and `message` are `null` on success, `key` is `null` when the
//!   form had none, `accessKeyId` when the upload was anonymous or rejected
//!   before its signature was checked. `key` is the key after `${filename}`
//!   expansion once that happened.
//! - `GET /_emulator/callbacks`: `{"callbacks": [{"requestId", "url",
//!   "requestHeaders": {name: value}, "body", "responseStatus",
//!   "responseBody", "durationMs", "outcome", "message", "time"}]}`;
//!   `outcome` is `ok`, `connect_failed`, `timeout`, `bad_status`,
//!   `not_json`, `no_content_length` or `too_large`.
//! - `DELETE /_emulator/posts`, `DELETE /_emulator/callbacks`: clear a record list.
//! - `GET /_emulator/faults`: the current faults.
//! - `POST /_emulator/faults` with a JSON object of any of
//!   `clock_offset_secs` (integer, added to the emulator's clock for policy
//!   expiry, V4 dates, presigned URLs and `Date` headers), `callback_delay_ms`
//!   (integer, a pause before each callback request, outside its time budget)
//!   and `fail_storage_writes` (boolean, every upload then fails with 500
//!   InternalError and stores nothing). Fields left out keep their values.
//!   Returns the faults now in force.
//! - `DELETE /_emulator/faults`: clears every fault.
//!
//! Each record list keeps the latest [`MAX_RECORDS`] entries.

use std::collections::VecDeque;
use std::sync::{Mutex, RwLock};

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::AppState;

/// How many PostObject and callback records are kept.
pub const MAX_RECORDS: usize = 1000;

/// Faults injected through `/_emulator/faults`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Faults {
    pub clock_offset_secs: i64,
    pub callback_delay_ms: u64,
    pub fail_storage_writes: bool,
}

/// A partial update of [`Faults`].
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultsUpdate {
    pub clock_offset_secs: Option<i64>,
    pub callback_delay_ms: Option<u64>,
    pub fail_storage_writes: Option<bool>,
}

/// One PostObject request and its outcome.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PostRecord {
    pub request_id: String,
    pub bucket: String,
    pub key: Option<String>,
    /// The AccessKeyId that signed the form; `None` when anonymous or rejected before.
    pub access_key_id: Option<String>,
    pub status: u16,
    pub code: Option<String>,
    pub message: Option<String>,
    pub time: DateTime<Utc>,
}

/// One callback request and its outcome.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CallbackRecord {
    pub request_id: String,
    pub url: String,
    pub request_headers: serde_json::Map<String, serde_json::Value>,
    pub body: String,
    pub response_status: Option<u16>,
    pub response_body: Option<String>,
    pub duration_ms: u64,
    pub outcome: &'static str,
    pub message: Option<String>,
    pub time: DateTime<Utc>,
}

/// The shared record lists and faults.
#[derive(Debug, Default)]
pub struct Recorder {
    posts: Mutex<VecDeque<PostRecord>>,
    callbacks: Mutex<VecDeque<CallbackRecord>>,
    faults: RwLock<Faults>,
}

fn push_bounded<T>(list: &Mutex<VecDeque<T>>, item: T) {
    let mut list = list.lock().unwrap_or_else(|e| e.into_inner());
    if list.len() == MAX_RECORDS {
        list.pop_front();
    }
    list.push_back(item);
}

impl Recorder {
    pub fn record_post(&self, record: PostRecord) {
        push_bounded(&self.posts, record);
    }

    pub fn record_callback(&self, record: CallbackRecord) {
        push_bounded(&self.callbacks, record);
    }

    pub fn posts(&self) -> Vec<PostRecord> {
        self.posts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect()
    }

    pub fn callbacks(&self) -> Vec<CallbackRecord> {
        self.callbacks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect()
    }

    pub fn faults(&self) -> Faults {
        self.faults
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn update_faults(&self, update: FaultsUpdate) -> Faults {
        let mut faults = self.faults.write().unwrap_or_else(|e| e.into_inner());
        if let Some(offset) = update.clock_offset_secs {
            faults.clock_offset_secs = offset;
        }
        if let Some(delay) = update.callback_delay_ms {
            faults.callback_delay_ms = delay;
        }
        if let Some(fail) = update.fail_storage_writes {
            faults.fail_storage_writes = fail;
        }
        faults.clone()
    }

    pub fn clear_faults(&self) {
        *self.faults.write().unwrap_or_else(|e| e.into_inner()) = Faults::default();
    }

    /// Returns the emulator's clock: now, shifted by the clock-offset fault.
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + chrono::Duration::seconds(self.faults().clock_offset_secs)
    }
}

/// Builds the `/_emulator/` routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/objects", get(list_objects))
        .route("/posts", get(list_posts).delete(clear_posts))
        .route("/callbacks", get(list_callbacks).delete(clear_callbacks))
        .route(
            "/faults",
            get(get_faults).post(set_faults).delete(delete_faults),
        )
}

#[derive(Deserialize)]
struct ObjectsQuery {
    bucket: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ObjectEntry {
    bucket: String,
    key: String,
    size: u64,
    etag: String,
    content_type: String,
    crc64: String,
    last_modified: DateTime<Utc>,
}

async fn list_objects(
    State(state): State<AppState>,
    Query(query): Query<ObjectsQuery>,
) -> Result<Json<serde_json::Value>, (http::StatusCode, Json<serde_json::Value>)> {
    let config = &state.inner.config;
    let buckets: Vec<&str> = match &query.bucket {
        Some(name) if config.bucket(name).is_none() => {
            return Err((
                http::StatusCode::NOT_FOUND,
                Json(serde_json::json!({
                    "error": format!("bucket {name:?} is not configured in this emulator")
                })),
            ))
        }
        Some(name) => vec![name.as_str()],
        None => config.buckets.iter().map(|b| b.name.as_str()).collect(),
    };

    let mut objects = Vec::new();
    for bucket in buckets {
        let listed = state.inner.storage.list(bucket).await.map_err(|error| {
            (
                http::StatusCode::INTERNAL_SERVER_ERROR,
                Json(serde_json::json!({ "error": error.message })),
            )
        })?;
        objects.extend(listed.into_iter().map(|meta| ObjectEntry {
            bucket: bucket.to_owned(),
            etag: meta.quoted_etag(),
            key: meta.key,
            size: meta.size,
            content_type: meta.content_type,
            crc64: meta.crc64.to_string(),
            last_modified: meta.last_modified,
        }));
    }
    Ok(Json(serde_json::json!({ "objects": objects })))
}

async fn list_posts(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "posts": state.inner.recorder.posts() }))
}

async fn clear_posts(State(state): State<AppState>) -> http::StatusCode {
    state
        .inner
        .recorder
        .posts
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clear();
    http::StatusCode::NO_CONTENT
}

async fn list_callbacks(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "callbacks": state.inner.recorder.callbacks() }))
}

async fn clear_callbacks(State(state): State<AppState>) -> http::StatusCode {
    state
        .inner
        .recorder
        .callbacks
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clear();
    http::StatusCode::NO_CONTENT
}

async fn get_faults(State(state): State<AppState>) -> Json<Faults> {
    Json(state.inner.recorder.faults())
}

async fn set_faults(
    State(state): State<AppState>,
    Json(update): Json<FaultsUpdate>,
) -> Json<Faults> {
    let faults = state.inner.recorder.update_faults(update);
    tracing::info!(?faults, "test hook changed the injected faults");
    Json(faults)
}

async fn delete_faults(State(state): State<AppState>) -> Json<Faults> {
    state.inner.recorder.clear_faults();
    tracing::info!("test hook cleared the injected faults");
    Json(Faults::default())
}
