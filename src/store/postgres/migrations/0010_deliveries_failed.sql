-- Failed deliveries (dead letters) in a partial index of their own, as SQLite's migration 11:
-- the backlog GET /metrics reports (pending, delivering, failed) is counted from deliveries_open
-- and this index instead of a scan of every delivery ever made, and recovering a
-- configuration's failed deliveries reads a range of it. A delivery enters it only when it fails
-- for good. Running it again changes nothing.
CREATE INDEX IF NOT EXISTS deliveries_failed ON deliveries (status, config_id, id)
  WHERE status = 'failed';
