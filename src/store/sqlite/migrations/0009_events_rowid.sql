-- Events in a rowid table (docs/store.md, "Writes per delivered event"). As a WITHOUT ROWID
-- table, an event was a row of a clustered index, where SQLite keeps at most about 1 000 bytes
-- of a row on a 4 KiB page: a longer row put its tail in an overflow page of its own, so every
-- event of more than about 950 bytes, and every encrypted payload of more than about 690 (base64
-- and the nonce make them a third longer), cost a whole extra page, written to the log and
-- checkpointed. A rowid table keeps rows of up to about 4 000 bytes on its leaf pages; its
-- unique index on id holds only ids. Existing rows are copied in id order, the order they
-- were made in.
CREATE TABLE events_rowid (
  id TEXT NOT NULL PRIMARY KEY,
  organization_id INTEGER NOT NULL,
  event_type_id INTEGER NOT NULL,
  payload TEXT NOT NULL,
  idempotency_key TEXT,  -- NULL: none
  created_at INTEGER NOT NULL,
  event_type_version INTEGER NOT NULL DEFAULT 1,
  payload_erased_at INTEGER NOT NULL DEFAULT 0
);
INSERT INTO events_rowid (id, organization_id, event_type_id, payload, idempotency_key,
                          created_at, event_type_version, payload_erased_at)
  SELECT id, organization_id, event_type_id, payload, idempotency_key, created_at,
         event_type_version, payload_erased_at
  FROM events ORDER BY id;
DROP TABLE events;
ALTER TABLE events_rowid RENAME TO events;
CREATE INDEX events_by_created_at ON events (created_at);
CREATE INDEX events_idempotency ON events (organization_id, idempotency_key, created_at)
  WHERE idempotency_key IS NOT NULL;
