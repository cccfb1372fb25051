-- Encryption at rest (docs/security.md). Sealed values keep their TEXT/bytea columns: the sealed
-- form is text. This table names every key that has encrypted a value here, so that a server
-- lacking one of them refuses to start instead of failing row by row.
CREATE TABLE encryption_keys (
  name TEXT PRIMARY KEY,  -- '': values stored before encryption may remain (until rewrap)
  check_value TEXT NOT NULL,  -- a value sealed under the key: a key file's key of this name opens it
  registered_at BIGINT NOT NULL
);
-- A database that already holds data keeps its plain values until `webhookd encryption rewrap`
-- has sealed them all; a new one never holds a plain value.
INSERT INTO encryption_keys (name, check_value, registered_at)
  SELECT '', '', 0 WHERE EXISTS (SELECT 1 FROM events) OR EXISTS (SELECT 1 FROM webhook_configs);
