-- Failed deliveries (dead letters) in a partial index of their own, status first like
-- deliveries_open, so that the backlog GET /metrics reports (pending, delivering, failed) is
-- counted from two partial indexes instead of a scan of every delivery ever made, and so that
-- recovering a configuration's failed deliveries reads a range of it rather than every
-- delivery of that configuration. A delivery enters it only when it fails for good: the
-- delivered ones never touch it.
CREATE INDEX deliveries_failed ON deliveries (status, config_id, id)
  WHERE status = 'failed';
