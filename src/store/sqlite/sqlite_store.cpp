#include "store/sqlite/sqlite_store.hpp"

#include <string>
#include <utility>

#include "store/sqlite/migrations.hpp"
#include "store/sqlite/operations.hpp"
#include "store/sqlite/statements.hpp"

namespace webhookd::sqlite {
namespace {

Status EnableWal(Connection& db) {
  Result<Query> query = db.Prepare(kEnableWal);
  if (!query.ok()) return query.error();
  Result<bool> row = query->Step();
  if (!row.ok()) return row.error();
  if (!*row || query->Text(0) != "wal") {
    return Error::Unavailable("the SQLite database cannot use WAL mode (journal_mode is '" +
                              (*row ? query->Text(0) : std::string()) + "')");
  }
  return Status::Ok();
}

Result<std::unique_ptr<Connection>> OpenWriteConnection(const std::string& path,
                                                        const Clock& clock) {
  Result<std::unique_ptr<Connection>> db = Connection::Open(path, /*create=*/true);
  if (!db.ok()) return db.error();
  if (Status s = EnableWal(**db); !s.ok()) return s.error();
  if (Status s = (*db)->Exec(kWriterPragmas); !s.ok()) return s.error();
  if (Status s = ApplyMigrations(**db, EmbeddedMigrations(), clock); !s.ok()) return s.error();
  return db;
}

}  // namespace

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path,
                                                       const Clock& clock) {
  Result<std::unique_ptr<Connection>> write_db = OpenWriteConnection(path, clock);
  if (!write_db.ok()) return write_db.error();
  auto store = std::unique_ptr<SqliteStore>(new SqliteStore(path, clock, std::move(*write_db)));
  // Opens the first read connection now, so that a database readers cannot open fails here.
  if (Status s = store->Ping(); !s.ok()) return s.error();
  return store;
}

SqliteStore::SqliteStore(const std::string& path, const Clock& clock,
                         std::unique_ptr<Connection> write_db)
    : clock_(clock),
      reads_(path),
      writer_(std::make_unique<Writer>(std::move(write_db), [this] { NotifyWorkDue(); })) {}

SqliteStore::~SqliteStore() = default;

template <class F>
auto SqliteStore::Read(F fn) -> decltype(fn(std::declval<Connection&>())) {
  Result<ReadPool::Lease> lease = reads_.Acquire();
  if (!lease.ok()) return lease.error();
  return fn(**lease);
}

template <class R, class F>
R SqliteStore::Write(F fn) {
  return writer_->Run<R>(std::function<R(WriteContext&)>(std::move(fn)));
}

void SqliteStore::NotifyWorkDue() {
  std::function<void()> listener;
  {
    std::lock_guard lock(listener_mu_);
    listener = listener_;
  }
  if (listener) listener();
}

void SqliteStore::SetWorkListener(std::function<void()> listener) {
  std::lock_guard lock(listener_mu_);
  listener_ = std::move(listener);
}

Status SqliteStore::Ping() {
  return Read([](Connection& db) { return db.Run(kPing); });
}

// ---- Webhook configurations ----

Result<WebhookConfig> SqliteStore::CreateConfig(const WebhookConfig& config) {
  return Write<Result<WebhookConfig>>(
      [&](WriteContext& c) { return ops::CreateConfig(c.db(), config, clock_.Now()); });
}

Result<WebhookConfig> SqliteStore::GetConfig(std::int64_t id, OrgScope scope) {
  return Read([&](Connection& db) { return ops::GetConfig(db, id, scope); });
}

Result<Page<WebhookConfig>> SqliteStore::ListConfigs(const ConfigFilter& filter, OrgScope scope) {
  return Read([&](Connection& db) { return ops::ListConfigs(db, filter, scope); });
}

Result<WebhookConfig> SqliteStore::UpdateConfig(const WebhookConfig& config, OrgScope scope) {
  return Write<Result<WebhookConfig>>(
      [&](WriteContext& c) { return ops::UpdateConfig(c.db(), config, scope, clock_.Now()); });
}

Status SqliteStore::DeleteConfig(std::int64_t id, OrgScope scope) {
  return Write<Status>(
      [&](WriteContext& c) { return ops::DeleteConfig(c.db(), id, scope, clock_.Now()); });
}

// ---- API keys ----

Result<ApiKey> SqliteStore::CreateApiKey(const ApiKey& key) {
  return Write<Result<ApiKey>>(
      [&](WriteContext& c) { return ops::CreateApiKey(c.db(), key, clock_.Now()); });
}

Result<ApiKey> SqliteStore::FindApiKeyByHash(const std::string& hash) {
  return Read([&](Connection& db) { return ops::FindApiKeyByHash(db, hash); });
}

Result<std::vector<ApiKey>> SqliteStore::ListApiKeys(OrgScope scope) {
  return Read([&](Connection& db) { return ops::ListApiKeys(db, scope); });
}

Status SqliteStore::RevokeApiKey(std::int64_t id, OrgScope scope) {
  return Write<Status>(
      [&](WriteContext& c) { return ops::RevokeApiKey(c.db(), id, scope, clock_.Now()); });
}

Result<std::int64_t> SqliteStore::CountApiKeys() {
  return Read([](Connection& db) { return ops::CountApiKeys(db); });
}

// ---- Events ----

std::vector<Result<IngestedEvent>> SqliteStore::IngestEvents(const std::vector<NewEvent>& events) {
  std::vector<std::function<Result<IngestedEvent>(WriteContext&)>> jobs;
  jobs.reserve(events.size());
  for (const NewEvent& event : events) {
    jobs.emplace_back(
        [this, &event](WriteContext& c) { return ops::IngestEvent(c, event, clock_.Now()); });
  }
  return writer_->RunAll<Result<IngestedEvent>>(std::move(jobs));
}

Result<Event> SqliteStore::GetEvent(const std::string& id, OrgScope scope) {
  return Read([&](Connection& db) { return ops::GetEvent(db, id, scope); });
}

Result<std::vector<Delivery>> SqliteStore::DeliveriesOfEvent(const std::string& event_id,
                                                             OrgScope scope) {
  return Read([&](Connection& db) { return ops::DeliveriesOfEvent(db, event_id, scope); });
}

// ---- Deliveries and attempts ----

Result<Delivery> SqliteStore::GetDelivery(const std::string& id, OrgScope scope) {
  return Read([&](Connection& db) { return ops::GetDelivery(db, id, scope); });
}

Result<Page<Delivery>> SqliteStore::ListDeliveries(const DeliveryFilter& filter, OrgScope scope) {
  return Read([&](Connection& db) { return ops::ListDeliveries(db, filter, scope); });
}

Result<std::vector<Attempt>> SqliteStore::ListAttempts(const std::string& delivery_id,
                                                       OrgScope scope) {
  return Read([&](Connection& db) { return ops::ListAttempts(db, delivery_id, scope); });
}

Result<std::vector<DeliveryJob>> SqliteStore::ClaimDue(UnixMillis now, int limit,
                                                       UnixMillis lease_until) {
  return Write<Result<std::vector<DeliveryJob>>>([&](WriteContext& c) {
    return ops::ClaimDue(c.db(), now, limit, lease_until, clock_.Now());
  });
}

Result<std::optional<UnixMillis>> SqliteStore::NextDueAt() {
  return Read([](Connection& db) { return ops::NextDueAt(db); });
}

Result<std::int64_t> SqliteStore::ReleaseExpiredLeases(UnixMillis now) {
  return Write<Result<std::int64_t>>(
      [&](WriteContext& c) { return ops::ReleaseExpiredLeases(c, now, clock_.Now()); });
}

Status SqliteStore::RecordAttempts(const std::vector<AttemptOutcome>& outcomes) {
  return Write<Status>(
      [&](WriteContext& c) { return ops::RecordAttempts(c, outcomes, clock_.Now()); });
}

Result<Delivery> SqliteStore::RetryDelivery(const std::string& id, OrgScope scope) {
  return Write<Result<Delivery>>(
      [&](WriteContext& c) { return ops::RetryDelivery(c, id, scope, clock_.Now()); });
}

Result<std::int64_t> SqliteStore::RecoverConfig(std::int64_t config_id, UnixMillis since,
                                                OrgScope scope) {
  return Write<Result<std::int64_t>>([&](WriteContext& c) {
    return ops::RecoverConfig(c, config_id, since, scope, clock_.Now());
  });
}

Result<DeliveryCounts> SqliteStore::CountDeliveries() {
  return Read([](Connection& db) { return ops::CountDeliveries(db); });
}

}  // namespace webhookd::sqlite
