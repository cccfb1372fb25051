-- A FIFO configuration's pending delivery behind an earlier open one of its configuration waits
-- for its turn with next_attempt_at = 253402300799999 (kWaitingForTurn, 9999-12-31): never due,
-- so claims, which walk the due index, no longer step over every one of them; the end of the
-- turn before it makes it due. Those waiting when the database is upgraded wait the same way.
UPDATE deliveries SET next_attempt_at = 253402300799999
WHERE status = 'pending'
  AND config_id IN (SELECT id FROM webhook_configs WHERE ordering = 'fifo')
  AND EXISTS (SELECT 1 FROM deliveries o WHERE o.status IN ('pending', 'delivering')
              AND o.config_id = deliveries.config_id AND o.id < deliveries.id);
