-- A rate-limited configuration's queue is leased to one node at a time, so that its
-- rateLimit holds across nodes: only the lease holder claims its deliveries, and renews the
-- lease with each claim. A lease that ends (its node stopped claiming, or died) is taken over
-- by the next node that claims.
CREATE TABLE config_queue_leases (
  config_id BIGINT PRIMARY KEY REFERENCES webhook_configs (id),
  owner TEXT NOT NULL,
  lease_until BIGINT NOT NULL
);
