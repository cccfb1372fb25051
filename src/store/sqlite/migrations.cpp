#include "store/sqlite/migrations.hpp"

#include <string>

#include "store/sqlite/statements.hpp"

namespace webhookd::sqlite {
namespace {

Result<std::int64_t> CurrentVersion(Connection& db) {
  Result<Query> query = db.Prepare(kMaxMigrationVersion);
  if (!query.ok()) return query.error();
  Result<bool> row = query->Step();
  if (!row.ok()) return row.error();
  return query->Int(0);
}

Status ApplyPending(Connection& db, std::span<const Migration> migrations, const Clock& clock) {
  if (Status s = db.Exec(kCreateMigrationsTable); !s.ok()) return s;
  Result<std::int64_t> current = CurrentVersion(db);
  if (!current.ok()) return current.error();
  const int newest = migrations.empty() ? 0 : migrations.back().version;
  if (*current > newest) {
    return Error::Invalid("the database schema is version " + std::to_string(*current) +
                          ", newer than this webhookd supports (" + std::to_string(newest) +
                          "); use a newer webhookd");
  }
  for (const Migration& m : migrations) {
    if (m.version <= *current) continue;
    if (Status s = db.Exec(m.sql); !s.ok()) {
      return Error{s.error().kind,
                   "migration " + std::to_string(m.version) + " failed: " + s.error().message,
                   {}};
    }
    Result<Query> insert = db.Prepare(kInsertMigration);
    if (!insert.ok()) return insert.error();
    insert->BindInt(1, m.version).BindText(2, m.name).BindInt(3, clock.Now());
    if (Status s = insert->Run(); !s.ok()) return s;
  }
  return Status::Ok();
}

}  // namespace

Status ApplyMigrations(Connection& db, std::span<const Migration> migrations, const Clock& clock) {
  for (std::size_t i = 1; i < migrations.size(); ++i) {
    if (migrations[i].version <= migrations[i - 1].version) {
      return Error::Internal("migration versions are not increasing");
    }
  }
  if (Status s = db.Run(kBeginImmediate); !s.ok()) return s;
  if (Status s = ApplyPending(db, migrations, clock); !s.ok()) {
    (void)db.Run(kRollback);
    return s;
  }
  return db.Run(kCommit);
}

}  // namespace webhookd::sqlite
