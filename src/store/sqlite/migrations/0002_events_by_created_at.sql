-- Retention (PurgeBefore) walks events from the oldest.
CREATE INDEX events_by_created_at ON events (created_at);
