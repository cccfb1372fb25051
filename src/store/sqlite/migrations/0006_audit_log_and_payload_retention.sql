-- Patient data protection (docs/security.md): the audit log, and retention per organization.

-- Payload retention: when the event's payload (now 'null') and its attempts' bodies and headers
-- were erased; 0 while they are kept.
ALTER TABLE events ADD COLUMN payload_erased_at INTEGER NOT NULL DEFAULT 0;

-- An organization's own retention periods in milliseconds; 0 uses the server's default.
-- Retention reads it per event (NOT EXISTS on the primary key), so it holds only overrides.
CREATE TABLE organization_settings (
  organization_id INTEGER PRIMARY KEY,
  retention_ms INTEGER NOT NULL,
  payload_retention_ms INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

-- Who changed what and who read patient data. AUTOINCREMENT: ids, the listing's cursor, are
-- never reused, even once the janitor has purged the newest entry.
CREATE TABLE audit_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL,
  key_id INTEGER NOT NULL,
  key_name TEXT NOT NULL,
  organization_id INTEGER,  -- NULL: an admin's request about no one organization
  method TEXT NOT NULL,
  route TEXT NOT NULL,
  object_id TEXT NOT NULL,
  address TEXT NOT NULL,
  status INTEGER NOT NULL
);
-- An organization key lists its organization's entries in id order.
CREATE INDEX audit_log_by_org ON audit_log (organization_id, id);
-- The janitor purges the oldest entries.
CREATE INDEX audit_log_by_at ON audit_log (at);
-- Append-only: entries are inserted, and deleted only by retention, never changed.
CREATE TRIGGER audit_log_append_only BEFORE UPDATE ON audit_log
BEGIN
  SELECT RAISE(ABORT, 'the audit log is append-only');
END;
