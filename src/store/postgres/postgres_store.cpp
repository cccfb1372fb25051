#include "store/postgres/postgres_store.hpp"

#include <unistd.h>

#include <random>
#include <string>
#include <utility>

#include "store/postgres/migrations.hpp"
#include "store/postgres/operations.hpp"
#include "store/postgres/statements.hpp"

namespace webhookd::postgres {
namespace {

std::string DefaultNodeId() {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  return std::string(host[0] != '\0' ? host : "node") + ":" + std::to_string(getpid());
}

// Tells this store's notifications apart from those of other stores, even of another store
// with the same node id in the same process.
std::string InstanceTag(const std::string& node_id) {
  std::random_device random;
  return node_id + "/" + std::to_string(random());
}

Result<std::string> CurrentSchema(Connection& db) {
  Result<Rows> rows = db.Run(kCurrentSchema);
  if (!rows.ok()) return rows.error();
  if (rows->size() == 0 || rows->IsNull(0, 0)) {
    return Error::Invalid("the PostgreSQL search_path names no existing schema");
  }
  return rows->Text(0, 0);
}

Result<std::vector<std::unique_ptr<Connection>>> OpenWriteConnections(const std::string& conninfo,
                                                                      int count) {
  std::vector<std::unique_ptr<Connection>> connections;
  for (int i = 0; i < count; ++i) {
    Result<std::unique_ptr<Connection>> db = Connection::Open(conninfo);
    if (!db.ok()) return db.error();
    connections.push_back(std::move(*db));
  }
  return connections;
}

}  // namespace

Result<std::unique_ptr<PostgresStore>> PostgresStore::Open(const std::string& conninfo,
                                                           const Clock& clock,
                                                           const PostgresOptions& options) {
  Result<std::vector<std::unique_ptr<Connection>>> write_dbs =
      OpenWriteConnections(conninfo, std::max(1, options.writer_connections));
  if (!write_dbs.ok()) return write_dbs.error();
  Connection& first = *write_dbs->front();
  Result<std::string> schema = CurrentSchema(first);
  if (!schema.ok()) return schema.error();
  if (Result<int> applied = ApplyMigrations(first, EmbeddedMigrations(), clock); !applied.ok()) {
    return applied.error();
  }
  const std::string node_id = options.node_id.empty() ? DefaultNodeId() : options.node_id;
  auto store = std::unique_ptr<PostgresStore>(new PostgresStore(conninfo, clock, node_id));
  const std::string notify_payload = *schema + " " + InstanceTag(node_id);
  PostgresStore* self = store.get();
  store->notifications_ = std::make_unique<NotificationListener>(conninfo, *schema, notify_payload,
                                                                 [self] { self->NotifyWorkDue(); });
  store->writer_ = std::make_unique<Writer>(std::move(*write_dbs), notify_payload,
                                            [self] { self->NotifyWorkDue(); });
  if (Status s = store->Ping(); !s.ok()) return s.error();
  return store;
}

PostgresStore::PostgresStore(const std::string& conninfo, const Clock& clock, std::string node_id)
    : clock_(clock), node_id_(std::move(node_id)), reads_(conninfo) {}

PostgresStore::~PostgresStore() = default;

template <class F>
auto PostgresStore::Read(F fn) -> decltype(fn(std::declval<Connection&>())) {
  Result<ConnectionPool::Lease> lease = reads_.Acquire();
  if (!lease.ok()) return lease.error();
  return fn(**lease);
}

template <class R, class F>
R PostgresStore::Write(F fn) {
  return writer_->Run<R>(std::function<R(WriteContext&)>(std::move(fn)));
}

void PostgresStore::NotifyWorkDue() {
  std::function<void()> listener;
  {
    std::lock_guard lock(listener_mu_);
    listener = listener_;
  }
  if (listener) listener();
}

void PostgresStore::SetWorkListener(std::function<void()> listener) {
  std::lock_guard lock(listener_mu_);
  listener_ = std::move(listener);
}

Status PostgresStore::Ping() {
  return Read([](Connection& db) -> Status {
    if (Result<Rows> rows = db.Run(kPing); !rows.ok()) return rows.error();
    return Status::Ok();
  });
}

// ---- Webhook configurations ----

Result<WebhookConfig> PostgresStore::CreateConfig(const WebhookConfig& config) {
  return Write<Result<WebhookConfig>>(
      [&](WriteContext& c) { return ops::CreateConfig(c.db(), config, clock_.Now()); });
}

Result<WebhookConfig> PostgresStore::GetConfig(std::int64_t id, OrgScope scope) {
  return Read([&](Connection& db) { return ops::GetConfig(db, id, scope); });
}

Result<Page<WebhookConfig>> PostgresStore::ListConfigs(const ConfigFilter& filter, OrgScope scope) {
  return Read([&](Connection& db) { return ops::ListConfigs(db, filter, scope); });
}

Result<WebhookConfig> PostgresStore::UpdateConfig(const WebhookConfig& config, OrgScope scope) {
  return Write<Result<WebhookConfig>>(
      [&](WriteContext& c) { return ops::UpdateConfig(c.db(), config, scope, clock_.Now()); });
}

Status PostgresStore::DeleteConfig(std::int64_t id, OrgScope scope) {
  return Write<Status>(
      [&](WriteContext& c) { return ops::DeleteConfig(c.db(), id, scope, clock_.Now()); });
}

// ---- API keys ----

Result<ApiKey> PostgresStore::CreateApiKey(const ApiKey& key) {
  return Write<Result<ApiKey>>(
      [&](WriteContext& c) { return ops::CreateApiKey(c.db(), key, clock_.Now()); });
}

Result<ApiKey> PostgresStore::FindApiKeyByHash(const std::string& hash) {
  return Read([&](Connection& db) { return ops::FindApiKeyByHash(db, hash); });
}

Result<std::vector<ApiKey>> PostgresStore::ListApiKeys(OrgScope scope) {
  return Read([&](Connection& db) { return ops::ListApiKeys(db, scope); });
}

Status PostgresStore::RevokeApiKey(std::int64_t id, OrgScope scope) {
  return Write<Status>(
      [&](WriteContext& c) { return ops::RevokeApiKey(c.db(), id, scope, clock_.Now()); });
}

Result<std::int64_t> PostgresStore::CountApiKeys() {
  return Read([](Connection& db) { return ops::CountApiKeys(db); });
}

// ---- Events ----

std::vector<Result<IngestedEvent>> PostgresStore::IngestEvents(
    const std::vector<NewEvent>& events) {
  std::vector<std::function<Result<IngestedEvent>(WriteContext&)>> jobs;
  jobs.reserve(events.size());
  for (const NewEvent& event : events) {
    jobs.emplace_back(
        [this, &event](WriteContext& c) { return ops::IngestEvent(c, event, clock_.Now()); });
  }
  return writer_->RunAll<Result<IngestedEvent>>(std::move(jobs));
}

Result<Event> PostgresStore::GetEvent(const std::string& id, OrgScope scope) {
  return Read([&](Connection& db) { return ops::GetEvent(db, id, scope); });
}

Result<std::vector<Delivery>> PostgresStore::DeliveriesOfEvent(const std::string& event_id,
                                                               OrgScope scope) {
  return Read([&](Connection& db) { return ops::DeliveriesOfEvent(db, event_id, scope); });
}

// ---- Deliveries and attempts ----

Result<Delivery> PostgresStore::GetDelivery(const std::string& id, OrgScope scope) {
  return Read([&](Connection& db) { return ops::GetDelivery(db, id, scope); });
}

Result<Page<Delivery>> PostgresStore::ListDeliveries(const DeliveryFilter& filter, OrgScope scope) {
  return Read([&](Connection& db) { return ops::ListDeliveries(db, filter, scope); });
}

Result<std::vector<Attempt>> PostgresStore::ListAttempts(const std::string& delivery_id,
                                                         OrgScope scope) {
  return Read([&](Connection& db) { return ops::ListAttempts(db, delivery_id, scope); });
}

Result<std::vector<DeliveryJob>> PostgresStore::ClaimDue(UnixMillis now, int limit,
                                                         UnixMillis lease_until) {
  return Write<Result<std::vector<DeliveryJob>>>([&](WriteContext& c) {
    return ops::ClaimDue(c.db(), now, limit, lease_until, node_id_, clock_.Now());
  });
}

Result<std::optional<UnixMillis>> PostgresStore::NextDueAt() {
  return Read([](Connection& db) { return ops::NextDueAt(db); });
}

Result<std::int64_t> PostgresStore::ReleaseExpiredLeases(UnixMillis now) {
  return Write<Result<std::int64_t>>(
      [&](WriteContext& c) { return ops::ReleaseExpiredLeases(c, now, clock_.Now()); });
}

Status PostgresStore::RecordAttempts(const std::vector<AttemptOutcome>& outcomes) {
  return Write<Status>(
      [&](WriteContext& c) { return ops::RecordAttempts(c, outcomes, clock_.Now()); });
}

Result<Delivery> PostgresStore::RetryDelivery(const std::string& id, OrgScope scope) {
  return Write<Result<Delivery>>(
      [&](WriteContext& c) { return ops::RetryDelivery(c, id, scope, clock_.Now()); });
}

Result<std::int64_t> PostgresStore::RecoverConfig(std::int64_t config_id, UnixMillis since,
                                                  OrgScope scope) {
  return Write<Result<std::int64_t>>([&](WriteContext& c) {
    return ops::RecoverConfig(c, config_id, since, scope, clock_.Now());
  });
}

Result<DeliveryCounts> PostgresStore::CountDeliveries() {
  return Read([](Connection& db) { return ops::CountDeliveries(db); });
}

}  // namespace webhookd::postgres
