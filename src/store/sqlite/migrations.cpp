#include "store/sqlite/migrations.hpp"

#include <string_view>
#include <vector>

#include "store/sqlite/statements.hpp"

namespace webhookd::sqlite {

// Generated from sqlite/migrations/*.sql (see store/CMakeLists.txt).
extern const std::span<const std::string_view> kMigrationNames;
extern const std::span<const std::string_view> kMigrationTexts;

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
  if (Status s = store_common::CheckNotNewer(*current, migrations); !s.ok()) return s;
  for (const Migration& m : migrations) {
    if (m.version <= *current) continue;
    if (Status s = db.Exec(m.sql); !s.ok()) return store_common::MigrationFailed(m, s.error());
    Result<Query> insert = db.Prepare(kInsertMigration);
    if (!insert.ok()) return insert.error();
    insert->BindInt(1, m.version).BindText(2, m.name).BindInt(3, clock.Now());
    if (Status s = insert->Run(); !s.ok()) return s;
  }
  return Status::Ok();
}

}  // namespace

std::span<const Migration> EmbeddedMigrations() {
  static const std::vector<Migration> migrations =
      store_common::MigrationsFromFiles(kMigrationNames, kMigrationTexts);
  return migrations;
}

Status ApplyMigrations(Connection& db, std::span<const Migration> migrations, const Clock& clock) {
  if (Status s = store_common::CheckMigrationOrder(migrations); !s.ok()) return s;
  if (Status s = db.Run(kBeginImmediate); !s.ok()) return s;
  if (Status s = ApplyPending(db, migrations, clock); !s.ok()) {
    (void)db.Run(kRollback);
    return s;
  }
  return db.Run(kCommit);
}

}  // namespace webhookd::sqlite
