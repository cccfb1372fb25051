// The Store on one SQLite file (WAL). Writes go through a single writer thread that commits
// concurrent calls together (group commit, see writer.hpp); reads run on the calling thread
// over pooled read connections and never wait for the writer.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "core/clock.hpp"
#include "store/sqlite/read_pool.hpp"
#include "store/sqlite/writer.hpp"
#include "store/store.hpp"

namespace webhookd::sqlite {

class SqliteStore final : public Store {
 public:
  // Opens `path`, creating the file (not its directory) if missing, switches it to WAL and
  // applies pending migrations. `clock` must outlive the store.
  static Result<std::unique_ptr<SqliteStore>> Open(const std::string& path, const Clock& clock);

  // Finishes every queued write, then closes all connections.
  ~SqliteStore() override;

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

  void SetWorkListener(std::function<void()> listener) override;

 private:
  SqliteStore(const std::string& path, const Clock& clock, std::unique_ptr<Connection> write_db);

  // Runs `fn(Connection&)` on a pooled read connection.
  template <class F>
  auto Read(F fn) -> decltype(fn(std::declval<Connection&>()));
  // Runs `fn(WriteContext&)` on the writer thread and waits for its commit.
  template <class R, class F>
  R Write(F fn);

  void NotifyWorkDue();

  const Clock& clock_;
  ReadPool reads_;
  std::mutex listener_mu_;
  std::function<void()> listener_;  // guarded by listener_mu_
  // Last member: destroyed first, so queued writes finish while everything else is alive.
  std::unique_ptr<Writer> writer_;
};

}  // namespace webhookd::sqlite
