-- Pending deliveries by configuration, in due order, so that a claim that leaves some
-- configurations aside (those the dispatcher holds back: a receiver that never answers, a rate
-- limit already served for two seconds) skips each of them with one seek instead of stepping
-- over every one of their due deliveries in deliveries_due. A delivery handed to the dispatcher
-- at ingestion is never pending: the delivered path does not write it.
CREATE INDEX deliveries_due_by_config ON deliveries (config_id, next_attempt_at, id)
  WHERE status = 'pending';
