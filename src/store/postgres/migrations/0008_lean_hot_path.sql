-- Lean storage on PostgreSQL, as SQLite's migration 4 (docs/store.md, "Writes per delivered
-- event"). Rows are kept as they are; only indexes change. Running it again changes nothing.

-- A delivery handed to the dispatcher at ingestion is stored 'delivering', which wrote it into
-- two partial indexes: deliveries_leased (lease expiry) and deliveries_open_by_config (whether a
-- FIFO configuration has an older delivery open). One index over the open deliveries, status
-- first, serves both: lease expiry and the release of a node's leases read its 'delivering'
-- range, the FIFO check its (status, configuration) ranges.
DROP INDEX IF EXISTS deliveries_leased;
DROP INDEX IF EXISTS deliveries_open_by_config;
CREATE INDEX IF NOT EXISTS deliveries_open ON deliveries (status, config_id, id)
  WHERE status IN ('pending', 'delivering');

-- No statement reads deliveries by organization alone: the listings and statistics filter on it
-- while walking the primary key, so its index was written at every ingestion, and again at
-- every recorded attempt (a new row version enters every index that is not partial), for
-- nothing.
DROP INDEX IF EXISTS deliveries_by_org;
