//! The upload records, in SQLite through sqlx.
//!
//! The database runs in WAL mode so that listing uploads does not wait for a
//! callback being recorded. Migrations under `migrations/` are embedded in the
//! binary and applied at start.
//!
//! An upload is identified by its OSS request id, which OSS signs into every
//! callback and which is unique per PostObject request. Recording is
//! idempotent: a replayed callback hits the unique index on the request id
//! and gets the row that is already there, but only when that row is the same
//! upload (same token id, object, user and bucket). A row that differs is
//! reported as a conflict and never returned, because it may belong to
//! another user.
//!
//! A new upload of an object that is already recorded, for example a second
//! upload of `dir/${filename}` under the same directory token, gets a row of
//! its own. Both rows are kept and listings show the newest first.
//!
//! NOTE: the bucket holds only the latest object under a key, so an older
//! row's presigned URL reads the newer content.
//!
//! Each row carries the file's original name: the name the browser declared
//! for a server-chosen key, else the last segment of the object key. Rows
//! recorded before the `filename` column existed have none, and
//! [`Upload::display_filename`] falls back to the key's last segment for them.
//!
//! NOTE: the schema is kept PostgreSQL-friendly, but only SQLite is wired up.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions as _, Connection as _, FromRow, SqlitePool};

use crate::error::ServerError;
use crate::ticket::truncate_filename;

/// An upload about to be recorded.
#[derive(Clone, Debug)]
pub struct NewUpload {
    pub bucket: String,
    pub object: String,
    pub size: u64,
    pub etag: String,
    pub mime_type: String,
    pub image_width: Option<u64>,
    pub image_height: Option<u64>,
    pub image_format: Option<String>,
    pub crc64: Option<String>,
    pub user_id: String,
    pub token_id: String,
    pub client_ip: Option<String>,
    /// The `x-oss-request-id` of the PostObject request, from `${reqId}`.
    pub oss_request_id: String,
    /// The file's original name, at most
    /// [`crate::ticket::MAX_TICKET_FILENAME_LEN`] bytes.
    pub filename: String,
    pub created_at: DateTime<Utc>,
}

/// A recorded upload.
#[derive(Clone, Debug, PartialEq, Eq, FromRow)]
pub struct Upload {
    pub id: i64,
    pub bucket: String,
    pub object: String,
    pub size: i64,
    pub etag: String,
    pub mime_type: String,
    pub image_width: Option<i64>,
    pub image_height: Option<i64>,
    pub image_format: Option<String>,
    pub crc64: Option<String>,
    pub user_id: String,
    pub token_id: String,
    pub client_ip: Option<String>,
    /// Missing only in rows recorded before callbacks had to carry one.
    pub oss_request_id: Option<String>,
    pub created_at: DateTime<Utc>,
    /// Missing only in rows recorded before the column existed.
    pub filename: Option<String>,
}

impl Upload {
    /// Returns the file's original name, or for a row recorded without one
    /// the last segment of its object key.
    pub fn display_filename(&self) -> &str {
        match &self.filename {
            Some(name) => name,
            None => key_filename(&self.object),
        }
    }
}

/// Returns the last non-empty `/`-separated segment of an object key (the
/// whole key when it has none), cut to
/// [`crate::ticket::MAX_TICKET_FILENAME_LEN`] bytes like a declared name.
pub fn key_filename(object: &str) -> &str {
    let segment = object
        .rsplit('/')
        .find(|segment| !segment.is_empty())
        .unwrap_or(object);
    truncate_filename(segment)
}

/// Whether a callback's upload was newly recorded or already on record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recorded {
    Inserted,
    Replayed,
}

/// What [`Database::record`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordOutcome {
    /// A new row.
    Inserted(Upload),
    /// The row already recorded for the same upload.
    Replayed(Upload),
    /// The OSS request id is recorded for a different upload: another token,
    /// object, user or bucket. Nothing was recorded.
    Conflict {
        /// The id of the conflicting row, for the log.
        existing_id: i64,
    },
}

/// A pool of connections to the upload database.
#[derive(Clone, Debug)]
pub struct Database {
    pool: SqlitePool,
}

const COLUMNS: &str = "id, bucket, object, size, etag, mime_type, image_width, image_height, \
                       image_format, crc64, user_id, token_id, client_ip, oss_request_id, created_at, \
                       filename";

impl Database {
    /// Opens (creating if needed) the SQLite file at `path` and applies the
    /// migrations.
    ///
    /// # Errors
    ///
    /// The file cannot be opened or created, or a migration fails.
    pub async fn open(path: &Path) -> Result<Self, ServerError> {
        if let Some(parent) = path
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
        {
            std::fs::create_dir_all(parent).map_err(|source| ServerError::Io {
                context: format!("cannot create the database directory {}", parent.display()),
                source,
            })?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        let label = path.display().to_string();

        // Switching a new file to WAL needs an exclusive lock, and SQLite does
        // not retry that on busy. The pool opens connections concurrently, so
        // one connection makes the switch first; WAL then stays in the file.
        let connection = options
            .connect()
            .await
            .map_err(|source| ServerError::Database {
                path: label.clone(),
                source,
            })?;
        connection
            .close()
            .await
            .map_err(|source| ServerError::Database {
                path: label.clone(),
                source,
            })?;

        Self::connect(options, 4, &label).await
    }

    /// Opens a private in-memory database, for tests.
    ///
    /// # Errors
    ///
    /// A migration fails.
    pub async fn in_memory() -> Result<Self, ServerError> {
        let options = SqliteConnectOptions::from_str("sqlite::memory:").map_err(|source| {
            ServerError::Database {
                path: ":memory:".to_owned(),
                source,
            }
        })?;
        // One connection, kept open: each in-memory connection is its own database.
        Self::connect(options, 1, ":memory:").await
    }

    async fn connect(
        options: SqliteConnectOptions,
        max_connections: u32,
        label: &str,
    ) -> Result<Self, ServerError> {
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await
            .map_err(|source| ServerError::Database {
                path: label.to_owned(),
                source,
            })?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(Self { pool })
    }

    /// Checks that the database responds.
    ///
    /// # Errors
    ///
    /// The database does not respond.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
    }

    /// Records an upload, or returns the row already recorded under its OSS
    /// request id when that row is the same upload.
    ///
    /// # Errors
    ///
    /// A database failure.
    pub async fn record(&self, upload: &NewUpload) -> Result<RecordOutcome, sqlx::Error> {
        let to_i64 = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
        let inserted: Option<Upload> = sqlx::query_as(&format!(
            "INSERT INTO uploads (bucket, object, size, etag, mime_type, image_width, \
             image_height, image_format, crc64, user_id, token_id, client_ip, oss_request_id, \
             created_at, filename) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT DO NOTHING RETURNING {COLUMNS}"
        ))
        .bind(&upload.bucket)
        .bind(&upload.object)
        .bind(to_i64(upload.size))
        .bind(&upload.etag)
        .bind(&upload.mime_type)
        .bind(upload.image_width.map(to_i64))
        .bind(upload.image_height.map(to_i64))
        .bind(&upload.image_format)
        .bind(&upload.crc64)
        .bind(&upload.user_id)
        .bind(&upload.token_id)
        .bind(&upload.client_ip)
        .bind(&upload.oss_request_id)
        .bind(upload.created_at)
        .bind(&upload.filename)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(row) = inserted {
            return Ok(RecordOutcome::Inserted(row));
        }

        // The request id is already recorded. Only a row of the very same
        // upload makes this a replay: any other row is someone else's record
        // and must not be answered with.
        let existing: Upload = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM uploads WHERE oss_request_id = ?"
        ))
        .bind(&upload.oss_request_id)
        .fetch_one(&self.pool)
        .await?;
        let same_upload = existing.token_id == upload.token_id
            && existing.object == upload.object
            && existing.user_id == upload.user_id
            && existing.bucket == upload.bucket;
        if same_upload {
            Ok(RecordOutcome::Replayed(existing))
        } else {
            Ok(RecordOutcome::Conflict {
                existing_id: existing.id,
            })
        }
    }

    /// Lists `user`'s uploads, newest first: at most `limit`, with ids below
    /// `before` when given.
    ///
    /// # Errors
    ///
    /// A database failure.
    pub async fn list(
        &self,
        user: &str,
        limit: u32,
        before: Option<i64>,
    ) -> Result<Vec<Upload>, sqlx::Error> {
        sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM uploads WHERE user_id = ? AND id < ? ORDER BY id DESC LIMIT ?"
        ))
        .bind(user)
        .bind(before.unwrap_or(i64::MAX))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
    }

    /// Returns one of `user`'s uploads.
    ///
    /// # Errors
    ///
    /// A database failure.
    pub async fn get(&self, user: &str, id: i64) -> Result<Option<Upload>, sqlx::Error> {
        sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM uploads WHERE user_id = ? AND id = ?"
        ))
        .bind(user)
        .bind(id)
        .fetch_optional(&self.pool)
        .await
    }

    /// Closes every connection, flushing the WAL.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upload(token: &str, object: &str, request_id: &str) -> NewUpload {
        NewUpload {
            bucket: "b".into(),
            object: object.into(),
            size: 5,
            etag: "D8E8FCA2DC0F896FD7CB4CB0031BA249".into(),
            mime_type: "text/plain".into(),
            image_width: None,
            image_height: None,
            image_format: None,
            crc64: Some("123".into()),
            user_id: "alice".into(),
            token_id: token.into(),
            client_ip: Some("127.0.0.1".into()),
            oss_request_id: request_id.into(),
            filename: "a report.txt".into(),
            created_at: "2026-12-04T10:00:00Z".parse().unwrap(),
        }
    }

    #[tokio::test]
    async fn record_inserts_then_replays() {
        let db = Database::in_memory().await.unwrap();
        let RecordOutcome::Inserted(first) = db.record(&upload("t1", "a.txt", "r1")).await.unwrap()
        else {
            panic!("the first callback is not inserted");
        };
        assert_eq!(first.size, 5);
        assert_eq!(first.filename.as_deref(), Some("a report.txt"));
        assert_eq!(first.display_filename(), "a report.txt");
        assert_eq!(
            first.created_at,
            "2026-12-04T10:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );

        let again = db.record(&upload("t1", "a.txt", "r1")).await.unwrap();
        assert_eq!(again, RecordOutcome::Replayed(first));
    }

    #[tokio::test]
    async fn request_id_of_another_upload_conflicts() {
        let db = Database::in_memory().await.unwrap();
        let mut bob = upload("t-bob", "bob/secret.txt", "r1");
        bob.user_id = "bob".into();
        let RecordOutcome::Inserted(bob_row) = db.record(&bob).await.unwrap() else {
            panic!("bob's upload is not inserted");
        };

        // Alice's token and object with bob's request id.
        let stolen = db
            .record(&upload("t-alice", "alice/a.txt", "r1"))
            .await
            .unwrap();
        assert_eq!(
            stolen,
            RecordOutcome::Conflict {
                existing_id: bob_row.id
            }
        );

        // Bob's token and object under alice's name.
        let mut renamed = bob.clone();
        renamed.user_id = "alice".into();
        let outcome = db.record(&renamed).await.unwrap();
        assert!(
            matches!(outcome, RecordOutcome::Conflict { .. }),
            "{outcome:?}"
        );
        assert_eq!(db.list("alice", 10, None).await.unwrap(), []);
    }

    #[tokio::test]
    async fn same_object_with_new_request_id_is_recorded() {
        let db = Database::in_memory().await.unwrap();
        let RecordOutcome::Inserted(first) = db.record(&upload("t1", "a.txt", "r1")).await.unwrap()
        else {
            panic!("the first upload is not inserted");
        };
        let mut second = upload("t1", "a.txt", "r2");
        second.size = 19;
        let RecordOutcome::Inserted(newer) = db.record(&second).await.unwrap() else {
            panic!("the second upload of the same object is not inserted");
        };
        assert_ne!(newer.id, first.id);
        assert_eq!(newer.size, 19);

        let listed = db.list("alice", 10, None).await.unwrap();
        assert_eq!(listed, [newer, first]);
    }

    #[tokio::test]
    async fn list_pages_newest_first_per_user() {
        let db = Database::in_memory().await.unwrap();
        for index in 0..5 {
            db.record(&upload(&format!("t{index}"), "x", &format!("r{index}")))
                .await
                .unwrap();
        }
        let mut other = upload("t-bob", "y", "r-bob");
        other.user_id = "bob".into();
        db.record(&other).await.unwrap();

        let page = db.list("alice", 2, None).await.unwrap();
        let ids: Vec<i64> = page.iter().map(|upload| upload.id).collect();
        assert_eq!(ids, [5, 4]);
        let next = db.list("alice", 10, Some(4)).await.unwrap();
        let ids: Vec<i64> = next.iter().map(|upload| upload.id).collect();
        assert_eq!(ids, [3, 2, 1]);
        assert!(db.get("alice", 6).await.unwrap().is_none());
        assert!(db.get("bob", 6).await.unwrap().is_some());
    }

    /// Creates a database at `path` with only the first `migrations`
    /// migrations applied, and runs `insert` with a fixed time bound to its
    /// one parameter.
    async fn create_old_database(path: &std::path::Path, migrations: usize, insert: &str) {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true);
        let pool = SqlitePool::connect_with(options).await.unwrap();
        let mut migrator = sqlx::migrate!("./migrations");
        migrator.migrations = migrator.migrations[..migrations].to_vec().into();
        migrator.run(&pool).await.unwrap();
        sqlx::query(insert)
            .bind("2026-12-04T09:00:00Z".parse::<DateTime<Utc>>().unwrap())
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    }

    #[tokio::test]
    async fn upgrade_keeps_rows_and_allows_reuploads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ossgate.db");

        // A database created by the first migration only, with a row recorded
        // before callbacks had to carry a request id.
        create_old_database(
            &path,
            1,
            "INSERT INTO uploads (id, bucket, object, size, etag, mime_type, user_id, \
             token_id, oss_request_id, created_at) \
             VALUES (7, 'b', 'a.txt', 11, 'E', 'text/plain', 'alice', 't1', NULL, ?)",
        )
        .await;

        let db = Database::open(&path).await.unwrap();
        let kept = db
            .get("alice", 7)
            .await
            .unwrap()
            .expect("the old row is kept");
        assert_eq!(kept.size, 11);
        assert_eq!(kept.oss_request_id, None);

        // The same token and object with a request id is a new upload now.
        let outcome = db.record(&upload("t1", "a.txt", "r1")).await.unwrap();
        assert!(
            matches!(&outcome, RecordOutcome::Inserted(row) if row.id > 7),
            "{outcome:?}"
        );
        assert_eq!(db.list("alice", 10, None).await.unwrap().len(), 2);
    }

    #[tokio::test]
    async fn upgrade_adds_filename_to_old_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ossgate.db");

        // A database created by the migrations before the `filename` column,
        // with a row recorded then.
        create_old_database(
            &path,
            2,
            "INSERT INTO uploads (id, bucket, object, size, etag, mime_type, user_id, \
             token_id, oss_request_id, created_at) \
             VALUES (3, 'b', 'uploads/alice/2026-12-04/0f6c1f7e.png', 11, 'E', \
             'image/png', 'alice', 't1', 'r-old', ?)",
        )
        .await;

        let db = Database::open(&path).await.unwrap();
        let old = db
            .get("alice", 3)
            .await
            .unwrap()
            .expect("the old row is kept");
        assert_eq!(old.filename, None);
        assert_eq!(old.display_filename(), "0f6c1f7e.png");

        // New rows record their name next to the old one.
        let RecordOutcome::Inserted(new) =
            db.record(&upload("t2", "b.txt", "r-new")).await.unwrap()
        else {
            panic!("the new upload is not inserted");
        };
        assert_eq!(new.filename.as_deref(), Some("a report.txt"));
        let listed = db.list("alice", 10, None).await.unwrap();
        assert_eq!(listed, [new, old]);
    }

    #[test]
    fn key_filename_is_the_last_segment() {
        assert_eq!(key_filename("uploads/alice/2026-12-04/cat.png"), "cat.png");
        assert_eq!(key_filename("cat.png"), "cat.png");
        assert_eq!(key_filename("uploads/alice/photos/"), "photos");
        assert_eq!(key_filename("/"), "/");
        let long = format!("d/{}", "键".repeat(100));
        assert_eq!(key_filename(&long).len(), 255);
    }

    #[tokio::test]
    async fn file_database_uses_wal() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(&dir.path().join("sub/ossgate.db"))
            .await
            .unwrap();
        let mode: (String,) = sqlx::query_as("PRAGMA journal_mode")
            .fetch_one(&db.pool)
            .await
            .unwrap();
        assert_eq!(mode.0, "wal");
    }
}
