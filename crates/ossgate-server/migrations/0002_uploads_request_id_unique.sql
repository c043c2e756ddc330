-- Deduplicate uploads on the OSS request id alone.
--
-- The first schema also made (token_id, object) unique, so a second upload
-- of the same key under one directory token (the official plupload client
-- reuses its policy with `key = dir + "${filename}"`) was taken for a replay
-- and lost. Each PostObject request gets its own OSS request id, so that id
-- alone identifies an upload. SQLite cannot drop a table constraint, so the
-- table is rebuilt with its rows and ids kept.
CREATE TABLE uploads_rebuilt (
    id INTEGER PRIMARY KEY,
    bucket TEXT NOT NULL,
    object TEXT NOT NULL,
    size BIGINT NOT NULL,
    etag TEXT NOT NULL,
    mime_type TEXT NOT NULL,
    image_width BIGINT,
    image_height BIGINT,
    image_format TEXT,
    crc64 TEXT,
    user_id TEXT NOT NULL,
    token_id TEXT NOT NULL,
    client_ip TEXT,
    -- NULL only in rows recorded before callbacks had to carry a request id.
    oss_request_id TEXT,
    created_at TIMESTAMP NOT NULL
);

INSERT INTO uploads_rebuilt (id, bucket, object, size, etag, mime_type, image_width,
    image_height, image_format, crc64, user_id, token_id, client_ip, oss_request_id,
    created_at)
SELECT id, bucket, object, size, etag, mime_type, image_width, image_height,
    image_format, crc64, user_id, token_id, client_ip, oss_request_id, created_at
FROM uploads;

DROP TABLE uploads;
ALTER TABLE uploads_rebuilt RENAME TO uploads;

-- A callback OSS sent twice, or a replay of it, carries the same request id.
CREATE UNIQUE INDEX uploads_oss_request_id ON uploads (oss_request_id)
    WHERE oss_request_id IS NOT NULL;

-- Listing a user's uploads, newest first.
CREATE INDEX uploads_user_newest ON uploads (user_id, id);
