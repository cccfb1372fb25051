#include "store/postgres/migrations.hpp"

#include <string_view>
#include <vector>

#include "store/postgres/statements.hpp"

namespace webhookd::postgres {

// Generated from postgres/migrations/*.sql (see store/CMakeLists.txt).
extern const std::span<const std::string_view> kMigrationNames;
extern const std::span<const std::string_view> kMigrationTexts;

namespace {

Result<int> ApplyPending(Connection& db, std::span<const Migration> migrations,
                         const Clock& clock) {
  if (Result<Rows> lock = db.Run(kLockMigrations); !lock.ok()) return lock.error();
  if (Status s = db.Exec(kCreateMigrationsTable); !s.ok()) return s.error();
  Result<Rows> current = db.Run(kMaxMigrationVersion);
  if (!current.ok()) return current.error();
  const std::int64_t version = current->Int(0, 0);
  if (Status s = store_common::CheckNotNewer(version, migrations); !s.ok()) return s.error();
  store_common::LogUpgrade(version, migrations);
  int applied = 0;
  for (const Migration& m : migrations) {
    if (m.version <= version) continue;
    if (Status s = db.Exec(m.sql); !s.ok()) return store_common::MigrationFailed(m, s.error());
    Result<Rows> insert =
        db.Run(kInsertMigration, Params().Int(m.version).Text(m.name).Int(clock.Now()));
    if (!insert.ok()) return insert.error();
    ++applied;
  }
  return applied;
}

}  // namespace

std::span<const Migration> EmbeddedMigrations() {
  static const std::vector<Migration> migrations =
      store_common::MigrationsFromFiles(kMigrationNames, kMigrationTexts);
  return migrations;
}

Result<int> ApplyMigrations(Connection& db, std::span<const Migration> migrations,
                            const Clock& clock) {
  if (Status s = store_common::CheckMigrationOrder(migrations); !s.ok()) return s.error();
  if (Status s = db.Exec(kBegin); !s.ok()) return s.error();
  Result<int> applied = ApplyPending(db, migrations, clock);
  if (!applied.ok()) {
    (void)db.Exec(kRollback);
    return applied.error();
  }
  if (Status s = db.Exec(kCommit); !s.ok()) return s.error();
  return applied;
}

}  // namespace webhookd::postgres
