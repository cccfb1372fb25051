// The Store on PostgreSQL (libpq), shared by any number of webhookd nodes. Writes go through
// a few writer threads that commit concurrent calls together (group commit, see writer.hpp);
// reads run on the calling thread over pooled connections. Due deliveries are claimed with
// FOR UPDATE SKIP LOCKED and leased in this node's name, so each goes to exactly one node.
// Commits that make work due NOTIFY the other nodes (see listener.hpp); the work listener is
// also called, on the listener thread, when another node NOTIFYs new work.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "core/clock.hpp"
#include "store/common/group_commit_store.hpp"
#include "store/postgres/connection.hpp"
#include "store/postgres/listener.hpp"
#include "store/postgres/operations.hpp"
#include "store/postgres/writer.hpp"

namespace webhookd::postgres {

struct PostgresOptions {
  // Names this node as the owner of its leases (informational: visible in the deliveries
  // table). Empty: hostname:pid.
  std::string node_id;
  // Writer threads, each with its own connection.
  int writer_connections = 2;
};

class PostgresStore final : public store_common::GroupCommitStore<WriterSession, Operations> {
 public:
  // Connects with `conninfo` (postgres://... URL or key=value string; the schema is the
  // connection's search_path, by default "public"), applies pending migrations under an
  // advisory lock, and starts listening for other nodes' work. `clock` must outlive the store.
  static Result<std::unique_ptr<PostgresStore>> Open(const std::string& conninfo,
                                                     const Clock& clock,
                                                     const PostgresOptions& options);

  // Finishes every queued write, then closes all connections.
  ~PostgresStore() override { StopWriter(); }

  // Leases in this node's name.
  Result<std::vector<DeliveryJob>> ClaimDue(
      UnixMillis now, int limit, UnixMillis lease_until,
      const std::vector<std::int64_t>& skip_config_ids) override;
  // Leases in this node's name (see Store::ReleaseOwnLeases).
  Result<std::int64_t> ReleaseOwnLeases() override;
  // Leases the FIFO turns it hands off in this node's name.
  Status RecordAttempts(const std::vector<AttemptOutcome>& outcomes) override;

  const std::string& node_id() const { return node_id_; }

 protected:
  // Leases handed-off deliveries in this node's name.
  Result<IngestedEvent> IngestOne(Context& context, const NewEvent& event, DeliveryHandoff* handoff,
                                  store_common::DeliveryBudget& budget) override;

 private:
  PostgresStore(const std::string& conninfo, const Clock& clock, std::string node_id);

  const std::string node_id_;
  FanOutCache fan_outs_;
  std::unique_ptr<NotificationListener> notifications_;
};

}  // namespace webhookd::postgres
