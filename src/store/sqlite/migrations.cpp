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

// Returns how many migrations it applied.
Result<int> ApplyPending(Connection& db, std::span<const Migration> migrations,
                         const Clock& clock) {
  if (Status s = db.Exec(kCreateMigrationsTable); !s.ok()) return s.error();
  Result<std::int64_t> current = CurrentVersion(db);
  if (!current.ok()) return current.error();
  if (Status s = store_common::CheckNotNewer(*current, migrations); !s.ok()) return s.error();
  store_common::LogUpgrade(*current, migrations);
  int applied = 0;
  for (const Migration& m : migrations) {
    if (m.version <= *current) continue;
    if (Status s = db.Exec(m.sql); !s.ok()) return store_common::MigrationFailed(m, s.error());
    Result<Query> insert = db.Prepare(kInsertMigration);
    if (!insert.ok()) return insert.error();
    insert->BindInt(1, m.version).BindText(2, m.name).BindInt(3, clock.Now());
    if (Status s = insert->Run(); !s.ok()) return s.error();
    ++applied;
  }
  return applied;
}

// The first row that references a missing one, if any: a migration that copied a table
// without all of its rows.
Status CheckForeignKeys(Connection& db) {
  Result<Query> check = db.Prepare(kForeignKeyCheck);
  if (!check.ok()) return check.error();
  Result<bool> row = check->Step();
  if (!row.ok()) return row.error();
  if (!*row) return Status::Ok();
  return Error::Internal("the migrations left a row of " + check->Text(0) +
                         " that references a missing row of " + check->Text(2));
}

}  // namespace

std::span<const Migration> EmbeddedMigrations() {
  static const std::vector<Migration> migrations =
      store_common::MigrationsFromFiles(kMigrationNames, kMigrationTexts);
  return migrations;
}

// A migration may rebuild a table that others reference (SQLite's procedure for the changes
// ALTER TABLE cannot make: https://sqlite.org/lang_altertable.html#otheralter). Dropping the
// old table would fail on the references, so foreign keys are off while the migrations run
// (the pragma does nothing inside a transaction) and checked as a whole before the commit.
Status ApplyMigrations(Connection& db, std::span<const Migration> migrations, const Clock& clock) {
  if (Status s = store_common::CheckMigrationOrder(migrations); !s.ok()) return s;
  if (Status s = db.Exec(kForeignKeysOff); !s.ok()) return s;
  if (Status s = db.Run(kBeginImmediate); !s.ok()) return s;
  Result<int> applied = ApplyPending(db, migrations, clock);
  Status status = applied.ok() ? Status::Ok() : Status(applied.error());
  // Checked only after a change: the check reads every reference, which takes seconds on a
  // large database.
  if (status.ok() && *applied > 0) status = CheckForeignKeys(db);
  if (!status.ok()) {
    (void)db.Run(kRollback);
    return status;
  }
  return db.Run(kCommit);
}

}  // namespace webhookd::sqlite
