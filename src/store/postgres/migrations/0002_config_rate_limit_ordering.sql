-- Per-configuration delivery rate limit and ordering (the dispatcher's per-configuration
-- queues). Existing configurations keep today's behaviour: unlimited, any order.
ALTER TABLE webhook_configs ADD COLUMN rate_limit BIGINT NOT NULL DEFAULT 0;
ALTER TABLE webhook_configs ADD COLUMN ordering TEXT NOT NULL DEFAULT 'none'
  CHECK (ordering IN ('none', 'fifo'));
-- A FIFO configuration's claim sends only its oldest open delivery: this finds whether an
-- older one is still pending or delivering without reading the finished ones.
CREATE INDEX deliveries_open_by_config ON deliveries (config_id, id)
  WHERE status IN ('pending', 'delivering');
