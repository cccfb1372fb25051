-- Pending deliveries by configuration, in due order, as SQLite's migration 12: a claim that
-- leaves some configurations aside (those the dispatcher holds back) skips each of them with one
-- seek instead of stepping over every one of their due deliveries in deliveries_due. The
-- delivered path (deliveries handed off at ingestion) never writes it. Running it again changes
-- nothing.
CREATE INDEX IF NOT EXISTS deliveries_due_by_config ON deliveries (config_id, next_attempt_at, id)
  WHERE status = 'pending';
