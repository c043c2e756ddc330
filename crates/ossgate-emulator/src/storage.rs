//! Object storage on the local file system.
//!
//! Layout: one directory per bucket under the data root. An object lives in
//! `<bucket>/objects/<h>/<hash>.<id>.data` with its metadata beside it in
//! `<bucket>/objects/<h>/<hash>.meta.json`, where `<hash>` is the hex SHA-256
//! of the key, `<h>` its first two characters and `<id>` unique per write. The
//! key itself is stored only inside the metadata, so no key, however crafted,
//! names a path outside the bucket directory. Keys are still validated
//! against OSS's naming rules first.
//!
//! Writes stream into `<bucket>/.tmp/`, computing MD5 and CRC-64/ECMA on the
//! way, and a [`TempFile`] guard deletes the file unless the upload commits.
//! A commit renames the data into place, then writes the metadata to a
//! temporary file and renames it over the old one: that rename is the commit
//! point. Commits and deletes of one bucket take a lock, so two concurrent
//! uploads to one key leave one whole object (the later commit wins) and
//! `x-oss-forbid-overwrite` is checked atomically.
//!
//! NOTE: data files are not fsynced before the rename: a crash of the host may
//! lose recent objects, which an emulator can afford.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use crc::{Crc, Table, CRC_64_XZ};
use md5::{Digest as _, Md5};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::error::{EmulatorError, OssError};

/// CRC-64/XZ is the CRC OSS calls crc64ecma (`x-oss-hash-crc64ecma`): the
/// ECMA-182 polynomial, reflected, initial value and final XOR all ones.
pub static CRC64_ECMA: Crc<u64, Table<16>> = Crc::<u64, Table<16>>::new(&CRC_64_XZ);

/// The largest object OSS accepts in one PostObject: 5 GiB.
pub const MAX_OBJECT_SIZE: u64 = 5 * 1024 * 1024 * 1024;

/// An object's ACL as set by `x-oss-object-acl`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ObjectAcl {
    /// Inherit the bucket's ACL.
    #[default]
    Default,
    Private,
    PublicRead,
    PublicReadWrite,
}

impl ObjectAcl {
    /// Parses an `x-oss-object-acl` value.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "default" => Some(Self::Default),
            "private" => Some(Self::Private),
            "public-read" => Some(Self::PublicRead),
            "public-read-write" => Some(Self::PublicReadWrite),
            _ => None,
        }
    }
}

/// The metadata stored beside an object's data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectMeta {
    pub key: String,
    pub size: u64,
    /// Uppercase hex MD5 of the data, without quotes.
    pub etag: String,
    /// CRC-64/ECMA of the data.
    pub crc64: u64,
    pub content_type: String,
    pub last_modified: DateTime<Utc>,
    pub acl: ObjectAcl,
    pub storage_class: String,
    /// Standard headers served back: `Cache-Control`, `Content-Disposition`,
    /// `Content-Encoding`, `Expires`, with their names as OSS writes them.
    pub headers: Vec<(String, String)>,
    /// `x-oss-meta-*` headers, names lowercased.
    pub user_meta: Vec<(String, String)>,
    /// File name of the data, in the same directory as the metadata.
    data_file: String,
}

impl ObjectMeta {
    /// Returns the `ETag` header value: the MD5 in uppercase hex, quoted.
    pub fn quoted_etag(&self) -> String {
        format!("\"{}\"", self.etag)
    }

    /// Returns the base64 MD5 of the data (`Content-MD5`, `${contentMd5}`).
    pub fn content_md5(&self) -> String {
        let digest = hex::decode(&self.etag).unwrap_or_default();
        base64::engine::general_purpose::STANDARD.encode(digest)
    }
}

/// The attributes of a new object other than its data.
#[derive(Clone, Debug, Default)]
pub struct ObjectAttributes {
    pub content_type: String,
    pub acl: ObjectAcl,
    pub storage_class: String,
    pub headers: Vec<(String, String)>,
    pub user_meta: Vec<(String, String)>,
}

/// Checks a key against OSS's naming rules.
///
/// # Errors
/// A sentence saying which rule the key breaks.
pub fn validate_key(key: &str) -> Result<(), &'static str> {
    if key.is_empty() {
        return Err("the object name is empty");
    }
    if key.len() > 1023 {
        return Err("the object name is longer than 1023 bytes");
    }
    if key.starts_with('/') || key.starts_with('\\') {
        return Err("the object name starts with '/' or '\\'");
    }
    if key.contains(['\r', '\n', '\0']) {
        return Err("the object name contains a carriage return, line feed or NUL");
    }
    if key.split(['/', '\\']).any(|segment| segment == "..") {
        return Err("the object name contains a '..' path segment");
    }
    Ok(())
}

/// A temporary file deleted on drop unless [`TempFile::keep`] was called.
#[derive(Debug)]
pub struct TempFile {
    path: Option<PathBuf>,
}

impl TempFile {
    pub fn path(&self) -> &Path {
        self.path
            .as_deref()
            .expect("a kept temporary file has no path")
    }

    /// Disarms the guard once the file was renamed away.
    fn keep(mut self) -> PathBuf {
        self.path.take().expect("a temporary file is kept once")
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            if let Err(error) = std::fs::remove_file(&path) {
                if error.kind() != std::io::ErrorKind::NotFound {
                    tracing::warn!(path = %path.display(), %error, "failed to remove a temporary upload file");
                }
            }
        }
    }
}

/// A fully written upload, not yet visible.
#[derive(Debug)]
pub struct WrittenFile {
    pub file: TempFile,
    pub size: u64,
    pub md5: [u8; 16],
    pub crc64: u64,
}

/// The receiving end of an upload. Chunks go in through
/// [`UploadWriter::write`] and are processed by two blocking threads: one
/// computes the MD5, the other the CRC-64 and writes the file. MD5 is the
/// slowest step, so giving it a thread of its own lets the other work run
/// beside it. The async side never waits on the disk. Chunks travel in
/// batches of about [`BATCH_BYTES`], and each queue holds at most
/// [`WRITE_QUEUE_CHUNKS`] batches, so an upload keeps a few MiB in memory.
pub struct UploadWriter {
    /// Chunks not yet handed to the threads, so that each hand-over carries
    /// at least [`BATCH_BYTES`] and the threads wake up less often.
    pending: Vec<Bytes>,
    pending_bytes: usize,
    file_sender: Option<tokio::sync::mpsc::Sender<Vec<Bytes>>>,
    md5_sender: Option<tokio::sync::mpsc::Sender<Vec<Bytes>>>,
    file_task: tokio::task::JoinHandle<std::io::Result<FileOutput>>,
    md5_task: tokio::task::JoinHandle<[u8; 16]>,
}

/// What the file thread returns: the file, its size and its CRC-64.
struct FileOutput {
    file: TempFile,
    size: u64,
    crc64: u64,
}

/// The number of batches each writer queue holds.
const WRITE_QUEUE_CHUNKS: usize = 8;

/// The size from which pending chunks are handed to the writer threads.
const BATCH_BYTES: usize = 256 * 1024;

impl UploadWriter {
    /// Queues a chunk, handing the queued chunks to the writer threads once
    /// they reach [`BATCH_BYTES`].
    ///
    /// # Errors
    /// An internal error when the file thread has already failed.
    pub async fn write(&mut self, chunk: Bytes) -> Result<(), OssError> {
        self.pending_bytes += chunk.len();
        self.pending.push(chunk);
        if self.pending_bytes >= BATCH_BYTES {
            self.send_pending().await?;
        }
        Ok(())
    }

    /// Hands the queued chunks to both writer threads.
    async fn send_pending(&mut self) -> Result<(), OssError> {
        let batch = std::mem::take(&mut self.pending);
        self.pending_bytes = 0;
        let file_sender = self.file_sender.as_ref().expect("no write after finish");
        if file_sender.send(batch.clone()).await.is_err() {
            // The file thread stopped early, and its result has the cause.
            self.file_sender = None;
            self.md5_sender = None;
            let error = match (&mut self.file_task).await {
                Ok(Err(error)) => error.to_string(),
                Ok(Ok(_)) => "the writer stopped before the end of the upload".to_owned(),
                Err(error) => error.to_string(),
            };
            return Err(OssError::internal(format!(
                "failed to write an upload: {error}"
            )));
        }
        if let Some(md5_sender) = &self.md5_sender {
            // The MD5 thread stops only when its channel closes.
            let _ = md5_sender.send(batch).await;
        }
        Ok(())
    }

    /// Stops the upload and waits until its temporary file is deleted.
    pub async fn abort(mut self) {
        self.file_sender = None;
        self.md5_sender = None;
        // The file thread returns the file on channel close; dropping it deletes it.
        let _ = (&mut self.file_task).await;
    }

    /// Waits for the writer threads to finish, and returns the file and its digests.
    pub async fn finish(mut self) -> Result<WrittenFile, OssError> {
        if !self.pending.is_empty() {
            self.send_pending().await?;
        }
        self.file_sender = None;
        self.md5_sender = None;
        let output = match (&mut self.file_task).await {
            Ok(Ok(output)) => output,
            Ok(Err(error)) => {
                return Err(OssError::internal(format!(
                    "failed to write an upload: {error}"
                )))
            }
            Err(error) => {
                return Err(OssError::internal(format!(
                    "the upload writer panicked: {error}"
                )))
            }
        };
        let md5 = (&mut self.md5_task)
            .await
            .map_err(|error| OssError::internal(format!("the MD5 task panicked: {error}")))?;
        Ok(WrittenFile {
            file: output.file,
            size: output.size,
            md5,
            crc64: output.crc64,
        })
    }
}

/// Computes the MD5 of the chunks from `receiver` until the channel closes.
fn hash_md5(mut receiver: tokio::sync::mpsc::Receiver<Vec<Bytes>>) -> [u8; 16] {
    let mut md5 = Md5::new();
    while let Some(batch) = receiver.blocking_recv() {
        for chunk in &batch {
            md5.update(chunk);
        }
    }
    md5.finalize().into()
}

/// Writes chunks from `receiver` to the temporary file and computes their
/// CRC-64, until the channel closes.
fn write_file(
    temp: TempFile,
    mut receiver: tokio::sync::mpsc::Receiver<Vec<Bytes>>,
    fail_writes: bool,
) -> std::io::Result<FileOutput> {
    let mut file = std::io::BufWriter::with_capacity(
        256 * 1024,
        std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(temp.path())?,
    );
    let mut crc = CRC64_ECMA.digest();
    let mut size = 0u64;

    while let Some(batch) = receiver.blocking_recv() {
        if fail_writes {
            return Err(std::io::Error::other(
                "storage writes fail because the fail_storage_writes fault is set",
            ));
        }
        for chunk in &batch {
            crc.update(chunk);
            file.write_all(chunk)?;
            size += chunk.len() as u64;
        }
    }
    file.flush()?;
    drop(file);

    Ok(FileOutput {
        file: temp,
        size,
        crc64: crc.finalize(),
    })
}

/// The objects of every bucket, on disk.
#[derive(Clone)]
pub struct Storage {
    root: PathBuf,
    /// Serialises commits and deletes, which are short (renames and one small write).
    commit_lock: Arc<Mutex<()>>,
}

impl Storage {
    /// Creates the bucket directories under `root` and removes temporary files
    /// left by an earlier run.
    ///
    /// # Errors
    /// [`EmulatorError::Io`] naming the directory that could not be prepared.
    pub fn open(root: &Path, buckets: &[&str]) -> Result<Self, EmulatorError> {
        for bucket in buckets {
            let bucket_dir = root.join(bucket);
            for dir in [bucket_dir.join("objects"), bucket_dir.join(".tmp")] {
                std::fs::create_dir_all(&dir).map_err(|source| EmulatorError::Io {
                    action: "create the directory",
                    path: dir.clone(),
                    source,
                })?;
            }
            let tmp = bucket_dir.join(".tmp");
            let entries = std::fs::read_dir(&tmp).map_err(|source| EmulatorError::Io {
                action: "read the directory",
                path: tmp.clone(),
                source,
            })?;
            for entry in entries.flatten() {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        Ok(Self {
            root: root.to_owned(),
            commit_lock: Arc::new(Mutex::new(())),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn bucket_dir(&self, bucket: &str) -> PathBuf {
        self.root.join(bucket)
    }

    /// Returns the directory and file-name stem of a key: `objects/<h>/` and `<hash>`.
    fn object_location(&self, bucket: &str, key: &str) -> (PathBuf, String) {
        let hash = hex::encode(Sha256::digest(key.as_bytes()));
        let dir = self.bucket_dir(bucket).join("objects").join(&hash[..2]);
        (dir, hash)
    }

    fn meta_path(&self, bucket: &str, key: &str) -> PathBuf {
        let (dir, hash) = self.object_location(bucket, key);
        dir.join(format!("{hash}.meta.json"))
    }

    /// Starts an upload into `bucket`: creates the temporary file and the
    /// writer threads. With `fail_writes` every write fails (fault injection).
    pub async fn begin_upload(
        &self,
        bucket: &str,
        fail_writes: bool,
    ) -> Result<UploadWriter, OssError> {
        let path = self
            .bucket_dir(bucket)
            .join(".tmp")
            .join(uuid::Uuid::new_v4().simple().to_string());
        tokio::fs::File::create(&path).await.map_err(|error| {
            OssError::internal(format!("failed to create {}: {error}", path.display()))
        })?;
        let temp = TempFile { path: Some(path) };

        let (file_sender, file_receiver) = tokio::sync::mpsc::channel(WRITE_QUEUE_CHUNKS);
        let (md5_sender, md5_receiver) = tokio::sync::mpsc::channel(WRITE_QUEUE_CHUNKS);
        let file_task =
            tokio::task::spawn_blocking(move || write_file(temp, file_receiver, fail_writes));
        let md5_task = tokio::task::spawn_blocking(move || hash_md5(md5_receiver));
        Ok(UploadWriter {
            pending: Vec::new(),
            pending_bytes: 0,
            file_sender: Some(file_sender),
            md5_sender: Some(md5_sender),
            file_task,
            md5_task,
        })
    }

    /// Makes a written upload visible as `key`, replacing any object of that
    /// name unless `forbid_overwrite` is set.
    ///
    /// # Errors
    /// `FileAlreadyExists` when `forbid_overwrite` is set and the key exists;
    /// an internal error when a rename or write fails (the temporary file is
    /// then deleted).
    pub async fn commit(
        &self,
        bucket: &str,
        key: &str,
        written: WrittenFile,
        attributes: ObjectAttributes,
        forbid_overwrite: bool,
        now: DateTime<Utc>,
    ) -> Result<ObjectMeta, OssError> {
        let storage = self.clone();
        let bucket = bucket.to_owned();
        let key = key.to_owned();
        tokio::task::spawn_blocking(move || {
            storage.commit_blocking(&bucket, &key, written, attributes, forbid_overwrite, now)
        })
        .await
        .map_err(|error| OssError::internal(format!("the commit task panicked: {error}")))?
    }

    fn commit_blocking(
        &self,
        bucket: &str,
        key: &str,
        written: WrittenFile,
        attributes: ObjectAttributes,
        forbid_overwrite: bool,
        now: DateTime<Utc>,
    ) -> Result<ObjectMeta, OssError> {
        let (dir, hash) = self.object_location(bucket, key);
        let meta_path = dir.join(format!("{hash}.meta.json"));
        let data_file = format!("{hash}.{}.data", uuid::Uuid::new_v4().simple());
        let io_error = |action: &str, path: &Path, error: std::io::Error| {
            OssError::internal(format!("failed to {action} {}: {error}", path.display()))
        };

        let meta = ObjectMeta {
            key: key.to_owned(),
            size: written.size,
            etag: hex::encode_upper(written.md5),
            crc64: written.crc64,
            content_type: attributes.content_type,
            last_modified: now,
            acl: attributes.acl,
            storage_class: attributes.storage_class,
            headers: attributes.headers,
            user_meta: attributes.user_meta,
            data_file: data_file.clone(),
        };
        let meta_json = serde_json::to_vec_pretty(&meta)
            .map_err(|error| OssError::internal(format!("failed to encode metadata: {error}")))?;
        let meta_temp = TempFile {
            path: Some(
                self.bucket_dir(bucket)
                    .join(".tmp")
                    .join(format!("{}.meta", uuid::Uuid::new_v4().simple())),
            ),
        };
        std::fs::write(meta_temp.path(), &meta_json)
            .map_err(|error| io_error("write", meta_temp.path(), error))?;

        let _guard = self.commit_lock.lock().unwrap_or_else(|e| e.into_inner());

        // The previous version, if any: checked under the lock so that
        // x-oss-forbid-overwrite cannot race another commit.
        let previous =
            read_meta(&meta_path).map_err(|error| io_error("read", &meta_path, error))?;
        if forbid_overwrite && previous.is_some() {
            return Err(OssError::file_already_exists());
        }

        std::fs::create_dir_all(&dir).map_err(|error| io_error("create", &dir, error))?;
        let data_path = dir.join(&data_file);
        std::fs::rename(written.file.path(), &data_path)
            .map_err(|error| io_error("rename the upload to", &data_path, error))?;
        written.file.keep();
        let data_guard = TempFile {
            path: Some(data_path),
        };

        // The commit point: after this rename readers see the new object.
        std::fs::rename(meta_temp.path(), &meta_path)
            .map_err(|error| io_error("rename metadata to", &meta_path, error))?;
        meta_temp.keep();
        data_guard.keep();

        if let Some(previous) = previous {
            let old_data = dir.join(&previous.data_file);
            if let Err(error) = std::fs::remove_file(&old_data) {
                tracing::warn!(path = %old_data.display(), %error, "failed to remove the replaced object data");
            }
        }
        Ok(meta)
    }

    /// Returns the metadata of `key`, or `None` when there is no such object.
    pub async fn head(&self, bucket: &str, key: &str) -> Result<Option<ObjectMeta>, OssError> {
        let path = self.meta_path(bucket, key);
        tokio::task::spawn_blocking(move || read_meta(&path))
            .await
            .map_err(|error| OssError::internal(format!("the read task panicked: {error}")))?
            .map_err(|error| OssError::internal(format!("failed to read object metadata: {error}")))
    }

    /// Opens an object for reading, positioned at `offset`.
    pub async fn open_object(
        &self,
        bucket: &str,
        key: &str,
        offset: u64,
    ) -> Result<Option<(ObjectMeta, tokio::fs::File)>, OssError> {
        let path = self.meta_path(bucket, key);
        let opened = tokio::task::spawn_blocking(move || open_object(&path, offset))
            .await
            .map_err(|error| OssError::internal(format!("the read task panicked: {error}")))?
            .map_err(|error| OssError::internal(format!("failed to open an object: {error}")))?;
        Ok(opened.map(|(meta, file)| (meta, tokio::fs::File::from_std(file))))
    }

    /// Deletes `key`. Returns whether it existed.
    pub async fn delete(&self, bucket: &str, key: &str) -> Result<bool, OssError> {
        let path = self.meta_path(bucket, key);
        let lock = self.commit_lock.clone();
        tokio::task::spawn_blocking(move || {
            let _guard = lock.lock().unwrap_or_else(|e| e.into_inner());
            let Some(meta) = read_meta(&path)? else {
                return Ok(false);
            };
            std::fs::remove_file(&path)?;
            let data = path.with_file_name(&meta.data_file);
            std::fs::remove_file(data)?;
            Ok(true)
        })
        .await
        .map_err(|error| OssError::internal(format!("the delete task panicked: {error}")))?
        .map_err(|error: std::io::Error| {
            OssError::internal(format!("failed to delete an object: {error}"))
        })
    }

    /// Returns every object of `bucket`, sorted by key.
    ///
    /// NOTE: this reads every metadata file of the bucket, which is fine for
    /// the thousands of objects of a test run, not for millions.
    pub async fn list(&self, bucket: &str) -> Result<Vec<ObjectMeta>, OssError> {
        let objects_dir = self.bucket_dir(bucket).join("objects");
        tokio::task::spawn_blocking(move || list_objects(&objects_dir))
            .await
            .map_err(|error| OssError::internal(format!("the list task panicked: {error}")))?
            .map_err(|error| OssError::internal(format!("failed to list objects: {error}")))
    }

    /// Counts the temporary files of a bucket: uploads in progress or, after
    /// an abort, files the guards failed to remove.
    pub fn temp_file_count(&self, bucket: &str) -> usize {
        std::fs::read_dir(self.bucket_dir(bucket).join(".tmp"))
            .map(|entries| entries.count())
            .unwrap_or(0)
    }
}

fn read_meta(path: &Path) -> std::io::Result<Option<ObjectMeta>> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|error| std::io::Error::other(format!("{}: {error}", path.display()))),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}

/// Opens the data named by the metadata. A concurrent overwrite may delete
/// that data between the two reads; the metadata is then read again.
fn open_object(
    meta_path: &Path,
    offset: u64,
) -> std::io::Result<Option<(ObjectMeta, std::fs::File)>> {
    for _ in 0..3 {
        let Some(meta) = read_meta(meta_path)? else {
            return Ok(None);
        };
        match std::fs::File::open(meta_path.with_file_name(&meta.data_file)) {
            Ok(mut file) => {
                if offset > 0 {
                    file.seek(SeekFrom::Start(offset))?;
                }
                return Ok(Some((meta, file)));
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
            Err(error) => return Err(error),
        }
    }
    Err(std::io::Error::other(format!(
        "{} keeps changing while being opened",
        meta_path.display()
    )))
}

fn list_objects(objects_dir: &Path) -> std::io::Result<Vec<ObjectMeta>> {
    let mut objects = Vec::new();
    for shard in std::fs::read_dir(objects_dir)? {
        let shard = shard?;
        if !shard.file_type()?.is_dir() {
            continue;
        }
        for entry in std::fs::read_dir(shard.path())? {
            let path = entry?.path();
            if path.to_string_lossy().ends_with(".meta.json") {
                if let Some(meta) = read_meta(&path)? {
                    objects.push(meta);
                }
            }
        }
    }
    objects.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(objects)
}

/// Reads up to `limit` bytes from the start of a file (for image headers).
pub fn read_prefix(file: &mut std::fs::File, limit: usize) -> std::io::Result<Vec<u8>> {
    let mut buffer = Vec::with_capacity(limit.min(64 * 1024));
    file.take(limit as u64).read_to_end(&mut buffer)?;
    Ok(buffer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc64_matches_the_ecma_check_value() {
        // The CRC-64/XZ check value for "123456789" from the CRC catalogue.
        assert_eq!(CRC64_ECMA.checksum(b"123456789"), 0x995D_C9BB_DF19_39FA);
    }

    #[test]
    fn keys_follow_oss_naming_rules() {
        assert!(validate_key("user/a.png").is_ok());
        assert!(validate_key("a/./b").is_ok());
        assert!(validate_key("dir/").is_ok());
        assert!(validate_key(&"k".repeat(1023)).is_ok());
        assert!(validate_key("").is_err());
        assert!(validate_key(&"k".repeat(1024)).is_err());
        assert!(validate_key("/abs").is_err());
        assert!(validate_key("\\abs").is_err());
        assert!(validate_key("../escape").is_err());
        assert!(validate_key("a/../../escape").is_err());
        assert!(validate_key("a\\..\\b").is_err());
        assert!(validate_key("line\nbreak").is_err());
    }

    fn attributes() -> ObjectAttributes {
        ObjectAttributes {
            content_type: "text/plain".to_owned(),
            storage_class: "Standard".to_owned(),
            ..ObjectAttributes::default()
        }
    }

    async fn upload(storage: &Storage, data: &[u8]) -> WrittenFile {
        let mut writer = storage.begin_upload("bucket", false).await.unwrap();
        writer.write(Bytes::copy_from_slice(data)).await.unwrap();
        writer.finish().await.unwrap()
    }

    #[tokio::test]
    async fn commit_then_read_back() {
        let root = tempfile::tempdir().unwrap();
        let storage = Storage::open(root.path(), &["bucket"]).unwrap();
        let written = upload(&storage, b"hello").await;
        assert_eq!(written.size, 5);
        let meta = storage
            .commit(
                "bucket",
                "a/b.txt",
                written,
                attributes(),
                false,
                Utc::now(),
            )
            .await
            .unwrap();
        assert_eq!(meta.etag, "5D41402ABC4B2A76B9719D911017C592");
        assert_eq!(meta.content_md5(), "XUFAKrxLKna5cZ2REBfFkg==");

        let (read_meta, mut file) = storage
            .open_object("bucket", "a/b.txt", 1)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(read_meta, meta);
        let mut text = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut file, &mut text)
            .await
            .unwrap();
        assert_eq!(text, "ello");
        assert_eq!(storage.temp_file_count("bucket"), 0);
    }

    #[tokio::test]
    async fn forbid_overwrite_keeps_the_first_object() {
        let root = tempfile::tempdir().unwrap();
        let storage = Storage::open(root.path(), &["bucket"]).unwrap();
        let first = upload(&storage, b"one").await;
        storage
            .commit("bucket", "k", first, attributes(), true, Utc::now())
            .await
            .unwrap();
        let second = upload(&storage, b"two").await;
        let error = storage
            .commit("bucket", "k", second, attributes(), true, Utc::now())
            .await
            .unwrap_err();
        assert_eq!(error.code, "FileAlreadyExists");
        assert_eq!(storage.head("bucket", "k").await.unwrap().unwrap().size, 3);
        assert_eq!(storage.temp_file_count("bucket"), 0);
    }

    #[tokio::test]
    async fn overwrite_removes_the_old_data() {
        let root = tempfile::tempdir().unwrap();
        let storage = Storage::open(root.path(), &["bucket"]).unwrap();
        for data in [&b"first"[..], b"second"] {
            let written = upload(&storage, data).await;
            storage
                .commit("bucket", "k", written, attributes(), false, Utc::now())
                .await
                .unwrap();
        }
        let (dir, _) = storage.object_location("bucket", "k");
        assert_eq!(std::fs::read_dir(dir).unwrap().count(), 2);
        assert!(storage.delete("bucket", "k").await.unwrap());
        assert!(storage.head("bucket", "k").await.unwrap().is_none());
        assert!(!storage.delete("bucket", "k").await.unwrap());
    }

    #[tokio::test]
    async fn dropped_upload_leaves_nothing() {
        let root = tempfile::tempdir().unwrap();
        let storage = Storage::open(root.path(), &["bucket"]).unwrap();
        let written = upload(&storage, b"abandoned").await;
        assert_eq!(storage.temp_file_count("bucket"), 1);
        drop(written);
        assert_eq!(storage.temp_file_count("bucket"), 0);
    }

    #[tokio::test]
    async fn failing_writes_fault_fails_the_upload() {
        let root = tempfile::tempdir().unwrap();
        let storage = Storage::open(root.path(), &["bucket"]).unwrap();
        let mut writer = storage.begin_upload("bucket", true).await.unwrap();
        let _ = writer.write(Bytes::from_static(b"data")).await;
        let error = writer.finish().await.unwrap_err();
        assert_eq!(error.code, "InternalError");
        assert_eq!(storage.temp_file_count("bucket"), 0);
    }

    #[tokio::test]
    async fn list_is_sorted_by_key() {
        let root = tempfile::tempdir().unwrap();
        let storage = Storage::open(root.path(), &["bucket"]).unwrap();
        for key in ["b", "a/2", "a/1", "c"] {
            let written = upload(&storage, key.as_bytes()).await;
            storage
                .commit("bucket", key, written, attributes(), false, Utc::now())
                .await
                .unwrap();
        }
        let keys: Vec<String> = storage
            .list("bucket")
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.key)
            .collect();
        assert_eq!(keys, ["a/1", "a/2", "b", "c"]);
    }
}
