// The Store on PostgreSQL (libpq), shared by any number of webhookd nodes. Writes go through
// a few writer threads that commit concurrent calls together (group commit, see writer.hpp);
// reads run on the calling thread over pooled connections. Due deliveries are claimed with
// FOR UPDATE SKIP LOCKED and leased in this node's name, so each goes to exactly one node.
// Commits that make work due NOTIFY the other nodes (see listener.hpp).
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "core/clock.hpp"
#include "store/postgres/listener.hpp"
#include "store/postgres/pool.hpp"
#include "store/postgres/writer.hpp"
#include "store/store.hpp"

namespace webhookd::postgres {

struct PostgresOptions {
  // Names this node as the owner of its leases (informational: visible in the deliveries
  // table). Empty: hostname:pid.
  std::string node_id;
  // Writer threads, each with its own connection.
  int writer_connections = 2;
};

class PostgresStore final : public Store {
 public:
  // Connects with `conninfo` (postgres://... URL or key=value string; the schema is the
  // connection's search_path, by default "public"), applies pending migrations under an
  // advisory lock, and starts listening for other nodes' work. `clock` must outlive the store.
  static Result<std::unique_ptr<PostgresStore>> Open(const std::string& conninfo,
                                                     const Clock& clock,
                                                     const PostgresOptions& options);

  // Finishes every queued write, then closes all connections.
  ~PostgresStore() override;

  Status Ping() override;

  Result<WebhookConfig> CreateConfig(const WebhookConfig& config) override;
  Result<WebhookConfig> GetConfig(std::int64_t id, OrgScope scope) override;
  Result<Page<WebhookConfig>> ListConfigs(const ConfigFilter& filter, OrgScope scope) override;
  Result<WebhookConfig> UpdateConfig(const WebhookConfig& config, OrgScope scope) override;
  Status DeleteConfig(std::int64_t id, OrgScope scope) override;

  Result<ApiKey> CreateApiKey(const ApiKey& key) override;
  Result<ApiKey> FindApiKeyByHash(const std::string& hash) override;
  Result<std::vector<ApiKey>> ListApiKeys(OrgScope scope) override;
  Status RevokeApiKey(std::int64_t id, OrgScope scope) override;
  Result<std::int64_t> CountApiKeys() override;

  std::vector<Result<IngestedEvent>> IngestEvents(const std::vector<NewEvent>& events) override;
  Result<Event> GetEvent(const std::string& id, OrgScope scope) override;
  Result<std::vector<Delivery>> DeliveriesOfEvent(const std::string& event_id,
                                                  OrgScope scope) override;

  Result<Delivery> GetDelivery(const std::string& id, OrgScope scope) override;
  Result<Page<Delivery>> ListDeliveries(const DeliveryFilter& filter, OrgScope scope) override;
  Result<std::vector<Attempt>> ListAttempts(const std::string& delivery_id,
                                            OrgScope scope) override;
  Result<std::vector<DeliveryJob>> ClaimDue(UnixMillis now, int limit,
                                            UnixMillis lease_until) override;
  Result<std::optional<UnixMillis>> NextDueAt() override;
  Result<std::int64_t> ReleaseExpiredLeases(UnixMillis now) override;
  Status RecordAttempts(const std::vector<AttemptOutcome>& outcomes) override;
  Result<Delivery> RetryDelivery(const std::string& id, OrgScope scope) override;
  Result<std::int64_t> RecoverConfig(std::int64_t config_id, UnixMillis since,
                                     OrgScope scope) override;
  Result<DeliveryCounts> CountDeliveries() override;

  // Also called when another node NOTIFYs new work (on the listener thread).
  void SetWorkListener(std::function<void()> listener) override;

  const std::string& node_id() const { return node_id_; }

 private:
  PostgresStore(const std::string& conninfo, const Clock& clock, std::string node_id);

  // Runs `fn(Connection&)` on a pooled connection.
  template <class F>
  auto Read(F fn) -> decltype(fn(std::declval<Connection&>()));
  // Runs `fn(WriteContext&)` on a writer thread and waits for its commit.
  template <class R, class F>
  R Write(F fn);

  void NotifyWorkDue();

  const Clock& clock_;
  const std::string node_id_;
  ConnectionPool reads_;
  std::mutex listener_mu_;
  std::function<void()> listener_;  // guarded by listener_mu_
  std::unique_ptr<NotificationListener> notifications_;
  // Last member: destroyed first, so queued writes finish while everything else is alive.
  std::unique_ptr<Writer> writer_;
};

}  // namespace webhookd::postgres
