#include "store/postgres/migrations.hpp"

#include <string>

#include "store/postgres/statements.hpp"

namespace webhookd::postgres {
namespace {

Result<int> ApplyPending(Connection& db, std::span<const Migration> migrations,
                         const Clock& clock) {
  if (Result<Rows> lock = db.Run(kLockMigrations); !lock.ok()) return lock.error();
  if (Status s = db.Exec(kCreateMigrationsTable); !s.ok()) return s.error();
  Result<Rows> current = db.Run(kMaxMigrationVersion);
  if (!current.ok()) return current.error();
  const std::int64_t version = current->Int(0, 0);
  const int newest = migrations.empty() ? 0 : migrations.back().version;
  if (version > newest) {
    return Error::Invalid("the database schema is version " + std::to_string(version) +
                          ", newer than this webhookd supports (" + std::to_string(newest) +
                          "); use a newer webhookd");
  }
  int applied = 0;
  for (const Migration& m : migrations) {
    if (m.version <= version) continue;
    if (Status s = db.Exec(m.sql); !s.ok()) {
      return Error{s.error().kind,
                   "migration " + std::to_string(m.version) + " failed: " + s.error().message,
                   {}};
    }
    Result<Rows> insert =
        db.Run(kInsertMigration, Params().Int(m.version).Text(m.name).Int(clock.Now()));
    if (!insert.ok()) return insert.error();
    ++applied;
  }
  return applied;
}

}  // namespace

Result<int> ApplyMigrations(Connection& db, std::span<const Migration> migrations,
                            const Clock& clock) {
  for (std::size_t i = 1; i < migrations.size(); ++i) {
    if (migrations[i].version <= migrations[i - 1].version) {
      return Error::Internal("migration versions are not increasing");
    }
  }
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
