-- The file's original name, shown in place of a server-chosen key.
--
-- Nullable, because rows recorded before this column have no name to fill
-- in: the API shows the last segment of their object key instead. Both
-- SQLite and PostgreSQL accept this statement as written.
ALTER TABLE uploads ADD COLUMN filename TEXT;
