-- webhookd schema, version 1. Times are Unix milliseconds (UTC); booleans are 0/1.

CREATE TABLE webhook_configs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  organization_id INTEGER NOT NULL,
  name TEXT NOT NULL,
  url TEXT NOT NULL,
  event_type_id INTEGER NOT NULL,
  attributes_json TEXT NOT NULL,
  headers_json TEXT NOT NULL,
  active INTEGER NOT NULL,
  send_organization_code INTEGER NOT NULL,
  version INTEGER NOT NULL,
  secret TEXT NOT NULL,
  previous_secret TEXT NOT NULL,
  previous_secret_expires_at INTEGER NOT NULL,
  is_deleted INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  disabled_reason TEXT NOT NULL,
  timeout_ms INTEGER NOT NULL,
  retry_schedule_json TEXT NOT NULL,
  failing_since INTEGER NOT NULL
);
-- Fan-out at ingestion: the active, non-deleted configurations of one organization and type.
CREATE INDEX webhook_configs_fanout
  ON webhook_configs (organization_id, event_type_id, active, is_deleted);
-- Listing one organization's configurations in id order.
CREATE INDEX webhook_configs_by_org ON webhook_configs (organization_id, id);

CREATE TABLE api_keys (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  organization_id INTEGER,  -- NULL: admin key
  name TEXT NOT NULL,
  hash TEXT NOT NULL UNIQUE,
  prefix TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  revoked_at INTEGER NOT NULL
);

CREATE TABLE events (
  id TEXT PRIMARY KEY,
  organization_id INTEGER NOT NULL,
  event_type_id INTEGER NOT NULL,
  payload TEXT NOT NULL,
  idempotency_key TEXT,  -- NULL: none
  created_at INTEGER NOT NULL
) WITHOUT ROWID;
-- Idempotency look-up: the newest event of an organization with a given key.
CREATE INDEX events_idempotency ON events (organization_id, idempotency_key, created_at);

CREATE TABLE deliveries (
  id TEXT PRIMARY KEY,
  event_id TEXT NOT NULL REFERENCES events (id),
  config_id INTEGER NOT NULL REFERENCES webhook_configs (id),
  organization_id INTEGER NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'delivering', 'succeeded', 'failed')),
  attempt_count INTEGER NOT NULL,
  next_attempt_at INTEGER NOT NULL,
  last_status_code INTEGER NOT NULL,
  last_error TEXT NOT NULL,
  manual_pending INTEGER NOT NULL,
  lease_until INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) WITHOUT ROWID;
-- Due polling (pending, oldest next_attempt_at first) and expired leases (delivering).
CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at);
CREATE INDEX deliveries_by_config ON deliveries (config_id, id);
CREATE INDEX deliveries_by_event ON deliveries (event_id, id);
CREATE INDEX deliveries_by_org ON deliveries (organization_id, id);

CREATE TABLE attempts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
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
CREATE INDEX attempts_by_delivery ON attempts (delivery_id, id);
