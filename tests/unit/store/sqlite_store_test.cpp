// What only the SQLite backend has: the URL, WAL, migrations and their bookkeeping.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <span>
#include <string>

#include "core/clock.hpp"
#include "store/open_store.hpp"
#include "store/sqlite/migrations.hpp"
#include "store_test_util.hpp"

namespace webhookd {
namespace {

using test::Must;
using test::TempDir;

// Runs one query on the database file directly and returns the first column of its first
// row as text ("" if none).
std::string QueryText(const std::filesystem::path& file, const std::string& sql) {
  sqlite3* db = nullptr;
  std::string out;
  if (sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_text(stmt, 0) != nullptr) {
      out = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    }
    sqlite3_finalize(stmt);
  }
  sqlite3_close(db);
  return out;
}

class SqliteStoreTest : public ::testing::Test {
 protected:
  std::filesystem::path file() const { return dir_.path() / "webhookd.db"; }
  std::string url() const { return "sqlite:" + file().string(); }

  TempDir dir_;
  ManualClock clock_;
};

TEST_F(SqliteStoreTest, OpenCreatesTheFileInWalMode) {
  ASSERT_FALSE(std::filesystem::exists(file()));
  auto store = Must(OpenStore(url(), clock_));
  EXPECT_TRUE(std::filesystem::exists(file()));
  EXPECT_EQ(QueryText(file(), "PRAGMA journal_mode"), "wal");
  EXPECT_TRUE(store->Ping().ok());
}

TEST_F(SqliteStoreTest, MigrationsAreRecordedAndNotRunAgainOnReopen) {
  const int newest = sqlite::EmbeddedMigrations().back().version;
  const std::string first_applied_at = std::to_string(clock_.Now());
  Must(OpenStore(url(), clock_)).reset();
  EXPECT_EQ(QueryText(file(), "SELECT COUNT(*) FROM schema_migrations"),
            std::to_string(sqlite::EmbeddedMigrations().size()));
  EXPECT_EQ(QueryText(file(), "SELECT MAX(version) FROM schema_migrations"),
            std::to_string(newest));
  EXPECT_EQ(QueryText(file(), "SELECT name FROM schema_migrations WHERE version = 1"), "init");

  clock_.Advance(60'000);
  Must(OpenStore(url(), clock_)).reset();
  EXPECT_EQ(QueryText(file(), "SELECT COUNT(*) FROM schema_migrations"),
            std::to_string(sqlite::EmbeddedMigrations().size()));
  EXPECT_EQ(QueryText(file(), "SELECT MAX(applied_at) FROM schema_migrations"), first_applied_at);
}

TEST_F(SqliteStoreTest, ANewerSchemaIsRefused) {
  Must(OpenStore(url(), clock_)).reset();
  QueryText(file(),
            "INSERT INTO schema_migrations (version, name, applied_at) "
            "VALUES (9999, 'future', 0)");
  Result<std::unique_ptr<Store>> store = OpenStore(url(), clock_);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().kind, ErrorKind::kInvalid);
  EXPECT_NE(store.error().message.find("9999"), std::string::npos) << store.error().message;
  EXPECT_NE(store.error().message.find("newer"), std::string::npos) << store.error().message;
}

TEST_F(SqliteStoreTest, MigrationsApplyOnlyWhatIsNew) {
  static constexpr sqlite::Migration kFirst[] = {
      {1, "one", "CREATE TABLE one (x INTEGER);"},
  };
  static constexpr sqlite::Migration kBoth[] = {
      {1, "one", "CREATE TABLE one (x INTEGER);"},
      {2, "two", "CREATE TABLE two (y INTEGER);"},
  };
  static constexpr sqlite::Migration kBroken[] = {
      {1, "one", "CREATE TABLE one (x INTEGER);"},
      {2, "two", "CREATE TABLE two (y INTEGER);"},
      {3, "three", "CREATE TABLE three (z INTEGER); THIS IS NOT SQL;"},
  };
  auto db = Must(sqlite::Connection::Open(file().string(), /*create=*/true));
  ASSERT_TRUE(sqlite::ApplyMigrations(*db, kFirst, clock_).ok());
  // Version 1 already ran: re-running its CREATE TABLE would fail.
  ASSERT_TRUE(sqlite::ApplyMigrations(*db, kBoth, clock_).ok());
  EXPECT_EQ(QueryText(file(), "SELECT MAX(version) FROM schema_migrations"), "2");

  const Status broken = sqlite::ApplyMigrations(*db, kBroken, clock_);
  ASSERT_FALSE(broken.ok());
  EXPECT_NE(broken.error().message.find("migration 3"), std::string::npos);
  // The failed migration left nothing behind.
  EXPECT_EQ(QueryText(file(), "SELECT MAX(version) FROM schema_migrations"), "2");
  EXPECT_EQ(QueryText(file(), "SELECT COUNT(*) FROM sqlite_master WHERE name = 'three'"), "0");
}

// A database made by the schema before per-configuration rate limits and ordering (migrations
// 1 and 2, as the previous release left it) opens, upgrades in place and keeps its rows, which
// behave as before: unlimited and unordered.
TEST_F(SqliteStoreTest, ADatabaseOfThePreviousSchemaUpgradesInPlace) {
  const std::span<const sqlite::Migration> all = sqlite::EmbeddedMigrations();
  ASSERT_GE(all.size(), 3u);
  ASSERT_EQ(all[2].name, "config_rate_limit_ordering");
  {
    auto db = Must(sqlite::Connection::Open(file().string(), /*create=*/true));
    ASSERT_TRUE(sqlite::ApplyMigrations(*db, all.first(2), clock_).ok());
  }
  QueryText(file(),
            "INSERT INTO webhook_configs (organization_id, name, url, event_type_id, "
            "attributes_json, headers_json, active, send_organization_code, version, secret, "
            "previous_secret, previous_secret_expires_at, is_deleted, created_at, updated_at, "
            "disabled_reason, timeout_ms, retry_schedule_json, failing_since) VALUES (1, 'old', "
            "'https://old.example/hook', 1, '{}', '{}', 1, 0, 1, "
            "'whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0', '', 0, 0, 5, 5, '', 0, '', 0)");
  ASSERT_EQ(QueryText(file(), "SELECT COUNT(*) FROM webhook_configs"), "1");

  auto store = Must(OpenStore(url(), clock_));
  EXPECT_EQ(QueryText(file(), "SELECT MAX(version) FROM schema_migrations"),
            std::to_string(all.back().version));
  const WebhookConfig old = Must(store->GetConfig(1, std::nullopt));
  EXPECT_EQ(old.name, "old");
  EXPECT_EQ(old.rate_limit, 0);
  EXPECT_EQ(old.ordering, DeliveryOrdering::kNone);
  NewEvent event{"evt_01M8QSA1PN7CGZE2B5F17KHSVA", 1, 1, "{}", ""};
  std::vector<Result<IngestedEvent>> ingested = store->IngestEvents({event});
  ASSERT_EQ(ingested.size(), 1u);
  ASSERT_TRUE(ingested[0].ok()) << ingested[0].error().message;
  ASSERT_EQ(ingested[0]->deliveries.size(), 1u);
  EXPECT_EQ(Must(store->ClaimDue(clock_.Now(), 10, clock_.Now() + 1000, {})).size(), 1u);
}

TEST(OpenStoreTest, RefusesUrlsItCannotServe) {
  ManualClock clock;
  auto error_of = [&](std::string_view url) {
    Result<std::unique_ptr<Store>> store = OpenStore(url, clock);
    EXPECT_FALSE(store.ok()) << url;
    return store.ok() ? Error{} : store.error();
  };
  // Nothing listens on port 1: the PostgreSQL store is tried and reports it, password unsaid.
  const Error postgres = error_of("postgres://user:hunter2@127.0.0.1:1/webhookd");
  EXPECT_EQ(postgres.kind, ErrorKind::kUnavailable);
  EXPECT_NE(postgres.message.find("PostgreSQL"), std::string::npos) << postgres.message;
  EXPECT_EQ(postgres.message.find("hunter2"), std::string::npos);
  EXPECT_NE(error_of("postgresql://127.0.0.1:1/x").message.find("PostgreSQL"), std::string::npos);

  const Error mysql = error_of("mysql://user:secret@db/x");
  EXPECT_EQ(mysql.kind, ErrorKind::kInvalid);
  EXPECT_NE(mysql.message.find("'mysql'"), std::string::npos) << mysql.message;
  EXPECT_NE(mysql.message.find("sqlite:PATH"), std::string::npos) << mysql.message;
  EXPECT_EQ(mysql.message.find("secret"), std::string::npos);

  EXPECT_NE(error_of("webhookd.db").message.find("sqlite:PATH"), std::string::npos);
  EXPECT_EQ(error_of("sqlite:").kind, ErrorKind::kInvalid);
  EXPECT_EQ(error_of("sqlite::memory:").kind, ErrorKind::kInvalid);
  const Error no_dir = error_of("sqlite:/nonexistent-webhookd-dir/x/webhookd.db");
  EXPECT_EQ(no_dir.kind, ErrorKind::kInvalid);
  EXPECT_NE(no_dir.message.find("does not exist"), std::string::npos) << no_dir.message;
}

}  // namespace
}  // namespace webhookd
