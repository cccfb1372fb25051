// Versioned schema migrations: postgres/migrations/NNNN_name.sql, embedded at build time and
// applied in order in one transaction under an advisory lock, so that several nodes starting
// at once apply each migration exactly once; recorded in schema_migrations.
#pragma once

#include <span>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "store/common/migration.hpp"
#include "store/postgres/connection.hpp"

namespace webhookd::postgres {

using Migration = store_common::Migration;

// Every embedded migration, by increasing version.
std::span<const Migration> EmbeddedMigrations();

// Applies the migrations in `migrations` that the database has not seen yet, all in one
// transaction (a failure leaves the database as it was). Refuses, with kInvalid, a database
// whose schema is newer than the newest migration known here. Returns how many it applied.
Result<int> ApplyMigrations(Connection& db, std::span<const Migration> migrations,
                            const Clock& clock);

}  // namespace webhookd::postgres
