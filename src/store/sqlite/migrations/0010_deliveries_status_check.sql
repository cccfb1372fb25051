-- The deliveries' status CHECK as comparisons joined by OR (docs/store.md, "Writes per delivered
-- event"). SQLite compiles `status IN ('pending', 'delivering', 'succeeded', 'failed')`, a list
-- of more than two values, into a temporary B-tree that it builds, fills and frees each time
-- the constraint is checked: on every delivery's insert and every attempt's update, which then
-- cost more instructions than the row's own writes (valgrind --tool=callgrind: a third of the
-- writer's). The same four values are allowed. SQLite cannot change a CHECK in place, so the
-- table is rebuilt (https://sqlite.org/lang_altertable.html#otheralter), its rows copied in key
-- order and its indexes made again.
CREATE TABLE deliveries_checked (
  id TEXT PRIMARY KEY,
  event_id TEXT NOT NULL REFERENCES events (id),
  config_id INTEGER NOT NULL REFERENCES webhook_configs (id),
  organization_id INTEGER NOT NULL,
  status TEXT NOT NULL CHECK (status = 'pending' OR status = 'delivering' OR
                              status = 'succeeded' OR status = 'failed'),
  attempt_count INTEGER NOT NULL,
  next_attempt_at INTEGER NOT NULL,
  last_status_code INTEGER NOT NULL,
  last_error TEXT NOT NULL,
  manual_pending INTEGER NOT NULL,
  lease_until INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO deliveries_checked (id, event_id, config_id, organization_id, status, attempt_count,
                                next_attempt_at, last_status_code, last_error, manual_pending,
                                lease_until, created_at, updated_at)
  SELECT id, event_id, config_id, organization_id, status, attempt_count, next_attempt_at,
         last_status_code, last_error, manual_pending, lease_until, created_at, updated_at
  FROM deliveries ORDER BY id;
DROP TABLE deliveries;
ALTER TABLE deliveries_checked RENAME TO deliveries;
CREATE INDEX deliveries_by_config ON deliveries (config_id, id);
CREATE INDEX deliveries_by_event ON deliveries (event_id, id);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX deliveries_open ON deliveries (status, config_id, id)
  WHERE status IN ('pending', 'delivering');
