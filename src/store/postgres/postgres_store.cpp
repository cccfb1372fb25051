#include "store/postgres/postgres_store.hpp"

#include <unistd.h>

#include <random>
#include <string>
#include <utility>

#include "store/postgres/migrations.hpp"
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
  std::vector<std::unique_ptr<WriterSession>> sessions;
  for (std::unique_ptr<Connection>& db : *write_dbs) {
    sessions.push_back(std::make_unique<WriterSession>(std::move(db), notify_payload, node_id));
  }
  store->StartWriter(std::move(sessions));
  if (Status s = store->Ping(); !s.ok()) return s.error();
  return store;
}

// A connection that broke or was left inside a transaction is closed instead of reused.
PostgresStore::PostgresStore(const std::string& conninfo, const Clock& clock, std::string node_id)
    : GroupCommitStore(
          clock, [conninfo] { return Connection::Open(conninfo); },
          [](Connection& db) { return db.Healthy() && !db.InTransaction(); }),
      node_id_(std::move(node_id)) {}

Result<std::vector<DeliveryJob>> PostgresStore::ClaimDue(
    UnixMillis now, int limit, UnixMillis lease_until,
    const std::vector<std::int64_t>& skip_config_ids) {
  return Write<Result<std::vector<DeliveryJob>>>([&](WriteContext& c) {
    return Operations::ClaimDue(c.db(), now, limit, lease_until, skip_config_ids, node_id_, Now());
  });
}

Result<std::int64_t> PostgresStore::ReleaseOwnLeases() {
  return Write<Result<std::int64_t>>(
      [&](WriteContext& c) { return Operations::ReleaseLeasesOf(c, node_id_, Now()); });
}

Status PostgresStore::RecordAttempts(const std::vector<AttemptOutcome>& outcomes) {
  return RecordHandingOffTurns([&](WriteContext& c, store_common::NextTurns& turns) {
    return Operations::RecordAttempts(c, outcomes, Now(), node_id_, turns);
  });
}

Result<IngestedEvent> PostgresStore::IngestOne(Context& context, const NewEvent& event,
                                               DeliveryHandoff* handoff,
                                               store_common::DeliveryBudget& budget) {
  return Operations::IngestEvent(context, event, handoff, budget, node_id_, fan_outs_, Now());
}

}  // namespace webhookd::postgres
