-- Event types as data (docs/event-types.md): types created through the API, and new versions
-- of any type. The 12 built-in types' first versions are compiled in and not stored; a built-in
-- type gets its row here with its first stored version (2).
CREATE TABLE event_types (
  id INTEGER PRIMARY KEY,  -- webhookEventId
  name TEXT NOT NULL UNIQUE,
  is_inference BOOLEAN NOT NULL,
  archived_at BIGINT NOT NULL,  -- 0: not archived
  created_at BIGINT NOT NULL
);
CREATE TABLE event_type_versions (
  type_id INTEGER NOT NULL REFERENCES event_types (id),
  version INTEGER NOT NULL,
  description TEXT NOT NULL,
  schema TEXT NOT NULL,
  sample TEXT NOT NULL,
  sample_headers TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (type_id, version)
);
-- The version of its type whose schema each event passed; earlier events passed version 1.
ALTER TABLE events ADD COLUMN event_type_version INTEGER NOT NULL DEFAULT 1;
