// Versioned schema migrations, the part both backends share: each backend's
// migrations/NNNN_name.sql are embedded at build time (cmake/embed_files.cmake checks the names)
// and applied in version order, each version once, recorded in schema_migrations.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace webhookd::store_common {

struct Migration {
  int version;
  std::string_view name;
  std::string_view sql;
};

// The migrations embedded as `names` (NNNN_name.sql) and `texts`, in file order. The views
// point into the embedded literals.
std::vector<Migration> MigrationsFromFiles(std::span<const std::string_view> names,
                                           std::span<const std::string_view> texts);

// Error::Internal unless versions start at 1 or above and strictly increase.
Status CheckMigrationOrder(std::span<const Migration> migrations);

// Error::Invalid for a database whose schema `current` is newer than anything known here.
Status CheckNotNewer(std::int64_t current, std::span<const Migration> migrations);

// Says in the log that an existing database (schema `current` > 0) is being upgraded, and to
// what, before the migrations run: one of them may copy a large table (SQLite's migration 9),
// and a start that says nothing for minutes looks like a hang. Nothing for a new database.
void LogUpgrade(std::int64_t current, std::span<const Migration> migrations);

// `failure` of migration `m`, saying which one it was.
Error MigrationFailed(const Migration& m, const Error& failure);

}  // namespace webhookd::store_common
