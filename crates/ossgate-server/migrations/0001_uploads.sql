-- Uploads recorded from verified OSS callbacks.
--
-- The schema sticks to types and constraints that SQLite and PostgreSQL both
-- accept. On PostgreSQL, `id` would become `BIGINT GENERATED ALWAYS AS
-- IDENTITY`; everything else carries over as written.
CREATE TABLE uploads (
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
    oss_request_id TEXT,
    created_at TIMESTAMP NOT NULL,
    -- A replayed callback names the same token and object.
    CONSTRAINT uploads_token_object UNIQUE (token_id, object)
);

-- A callback OSS sent twice carries the same request id.
CREATE UNIQUE INDEX uploads_oss_request_id ON uploads (oss_request_id)
    WHERE oss_request_id IS NOT NULL;

-- Listing a user's uploads, newest first.
CREATE INDEX uploads_user_newest ON uploads (user_id, id);
