// Versioned schema migrations: sqlite/migrations/NNNN_name.sql, embedded at build time and
// applied in order at open, in one BEGIN IMMEDIATE transaction (which also keeps a second
// process out), recorded in schema_migrations.
#pragma once

#include <span>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "store/common/migration.hpp"
#include "store/sqlite/connection.hpp"

namespace webhookd::sqlite {

using Migration = store_common::Migration;

// Every embedded migration, by increasing version.
std::span<const Migration> EmbeddedMigrations();

// Applies the migrations in `migrations` that `db` has not seen yet, all in one transaction
// (so a failure leaves the database as it was). Refuses, with kInvalid, a database whose
// schema is newer than the newest migration known here. Leaves foreign keys off: the caller's
// connection pragmas say whether it wants them.
Status ApplyMigrations(Connection& db, std::span<const Migration> migrations, const Clock& clock);

}  // namespace webhookd::sqlite
