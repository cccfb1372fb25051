-- Lean storage: fewer B-tree writes per delivered event (docs/store.md, "Writes per delivered
-- event"). Rows are kept as they are; only keys and indexes change.

-- Attempts without AUTOINCREMENT: a plain rowid key, so that an insert no longer also updates
-- the counter row in sqlite_sequence. Existing ids are kept; new ones continue after the largest.
CREATE TABLE attempts_lean (
  id INTEGER PRIMARY KEY,
  delivery_id TEXT NOT NULL REFERENCES deliveries (id),
  attempted_at INTEGER NOT NULL,
  duration_ms INTEGER NOT NULL,
  request_headers_json TEXT NOT NULL,
  status_code INTEGER NOT NULL,
  response_headers_json TEXT NOT NULL,
  response_body BLOB NOT NULL,  -- bytes as received (capped), not necessarily UTF-8
  error TEXT NOT NULL,
  manual INTEGER NOT NULL
);
INSERT INTO attempts_lean (id, delivery_id, attempted_at, duration_ms, request_headers_json,
                           status_code, response_headers_json, response_body, error, manual)
  SELECT id, delivery_id, attempted_at, duration_ms, request_headers_json, status_code,
         response_headers_json, response_body, error, manual
  FROM attempts;
DROP TABLE attempts;
ALTER TABLE attempts_lean RENAME TO attempts;
CREATE INDEX attempts_by_delivery ON attempts (delivery_id, id);

-- Due polling (kSelectDue, kNextDueAt) reads pending deliveries only. A delivery handed to the
-- dispatcher at ingestion is never pending, so the usual path no longer touches this index
-- (it was inserted at ingestion and moved when the attempt was recorded).
DROP INDEX deliveries_due;
CREATE INDEX deliveries_due ON deliveries (next_attempt_at, id) WHERE status = 'pending';
-- Open deliveries by status, replacing deliveries_open_by_config: a FIFO configuration's claim
-- asks whether an older one is still open, and lease expiry reads the delivering ones.
DROP INDEX deliveries_open_by_config;
CREATE INDEX deliveries_open ON deliveries (status, config_id, id)
  WHERE status IN ('pending', 'delivering');

-- No statement reads deliveries by organization alone: the listing filters on it while walking
-- the primary key (EXPLAIN QUERY PLAN), so its index was written on every ingestion for nothing.
DROP INDEX deliveries_by_org;

-- Only events with an idempotency key are looked up by it.
DROP INDEX events_idempotency;
CREATE INDEX events_idempotency ON events (organization_id, idempotency_key, created_at)
  WHERE idempotency_key IS NOT NULL;
