-- Records one batch of delivery outcomes (statements.hpp, kRecordDeliveryOutcomes): ids, new
-- statuses, status codes, errors, next_attempt_at (kept unless pending), now; returns the ids
-- it updated. As a statement of its own it had to be planned on every call (about 130 us of
-- the server's time per batch): a plan made once, while the deliveries were few or not yet
-- analyzed, joined the unnest to a scan of every delivery and kept doing so as the table grew.
-- Here the plan is made once per connection (plan_cache_mode) and, with scans, hash and merge
-- joins ruled out for this statement only, can only find each delivery through the primary key,
-- whatever the table's size or statistics.
CREATE OR REPLACE FUNCTION webhookd_record_delivery_outcomes(
  ids text[], statuses text[], codes integer[], errors text[], next_at bigint[], now bigint)
RETURNS SETOF text
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
AS $$
BEGIN
  RETURN QUERY
  WITH updated AS (
    UPDATE deliveries d SET status = u.status, attempt_count = d.attempt_count + 1,
      last_status_code = u.code, last_error = u.error,
      next_attempt_at = CASE WHEN u.status = 'pending' THEN u.next_at ELSE d.next_attempt_at END,
      manual_pending = false, lease_owner = '', lease_until = 0, updated_at = now
    FROM unnest(ids, statuses, codes, errors, next_at) AS u (id, status, code, error, next_at)
    WHERE d.id = u.id
    RETURNING d.id)
  SELECT updated.id FROM updated;
END
$$;
