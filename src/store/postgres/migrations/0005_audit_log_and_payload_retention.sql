-- Patient data protection (docs/security.md): the audit log, and retention per organization.

-- Payload retention: when the event's payload (now 'null') and its attempts' bodies and headers
-- were erased; 0 while they are kept.
ALTER TABLE events ADD COLUMN payload_erased_at BIGINT NOT NULL DEFAULT 0;

-- An organization's own retention periods in milliseconds; 0 uses the server's default.
-- Retention reads it per event (NOT EXISTS on the primary key), so it holds only overrides.
CREATE TABLE organization_settings (
  organization_id BIGINT PRIMARY KEY,
  retention_ms BIGINT NOT NULL,
  payload_retention_ms BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);

-- Who changed what and who read patient data.
CREATE TABLE audit_log (
  id BIGSERIAL PRIMARY KEY,
  at BIGINT NOT NULL,
  key_id BIGINT NOT NULL,
  key_name TEXT NOT NULL,
  organization_id BIGINT,  -- NULL: an admin's request about no one organization
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
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the audit log is append-only';
END;
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
