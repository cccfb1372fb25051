#include "store/sqlite/sqlite_store.hpp"

#include <limits>
#include <string>
#include <utility>

#include "store/sqlite/migrations.hpp"
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

Result<std::unique_ptr<Connection>> OpenWriteConnection(const std::string& path, const Clock& clock,
                                                        Connection::WalWrites wal_writes) {
  Result<std::unique_ptr<Connection>> db = Connection::Open(path, /*create=*/true, wal_writes);
  if (!db.ok()) return db.error();
  // Before anything is written: buffered WAL writes rely on each commit's sync.
  if (Status s = (*db)->Exec(kWriterSynchronous); !s.ok()) return s.error();
  if (Status s = EnableWal(**db); !s.ok()) return s.error();
  // Migrations first: they leave foreign keys off, which the writer's pragmas turn on.
  if (Status s = ApplyMigrations(**db, EmbeddedMigrations(), clock); !s.ok()) return s.error();
  if (Status s = (*db)->Exec(kWriterPragmas); !s.ok()) return s.error();
  return db;
}

Result<std::unique_ptr<Connection>> OpenReadConnection(const std::string& path) {
  Result<std::unique_ptr<Connection>> db = Connection::Open(path, /*create=*/false);
  if (!db.ok()) return db.error();
  if (Status s = (*db)->Exec(kReaderPragmas); !s.ok()) return s.error();
  return db;
}

// A connection left inside a transaction by a failed read would pin an old snapshot.
bool ReusableReader(Connection& db) { return db.InAutocommit(); }

}  // namespace

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path, const Clock& clock,
                                                       Connection::WalWrites wal_writes) {
  Result<std::unique_ptr<Connection>> write_db = OpenWriteConnection(path, clock, wal_writes);
  if (!write_db.ok()) return write_db.error();
  auto store = std::unique_ptr<SqliteStore>(new SqliteStore(path, clock));
  if (Status s = store->fan_outs_.Watch(**write_db); !s.ok()) return s.error();
  std::vector<std::unique_ptr<WriterSession>> sessions;
  sessions.push_back(std::make_unique<WriterSession>(std::move(*write_db), store->fan_outs_));
  store->StartWriter(std::move(sessions));
  // Opens the first read connection now, so that a database readers cannot open fails here.
  if (Status s = store->Ping(); !s.ok()) return s.error();
  return store;
}

SqliteStore::SqliteStore(const std::string& path, const Clock& clock)
    : GroupCommitStore(
          clock, [path] { return OpenReadConnection(path); }, ReusableReader) {}

Result<std::vector<DeliveryJob>> SqliteStore::ClaimDue(
    UnixMillis now, int limit, UnixMillis lease_until,
    const std::vector<std::int64_t>& skip_config_ids) {
  return Write<Result<std::vector<DeliveryJob>>>([&](WriteContext& c) {
    return Operations::ClaimDue(c.db(), now, limit, lease_until, skip_config_ids, Now());
  });
}

// One node: every lease is this node's.
Result<std::int64_t> SqliteStore::ReleaseOwnLeases() {
  return ReleaseExpiredLeases(std::numeric_limits<UnixMillis>::max());
}

Status SqliteStore::RecordAttempts(const std::vector<AttemptOutcome>& outcomes) {
  return RecordHandingOffTurns([&](WriteContext& c, store_common::NextTurns& turns) {
    return Operations::RecordAttempts(c, outcomes, Now(), turns, &fan_outs_);
  });
}

Result<IngestedEvent> SqliteStore::IngestOne(Context& context, const NewEvent& event,
                                             DeliveryHandoff* handoff,
                                             store_common::DeliveryBudget& budget) {
  return Operations::IngestEvent(context, event, handoff, budget, Now(), fan_outs_);
}

}  // namespace webhookd::sqlite
