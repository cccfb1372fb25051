// What only the SQLite backend has: the URL, WAL, migrations and their bookkeeping.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <array>
#include <filesystem>
#include <functional>
#include <iostream>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/delivery_status.hpp"
#include "core/ids.hpp"
#include "store/open_store.hpp"
#include "store/sqlite/fan_out_memo.hpp"
#include "store/sqlite/migrations.hpp"
#include "store/sqlite/retention_selection.hpp"
#include "store/sqlite/statements.hpp"
#include "store/sqlite/writer.hpp"
#include "store_test_util.hpp"

namespace webhookd {
namespace {

// An event of type 1 for organization 1.
NewEvent EventForOrgOne(std::string id, std::string payload_json,
                        std::string idempotency_key = {}) {
  NewEvent event;
  event.id = std::move(id);
  event.organization_id = 1;
  event.event_type_id = 1;
  event.payload_json = std::move(payload_json);
  event.idempotency_key = std::move(idempotency_key);
  return event;
}

using test::Must;
using test::QueryText;
using test::TempDir;

// Runs every statement of `sql` on the database file directly; false (and a test failure) on
// an error.
bool ExecAll(const std::filesystem::path& file, const std::string& sql) {
  sqlite3* db = nullptr;
  char* error = nullptr;
  bool ok = sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK &&
            sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error) == SQLITE_OK;
  EXPECT_TRUE(ok) << (error != nullptr ? error : sqlite3_errmsg(db));
  sqlite3_free(error);
  sqlite3_close(db);
  return ok;
}

// The detail lines of SQLite's plan for `sql` (every parameter NULL).
std::vector<std::string> QueryPlan(const std::filesystem::path& file, std::string_view sql) {
  sqlite3* db = nullptr;
  std::vector<std::string> plan;
  const std::string explain = "EXPLAIN QUERY PLAN " + std::string(sql);
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK &&
      sqlite3_prepare_v2(db, explain.c_str(), -1, &stmt, nullptr) == SQLITE_OK) {
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      plan.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 3)));
    }
  }
  EXPECT_FALSE(plan.empty()) << sqlite3_errmsg(db);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return plan;
}

// SQLite's plan for `sql`, one detail per line.
std::string PlanText(const std::filesystem::path& file, std::string_view sql) {
  std::string text;
  for (const std::string& line : QueryPlan(file, sql)) text += line + "\n";
  return text;
}

// A 200 for delivery `id` of configuration 1, for the upgrade tests.
AttemptOutcome SucceededOutcome(const std::string& id, UnixMillis at) {
  AttemptOutcome outcome;
  outcome.attempt.delivery_id = id;
  outcome.attempt.attempted_at = at;
  outcome.attempt.status_code = 200;
  outcome.new_status = DeliveryStatus::kSucceeded;
  outcome.config_id = 1;
  return outcome;
}

// Configuration 1 as the schema of migrations 3 to 10 stores it, for the upgrade tests.
const std::string kFrontDeskConfiguration = R"sql(
    INSERT INTO webhook_configs (organization_id, name, url, event_type_id, attributes_json,
      headers_json, active, send_organization_code, version, secret, previous_secret,
      previous_secret_expires_at, is_deleted, created_at, updated_at, disabled_reason,
      timeout_ms, retry_schedule_json, failing_since, rate_limit, ordering)
    VALUES (1, 'front desk', 'https://old.example/hook', 1, '{}', '{}', 1, 0, 1,
      'whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0', '', 0, 0, 5, 6, '', 0, '', 0, 0, 'none');
)sql";

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
  NewEvent event = EventForOrgOne("evt_01M8QSA1PN7CGZE2B5F17KHSVA", "{}");
  std::vector<Result<IngestedEvent>> ingested = store->IngestEvents({event});
  ASSERT_EQ(ingested.size(), 1u);
  ASSERT_TRUE(ingested[0].ok()) << ingested[0].error().message;
  ASSERT_EQ(ingested[0]->deliveries.size(), 1u);
  EXPECT_EQ(Must(store->ClaimDue(clock_.Now(), 10, clock_.Now() + 1000, {})).size(), 1u);
}

// A database of the schema before the lean hot path (migrations 1 to 3), with rows in every
// table and deliveries in every state, opens, upgrades in place (attempts lose AUTOINCREMENT,
// indexes change) and reads back every row as it was; then it goes on working.
TEST_F(SqliteStoreTest, ADatabaseOfTheSchemaBeforeTheLeanHotPathUpgradesInPlace) {
  const std::span<const sqlite::Migration> all = sqlite::EmbeddedMigrations();
  ASSERT_GE(all.size(), 4u);
  ASSERT_EQ(all[3].name, "lean_hot_path");
  clock_.Set(1'000);  // the rows below were made in the first second
  {
    auto db = Must(sqlite::Connection::Open(file().string(), /*create=*/true));
    ASSERT_TRUE(sqlite::ApplyMigrations(*db, all.first(3), clock_).ok());
  }
  ASSERT_TRUE(ExecAll(file(), R"sql(
    INSERT INTO webhook_configs (organization_id, name, url, event_type_id, attributes_json,
      headers_json, active, send_organization_code, version, secret, previous_secret,
      previous_secret_expires_at, is_deleted, created_at, updated_at, disabled_reason,
      timeout_ms, retry_schedule_json, failing_since, rate_limit, ordering)
    VALUES (1, 'front desk', 'https://old.example/hook', 1, '{"apiKey":"k"}', '{"x-a":"1"}', 1,
      0, 3, 'whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0', '', 0, 0, 5, 6, '', 0, '', 0, 7,
      'fifo');
    INSERT INTO api_keys (organization_id, name, hash, prefix, created_at, revoked_at)
      VALUES (NULL, 'admin', 'hash-admin', 'whk_adm', 5, 0);
    INSERT INTO events (id, organization_id, event_type_id, payload, idempotency_key, created_at)
      VALUES ('evt_1', 1, 1, '{"patientId":"p-1"}', 'key-1', 10),
             ('evt_2', 1, 1, '{"patientId":"p-2"}', NULL, 11);
    INSERT INTO deliveries (id, event_id, config_id, organization_id, status, attempt_count,
      next_attempt_at, last_status_code, last_error, manual_pending, lease_until, created_at,
      updated_at)
    VALUES ('dlv_1', 'evt_1', 1, 1, 'succeeded', 2, 10, 200, '', 0, 0, 10, 20),
           ('dlv_2', 'evt_1', 1, 1, 'failed', 1, 10, 500, 'HTTP 500', 0, 0, 10, 21),
           ('dlv_3', 'evt_2', 1, 1, 'pending', 0, 30, 0, '', 1, 0, 11, 11),
           ('dlv_4', 'evt_2', 1, 1, 'delivering', 0, 11, 0, '', 0, 40, 11, 12);
    INSERT INTO attempts (delivery_id, attempted_at, duration_ms, request_headers_json,
      status_code, response_headers_json, response_body, error, manual)
    VALUES ('dlv_1', 12, 5, '{"webhook-id":"dlv_1"}', 503, '{}', X'00FF', 'HTTP 503', 0),
           ('dlv_2', 13, 6, '{}', 500, '{}', 'oops', 'HTTP 500', 0),
           ('dlv_1', 14, 7, '{}', 200, '{"content-type":"text/plain"}', 'ok', '', 1);
    DELETE FROM attempts WHERE id = 2;  -- AUTOINCREMENT never reuses 2; the upgrade keeps 1 and 3
  )sql"));

  auto store = Must(OpenStore(url(), clock_));
  EXPECT_EQ(QueryText(file(), "SELECT MAX(version) FROM schema_migrations"),
            std::to_string(all.back().version));
  EXPECT_EQ(QueryText(file(), "SELECT COUNT(*) FROM sqlite_sequence WHERE name = 'attempts'"), "0");

  const WebhookConfig config = Must(store->GetConfig(1, std::nullopt));
  EXPECT_EQ(config.name, "front desk");
  EXPECT_EQ(config.attributes_json, R"({"apiKey":"k"})");
  EXPECT_EQ(config.version, 3);
  EXPECT_EQ(config.rate_limit, 7);
  EXPECT_EQ(config.ordering, DeliveryOrdering::kFifo);
  EXPECT_EQ(Must(store->FindApiKeyByHash("hash-admin")).prefix, "whk_adm");
  EXPECT_EQ(Must(store->GetEvent("evt_1", std::nullopt)).idempotency_key, "key-1");
  EXPECT_EQ(Must(store->GetEvent("evt_2", std::nullopt)).payload_json, R"({"patientId":"p-2"})");
  const Delivery failed = Must(store->GetDelivery("dlv_2", std::nullopt));
  EXPECT_EQ(failed.status, DeliveryStatus::kFailed);
  EXPECT_EQ(failed.last_error, "HTTP 500");
  EXPECT_EQ(Must(store->GetDelivery("dlv_3", std::nullopt)).status, DeliveryStatus::kPending);
  const std::vector<Attempt> attempts = Must(store->ListAttempts("dlv_1", std::nullopt));
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(attempts[0].id, 1);
  EXPECT_EQ(attempts[0].response_body, std::string("\0\xFF", 2));
  EXPECT_EQ(attempts[0].request_headers_json, R"({"webhook-id":"dlv_1"})");
  EXPECT_EQ(attempts[1].id, 3);
  EXPECT_TRUE(attempts[1].manual);
  EXPECT_TRUE(Must(store->ListAttempts("dlv_2", std::nullopt)).empty());

  // It goes on working: the idempotency key still replays, the expired lease returns to
  // pending, the FIFO configuration sends its oldest open delivery first, a new attempt gets
  // a new id.
  clock_.Advance(1'000);
  NewEvent again = EventForOrgOne("evt_3", "{}", "key-1");
  std::vector<Result<IngestedEvent>> replayed = store->IngestEvents({again});
  ASSERT_TRUE(replayed[0].ok()) << replayed[0].error().message;
  EXPECT_TRUE(replayed[0]->replayed);
  EXPECT_EQ(replayed[0]->event.id, "evt_1");
  EXPECT_EQ(Must(store->ReleaseExpiredLeases(clock_.Now())), 1);
  const std::vector<DeliveryJob> claimed =
      Must(store->ClaimDue(clock_.Now(), 10, clock_.Now() + 30'000, {}));
  ASSERT_EQ(claimed.size(), 1u);
  EXPECT_EQ(claimed[0].delivery.id, "dlv_3");
  ASSERT_TRUE(store->RecordAttempts({SucceededOutcome("dlv_3", clock_.Now())}).ok());
  const std::vector<Attempt> recorded = Must(store->ListAttempts("dlv_3", std::nullopt));
  ASSERT_EQ(recorded.size(), 1u);
  EXPECT_GT(recorded[0].id, 3);
  const DeliveryCounts counts = Must(store->CountDeliveries());
  EXPECT_EQ(counts.succeeded, 2);
  EXPECT_EQ(counts.failed, 1);
  EXPECT_EQ(counts.pending, 1);  // dlv_4, FIFO: behind dlv_3 until this claim
}

// A database of the schema before events became a rowid table (migrations 1 to 8), with
// events every column of which is set and deliveries and attempts that reference them, upgrades
// in place: the rows read back as they were, and the store goes on working.
TEST_F(SqliteStoreTest, ADatabaseOfTheSchemaWithEventsWithoutRowidUpgradesInPlace) {
  const std::span<const sqlite::Migration> all = sqlite::EmbeddedMigrations();
  ASSERT_GE(all.size(), 9u);
  ASSERT_EQ(all[8].name, "events_rowid");
  clock_.Set(1'000);
  {
    auto db = Must(sqlite::Connection::Open(file().string(), /*create=*/true));
    ASSERT_TRUE(sqlite::ApplyMigrations(*db, all.first(8), clock_).ok());
  }
  const std::string long_payload = R"({"note":")" + std::string(1300 - 11, 'x') + R"("})";
  ASSERT_TRUE(ExecAll(file(), kFrontDeskConfiguration + R"sql(
    INSERT INTO events (id, organization_id, event_type_id, payload, idempotency_key, created_at,
      event_type_version, payload_erased_at)
      VALUES ('evt_1', 1, 1, '{"patientId":"p-1"}', 'key-1', 10, 2, 0),
             ('evt_2', 1, 1, 'null', NULL, 11, 1, 900),
             ('evt_3', 1, 1, '{"note":"' || replace(hex(zeroblob(1289 / 2)), '0', 'x') || 'x"}',
              NULL, 12, 1, 0);  -- long_payload
    INSERT INTO deliveries (id, event_id, config_id, organization_id, status, attempt_count,
      next_attempt_at, last_status_code, last_error, manual_pending, lease_until, created_at,
      updated_at)
    VALUES ('dlv_1', 'evt_1', 1, 1, 'succeeded', 1, 10, 200, '', 0, 0, 10, 20),
           ('dlv_3', 'evt_3', 1, 1, 'pending', 0, 30, 0, '', 0, 0, 12, 12);
    INSERT INTO attempts (delivery_id, attempted_at, duration_ms, request_headers_json,
      status_code, response_headers_json, response_body, error, manual)
    VALUES ('dlv_1', 12, 5, '{}', 200, '{}', 'ok', '', 0);
  )sql"));

  auto store = Must(OpenStore(url(), clock_));
  EXPECT_EQ(QueryText(file(), "SELECT MAX(version) FROM schema_migrations"),
            std::to_string(all.back().version));
  const std::string schema =
      QueryText(file(), "SELECT sql FROM sqlite_schema WHERE name = 'events'");
  EXPECT_EQ(schema.find("WITHOUT ROWID"), std::string::npos) << schema;
  EXPECT_EQ(QueryText(file(),
                      "SELECT group_concat(name) FROM (SELECT name FROM sqlite_schema "
                      "WHERE tbl_name = 'events' AND type = 'index' ORDER BY name)"),
            "events_idempotency,sqlite_autoindex_events_1");

  const Event first = Must(store->GetEvent("evt_1", std::nullopt));
  EXPECT_EQ(first.payload_json, R"({"patientId":"p-1"})");
  EXPECT_EQ(first.idempotency_key, "key-1");
  EXPECT_EQ(first.event_type_version, 2);
  EXPECT_EQ(first.created_at, 10);
  EXPECT_EQ(Must(store->GetEvent("evt_2", std::nullopt)).payload_erased_at, 900);
  EXPECT_EQ(Must(store->GetEvent("evt_3", std::nullopt)).payload_json, long_payload);
  ASSERT_EQ(Must(store->ListAttempts("dlv_1", std::nullopt)).size(), 1u);

  // It goes on working: the key replays, the pending delivery is claimed with its payload, and
  // a new event takes its place after the old ones.
  NewEvent again = EventForOrgOne("evt_4", "{}", "key-1");
  std::vector<Result<IngestedEvent>> replayed = store->IngestEvents({again});
  ASSERT_TRUE(replayed[0].ok()) << replayed[0].error().message;
  EXPECT_TRUE(replayed[0]->replayed);
  EXPECT_EQ(replayed[0]->event.id, "evt_1");
  const std::vector<DeliveryJob> claimed =
      Must(store->ClaimDue(clock_.Now(), 10, clock_.Now() + 30'000, {}));
  ASSERT_EQ(claimed.size(), 1u);
  EXPECT_EQ(claimed[0].event.payload_json, long_payload);
  NewEvent fresh = EventForOrgOne("evt_5", R"({"patientId":"p-5"})");
  std::vector<Result<IngestedEvent>> ingested = store->IngestEvents({fresh});
  ASSERT_TRUE(ingested[0].ok()) << ingested[0].error().message;
  EXPECT_FALSE(ingested[0]->replayed);
  EXPECT_EQ(Must(store->GetEvent("evt_5", std::nullopt)).payload_json, R"({"patientId":"p-5"})");
}

// A database of the schema whose deliveries checked their status with IN (migrations 1 to 9),
// with a delivery of each status and an attempt, upgrades in place: every column reads back as
// it was, the indexes are there again, a status outside the four is still refused, and the
// store goes on working.
TEST_F(SqliteStoreTest, ADatabaseOfTheSchemaWithTheStatusCheckAsAListUpgradesInPlace) {
  const std::span<const sqlite::Migration> all = sqlite::EmbeddedMigrations();
  ASSERT_GE(all.size(), 10u);
  ASSERT_EQ(all[9].name, "deliveries_status_check");
  clock_.Set(1'000);
  {
    auto db = Must(sqlite::Connection::Open(file().string(), /*create=*/true));
    ASSERT_TRUE(sqlite::ApplyMigrations(*db, all.first(9), clock_).ok());
  }
  ASSERT_TRUE(ExecAll(file(), kFrontDeskConfiguration + R"sql(
    INSERT INTO events (id, organization_id, event_type_id, payload, idempotency_key, created_at)
      VALUES ('evt_1', 1, 1, '{"patientId":"p-1"}', NULL, 10);
    INSERT INTO deliveries (id, event_id, config_id, organization_id, status, attempt_count,
      next_attempt_at, last_status_code, last_error, manual_pending, lease_until, created_at,
      updated_at)
    VALUES ('dlv_1', 'evt_1', 1, 1, 'succeeded', 1, 10, 200, '', 0, 0, 10, 20),
           ('dlv_2', 'evt_1', 1, 1, 'failed', 3, 11, 500, 'HTTP 500', 0, 0, 10, 21),
           ('dlv_3', 'evt_1', 1, 1, 'pending', 2, 30, 503, 'HTTP 503', 1, 0, 10, 22),
           ('dlv_4', 'evt_1', 1, 1, 'delivering', 0, 12, 0, '', 0, 99999, 10, 23);
    INSERT INTO attempts (delivery_id, attempted_at, duration_ms, request_headers_json,
      status_code, response_headers_json, response_body, error, manual)
    VALUES ('dlv_1', 12, 5, '{}', 200, '{}', 'ok', '', 0);
  )sql"));
  const std::string every_column =
      "SELECT group_concat(id || ',' || event_id || ',' || config_id || ',' || organization_id || "
      "',' || status || ',' || attempt_count || ',' || next_attempt_at || ',' || "
      "last_status_code || ',' || last_error || ',' || manual_pending || ',' || lease_until || "
      "',' || created_at || ',' || updated_at, ';') FROM (SELECT * FROM deliveries ORDER BY id)";
  const std::string before = QueryText(file(), every_column);

  auto store = Must(OpenStore(url(), clock_));
  EXPECT_EQ(QueryText(file(), "SELECT MAX(version) FROM schema_migrations"),
            std::to_string(all.back().version));
  EXPECT_EQ(QueryText(file(), every_column), before);
  EXPECT_EQ(QueryText(file(),
                      "SELECT group_concat(name) FROM (SELECT name FROM sqlite_schema "
                      "WHERE tbl_name = 'deliveries' AND type = 'index' ORDER BY name)"),
            "deliveries_by_config,deliveries_by_event,deliveries_due,deliveries_due_by_config,"
            "deliveries_failed,"
            "deliveries_open");
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open_v2(file().c_str(), &db, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
    EXPECT_EQ(sqlite3_exec(db, "UPDATE deliveries SET status = 'delivered' WHERE id = 'dlv_1'",
                           nullptr, nullptr, nullptr),
              SQLITE_CONSTRAINT);
    EXPECT_EQ(sqlite3_extended_errcode(db), SQLITE_CONSTRAINT_CHECK);
    sqlite3_close(db);
  }
  EXPECT_EQ(Must(store->GetDelivery("dlv_1", std::nullopt)).status, DeliveryStatus::kSucceeded);
  EXPECT_EQ(Must(store->ListAttempts("dlv_1", std::nullopt)).size(), 1u);
  // Migration 11's index holds the failed delivery that was there before it.
  const DeliveryBacklog backlog = Must(store->CountBacklog());
  EXPECT_EQ(backlog.pending, 1);
  EXPECT_EQ(backlog.delivering, 1);
  EXPECT_EQ(backlog.failed, 1);
  const std::vector<DeliveryJob> claimed =
      Must(store->ClaimDue(clock_.Now(), 10, clock_.Now() + 30'000, {}));
  ASSERT_EQ(claimed.size(), 1u);
  EXPECT_EQ(claimed[0].delivery.id, "dlv_3");
}

// The statements the writer runs for every event and attempt build no temporary B-tree (SQLite
// makes one for an IN list of more than two values, in a query or a CHECK constraint, and
// builds it again at each run: it cost more than the rows' own writes).
TEST_F(SqliteStoreTest, TheWritersStatementsPerEventBuildNoTemporaryTable) {
  { auto store = Must(OpenStore(url(), clock_)); }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(file().c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  for (const std::string_view sql :
       {sqlite::kInsertEvent, sqlite::kInsertDelivery, sqlite::kRecordDeliveryOutcome,
        sqlite::kInsertAttempt, sqlite::kMarkConfigHealthy, sqlite::kMarkConfigFailing,
        sqlite::kLeaseDelivery}) {
    sqlite3_stmt* stmt = nullptr;
    const std::string explain = "EXPLAIN " + std::string(sql);
    ASSERT_EQ(sqlite3_prepare_v2(db, explain.c_str(), -1, &stmt, nullptr), SQLITE_OK)
        << sqlite3_errmsg(db);
    int opcodes = 0;
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      ++opcodes;
      EXPECT_STRNE(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 1)), "OpenEphemeral")
          << sql;
    }
    EXPECT_GT(opcodes, 10) << sql;
    sqlite3_finalize(stmt);
  }
  sqlite3_close(db);
}

// Migrations run with foreign keys off (a rebuilt table may be referenced), so they are checked
// as a whole before the commit: a migration that leaves a reference to a missing row fails, and
// changes nothing.
TEST_F(SqliteStoreTest, AMigrationThatLeavesADanglingReferenceFailsAndChangesNothing) {
  static constexpr sqlite::Migration kParentAndChild[] = {
      {1, "parent",
       "CREATE TABLE parent (id TEXT PRIMARY KEY);"
       "CREATE TABLE child (parent_id TEXT REFERENCES parent (id));"
       "INSERT INTO parent VALUES ('p'); INSERT INTO child VALUES ('p');"},
  };
  static constexpr sqlite::Migration kDropsTheParentRow[] = {
      kParentAndChild[0],
      {2, "drop_parent_row", "DELETE FROM parent;"},
  };
  auto db = Must(sqlite::Connection::Open(file().string(), /*create=*/true));
  ASSERT_TRUE(sqlite::ApplyMigrations(*db, kParentAndChild, clock_).ok());
  const Status dangling = sqlite::ApplyMigrations(*db, kDropsTheParentRow, clock_);
  ASSERT_FALSE(dangling.ok());
  EXPECT_EQ(dangling.error().message,
            "the migrations left a row of child that references a missing row of parent");
  EXPECT_EQ(QueryText(file(), "SELECT MAX(version) FROM schema_migrations"), "1");
  EXPECT_EQ(QueryText(file(), "SELECT COUNT(*) FROM parent"), "1");
}

// Takes every new delivery, as the dispatcher does when it has room.
class TakeEverything final : public DeliveryHandoff {
 public:
  std::optional<UnixMillis> LeaseFor(const WebhookConfig&, UnixMillis now) override {
    return now + 30'000;
  }
  void Take(std::vector<DeliveryJob> jobs, UnixMillis) override {
    for (DeliveryJob& job : jobs) taken.push_back(std::move(job));
  }
  std::vector<DeliveryJob> taken;  // written on the store's completer thread, read after
};

// Frames in the write-ahead log: every page a commit changed is appended once, so with one
// event per commit this counts the B-tree pages (about one per table or index) it wrote.
std::int64_t WalFrames(const std::filesystem::path& db_file) {
  const std::filesystem::path wal = db_file.string() + "-wal";
  const std::int64_t page_size = std::stoll(QueryText(db_file, "PRAGMA page_size"));
  constexpr std::int64_t kWalHeader = 32, kFrameHeader = 24;
  return (static_cast<std::int64_t>(std::filesystem::file_size(wal)) - kWalHeader) /
         (page_size + kFrameHeader);
}

// Ingests and delivers kEvents events of `payload` through a new store on `db_file`, each step
// its own commit, and returns the pages they appended to the write-ahead log per event.
double PagesPerDeliveredEvent(const std::filesystem::path& db_file, ManualClock& clock,
                              const std::string& payload) {
  constexpr int kEvents = 40;  // stays below the WAL's automatic checkpoint (1000 frames)
  auto store = Must(OpenStore("sqlite:" + db_file.string(), clock));
  auto handoff = std::make_shared<TakeEverything>();
  store->SetDeliveryHandoff(handoff);
  WebhookConfig config;
  config.organization_id = 1;
  config.name = "hook";
  config.url = "https://receiver.example/hook";
  config.event_type_id = 1;
  config.secret = "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0";
  config = Must(store->CreateConfig(config, test::kNoConfigLimit));

  const std::int64_t before = WalFrames(db_file);
  for (int i = 0; i < kEvents; ++i) {
    clock.Advance(1);
    NewEvent event = EventForOrgOne(NewSortableId("evt", clock.Now()), payload);
    std::vector<Result<IngestedEvent>> ingested = store->IngestEvents({event});
    EXPECT_TRUE(ingested[0].ok()) << ingested[0].error().message;
    EXPECT_EQ(handoff->taken.size(), static_cast<std::size_t>(i + 1));
    if (handoff->taken.size() != static_cast<std::size_t>(i + 1)) return 0;
    AttemptOutcome outcome;
    outcome.attempt.delivery_id = handoff->taken.back().delivery.id;
    outcome.attempt.attempted_at = clock.Now();
    outcome.attempt.status_code = 200;
    outcome.new_status = DeliveryStatus::kSucceeded;
    outcome.config_id = config.id;
    outcome.config_effect = ConfigEffect::kHealthy;
    EXPECT_TRUE(store->RecordAttempts({outcome}).ok());
  }
  EXPECT_EQ(Must(store->CountDeliveries()).succeeded, kEvents);
  return static_cast<double>(WalFrames(db_file) - before) / kEvents;
}

// The hot path's storage cost (docs/store.md, "Writes per delivered event"): an event with one
// configuration, handed off at ingestion and delivered by one successful attempt, each of the
// two steps its own commit, writes one page in each of 10 B-trees (and now and then a split);
// the schema before migration 4 wrote 15 pages (16 B-tree writes, two of them to one page),
// migrations 9 to 13 11 (events_by_created_at, dropped by migration 14).
// An event of 1.3 KB, the length of an encrypted catalog sample, adds only the splits of fuller
// leaves: before migration 9 (events in a WITHOUT ROWID table) its row's tail took an overflow
// page of its own (10.1 pages for a short event, 12.9 for this one).
TEST_F(SqliteStoreTest, AnEventDeliveredAtTheFirstAttemptWritesTenPagesWhateverItsLength) {
  const std::string short_payload = R"({"patientId":"p-1"})";
  const std::string long_payload = R"({"note":")" + std::string(1300 - 11, 'x') + R"("})";
  ASSERT_EQ(long_payload.size(), 1300u);
  std::vector<double> pages;
  for (const std::string* payload : {&short_payload, &long_payload}) {
    const std::filesystem::path db_file =
        dir_.path() / ("events-of-" + std::to_string(payload->size()) + ".db");
    pages.push_back(PagesPerDeliveredEvent(db_file, clock_, *payload));
    RecordProperty("pages_per_event_" + std::to_string(payload->size()),
                   std::to_string(pages.back()));
    std::cout << "pages written per delivered event of " << payload->size()
              << " bytes: " << pages.back() << "\n";
  }
  EXPECT_LT(pages[0], 10.5);
  EXPECT_LT(pages[1], pages[0] + 1) << "an event of 1.3 KB writes an overflow page";
}

// The configurations an event of organization 1 and type 1 fanned out to, by id.
std::vector<std::int64_t> FannedOutTo(Store& store, ManualClock& clock) {
  clock.Advance(1);
  std::vector<Result<IngestedEvent>> ingested =
      store.IngestEvents({EventForOrgOne(NewSortableId("evt", clock.Now()), "{}")});
  EXPECT_TRUE(ingested[0].ok()) << ingested[0].error().message;
  std::vector<std::int64_t> ids;
  if (!ingested[0].ok()) return ids;
  for (const Delivery& d : ingested[0]->deliveries) ids.push_back(d.config_id);
  return ids;
}

WebhookConfig HookOfOrgOne(std::string name) {
  WebhookConfig config;
  config.organization_id = 1;
  config.name = std::move(name);
  config.url = "https://receiver.example/" + config.name;
  config.event_type_id = 1;
  config.secret = "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0";
  return config;
}

// The writer fans out from memory (sqlite/fan_out_memo.hpp) once it has read an organization's
// configurations for a type; every way they can change must show in the next event's fan-out.
TEST_F(SqliteStoreTest, FanOutFromMemoryFollowsEveryChangeOfTheConfigurations) {
  auto store = Must(OpenStore(url(), clock_));
  const WebhookConfig a = Must(store->CreateConfig(HookOfOrgOne("a"), test::kNoConfigLimit));
  EXPECT_EQ(FannedOutTo(*store, clock_), (std::vector<std::int64_t>{a.id}));
  EXPECT_EQ(FannedOutTo(*store, clock_), (std::vector<std::int64_t>{a.id}));

  WebhookConfig b = Must(store->CreateConfig(HookOfOrgOne("b"), test::kNoConfigLimit));
  EXPECT_EQ(FannedOutTo(*store, clock_), (std::vector<std::int64_t>{a.id, b.id}));
  b.active = false;
  b = Must(store->UpdateConfig(b, std::nullopt));
  EXPECT_EQ(FannedOutTo(*store, clock_), (std::vector<std::int64_t>{a.id}));
  ASSERT_TRUE(store->DeleteConfig(a.id, std::nullopt).ok());
  EXPECT_EQ(FannedOutTo(*store, clock_), (std::vector<std::int64_t>{}));

  // Another connection (another process on the file) turns b on again.
  ASSERT_TRUE(
      ExecAll(file(), "UPDATE webhook_configs SET active = 1 WHERE id = " + std::to_string(b.id)));
  EXPECT_EQ(FannedOutTo(*store, clock_), (std::vector<std::int64_t>{b.id}));
  // And changes its URL, which the deliveries are made for.
  ASSERT_TRUE(ExecAll(file(),
                      "UPDATE webhook_configs SET url = 'https://moved.example/b' "
                      "WHERE id = " +
                          std::to_string(b.id)));
  clock_.Advance(1);
  auto handoff = std::make_shared<TakeEverything>();
  store->SetDeliveryHandoff(handoff);
  ASSERT_TRUE(
      store->IngestEvents({EventForOrgOne(NewSortableId("evt", clock_.Now()), "{}")})[0].ok());
  ASSERT_EQ(handoff->taken.size(), 1u);
  EXPECT_EQ(handoff->taken[0].config.url, "https://moved.example/b");
}

// A successful attempt of a configuration the memo knows is not failing skips the UPDATE that
// clears failing_since; every way the configuration may be failing must still be cleared.
TEST_F(SqliteStoreTest, SuccessClearsFailingSinceHoweverTheConfigurationCameToFail) {
  auto store = Must(OpenStore(url(), clock_));
  const WebhookConfig a = Must(store->CreateConfig(HookOfOrgOne("a"), test::kNoConfigLimit));
  auto outcome_of = [&](ConfigEffect effect) {
    clock_.Advance(1);
    std::vector<Result<IngestedEvent>> ingested =
        store->IngestEvents({EventForOrgOne(NewSortableId("evt", clock_.Now()), "{}")});
    EXPECT_TRUE(ingested[0].ok());
    AttemptOutcome outcome;
    outcome.attempt.delivery_id = ingested[0]->deliveries.at(0).id;
    outcome.attempt.attempted_at = clock_.Now();
    outcome.new_status =
        effect == ConfigEffect::kHealthy ? DeliveryStatus::kSucceeded : DeliveryStatus::kPending;
    outcome.next_attempt_at = clock_.Now() + 60'000;
    outcome.config_id = a.id;
    outcome.config_effect = effect;
    return std::vector<AttemptOutcome>{outcome};
  };
  auto failing_since = [&] { return Must(store->GetConfig(a.id, std::nullopt)).failing_since; };

  ASSERT_TRUE(store->RecordAttempts(outcome_of(ConfigEffect::kHealthy)).ok());
  EXPECT_EQ(failing_since(), 0);
  // Failing through the store, then a success, in one commit each.
  ASSERT_TRUE(store->RecordAttempts(outcome_of(ConfigEffect::kFailing)).ok());
  EXPECT_NE(failing_since(), 0);
  ASSERT_TRUE(store->RecordAttempts(outcome_of(ConfigEffect::kHealthy)).ok());
  EXPECT_EQ(failing_since(), 0);
  // Failing and then succeeding in the same commit.
  std::vector<AttemptOutcome> both = outcome_of(ConfigEffect::kFailing);
  both.push_back(outcome_of(ConfigEffect::kHealthy).front());
  ASSERT_TRUE(store->RecordAttempts(both).ok());
  EXPECT_EQ(failing_since(), 0);
  // Failing as written by another connection (another process on the file).
  outcome_of(ConfigEffect::kHealthy);  // the memo knows a as healthy again
  ASSERT_TRUE(ExecAll(
      file(), "UPDATE webhook_configs SET failing_since = 5 WHERE id = " + std::to_string(a.id)));
  ASSERT_TRUE(store->RecordAttempts(outcome_of(ConfigEffect::kHealthy)).ok());
  EXPECT_EQ(failing_since(), 0);
}

// What a transaction read may never be committed: a rollback, whole or to a savepoint, forgets
// it; so does a write to the configurations on the writer's own connection, by any statement.
TEST_F(SqliteStoreTest, TheFanOutMemoForgetsOnRollbackAndOnAnyWriteToTheConfigurations) {
  {
    auto store = Must(OpenStore(url(), clock_));
    Must(store->CreateConfig(HookOfOrgOne("a"), test::kNoConfigLimit));
  }
  sqlite::FanOutMemo memo;
  std::unique_ptr<sqlite::Connection> db = Must(sqlite::Connection::Open(file().string(), false));
  ASSERT_TRUE(memo.Watch(*db).ok());
  sqlite::WriterSession session(std::move(db), memo);
  auto remember = [&memo] { memo.Remember(1, 1, {HookOfOrgOne("remembered")}); };

  ASSERT_TRUE(session.Begin().ok());
  remember();
  session.Abandon();
  EXPECT_EQ(memo.Find(1, 1), nullptr) << "kept across a rollback";

  ASSERT_TRUE(session.Begin().ok());
  ASSERT_TRUE(session.Savepoint().ok());
  remember();
  ASSERT_TRUE(session.RollbackToSavepoint().ok());
  ASSERT_TRUE(session.ReleaseSavepoint().ok());
  EXPECT_EQ(memo.Find(1, 1), nullptr) << "kept across a rollback to a savepoint";

  for (const char* write :
       {"UPDATE webhook_configs SET name = 'renamed'",
        "INSERT INTO webhook_configs SELECT * FROM webhook_configs LIMIT 0",
        "UPDATE webhook_configs SET url = url WHERE 0", "DELETE FROM webhook_configs"}) {
    SCOPED_TRACE(write);
    remember();
    ASSERT_TRUE(session.db().Exec(write).ok());
    const bool changed_rows = session.db().Changes() > 0;
    EXPECT_EQ(memo.Find(1, 1) == nullptr, changed_rows);
  }
  remember();
  ASSERT_TRUE(session.Commit(false).ok());
  ASSERT_TRUE(session.Begin().ok());
  EXPECT_NE(memo.Find(1, 1), nullptr) << "forgotten though nothing changed";
  session.Abandon();
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

// GET /stats runs on every console page view: each read of the window's deliveries must be
// a range of the primary key, never a scan of the table or of a whole index.
TEST_F(SqliteStoreTest, StatsReadTheWindowAsARangeOfThePrimaryKey) {
  Must(OpenStore(url(), clock_)).reset();
  for (const std::string_view sql :
       {sqlite::kStatsBuckets, sqlite::kStatsLatencies, sqlite::kStatsTopFailing}) {
    const std::string text = PlanText(file(), sql);
    EXPECT_NE(text.find("USING PRIMARY KEY (id>?)"), std::string::npos) << sql << "\n" << text;
    EXPECT_EQ(text.find("SCAN d"), std::string::npos) << sql << "\n" << text;
  }
}

// The virtual machine steps of one run of `sql` on the database file directly, `bind` setting
// its parameters; expects it to answer `rows` rows.
std::int64_t StepsOf(const std::filesystem::path& file, std::string_view sql,
                     const std::function<void(sqlite3_stmt*)>& bind, int rows) {
  sqlite3* db = nullptr;
  sqlite3_stmt* stmt = nullptr;
  std::int64_t steps = -1;
  int answered = 0;
  if (sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK &&
      sqlite3_prepare_v2(db, std::string(sql).c_str(), -1, &stmt, nullptr) == SQLITE_OK) {
    bind(stmt);
    int rc = SQLITE_ROW;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) ++answered;
    EXPECT_EQ(rc, SQLITE_DONE) << sqlite3_errmsg(db);
    steps = sqlite3_stmt_status(stmt, SQLITE_STMTSTATUS_VM_STEP, 0);
  }
  EXPECT_EQ(answered, rows) << sql << "\n" << sqlite3_errmsg(db);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return steps;
}

// One claim that leaves configuration 1 aside (due by 10 000, up to 8).
std::int64_t StepsOfAClaimSkippingTheFirstConfiguration(const std::filesystem::path& file) {
  return StepsOf(
      file, sqlite::kSelectDueSkippingConfigs,
      [](sqlite3_stmt* stmt) {
        sqlite3_bind_int64(stmt, 1, 10'000);
        sqlite3_bind_int64(stmt, 2, 8);
        sqlite3_bind_text(stmt, 3, "[1]", -1, SQLITE_STATIC);
      },
      1);
}

// `count` pending deliveries of configuration 1 for event evt_1, due at `due_at` (SQL of i, from 1
// to count).
std::string PendingDeliveriesOfTheFirstConfiguration(int count, std::string_view due_at) {
  return fmt::format(
      "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {0}) "
      "INSERT INTO deliveries (id, event_id, config_id, organization_id, status, attempt_count, "
      "next_attempt_at, last_status_code, last_error, manual_pending, lease_until, created_at, "
      "updated_at) SELECT printf('dlv_more_%06d_%d', i, {0}), 'evt_1', 1, 1, 'pending', 0, {1}, "
      "0, '', 0, 0, 5, 5 FROM n",
      count, due_at);
}

// A configuration the dispatcher holds back (its receiver never answers) gathers due
// deliveries that every claim leaves aside. The claim that skips it visits configurations, one
// seek each, and never walks the due index: its work does not grow with that backlog.
TEST_F(SqliteStoreTest, AClaimSkipsAHeldBackConfigurationsBacklogWithoutReadingIt) {
  Must(OpenStore(url(), clock_)).reset();
  const std::string plan = PlanText(file(), sqlite::kSelectDueSkippingConfigs);
  EXPECT_NE(plan.find("USING INDEX deliveries_due_by_config (config_id>?)"), std::string::npos)
      << plan;
  EXPECT_NE(plan.find("USING INDEX deliveries_due_by_config (config_id=? AND next_attempt_at<?)"),
            std::string::npos)
      << plan;
  EXPECT_NE(plan.find("SEARCH o USING COVERING INDEX deliveries_open (status=? AND config_id=?)"),
            std::string::npos)
      << plan;
  EXPECT_NE(plan.find("SEARCH d USING PRIMARY KEY (id=?)"), std::string::npos) << plan;
  EXPECT_EQ(plan.find("INDEX deliveries_due ("), std::string::npos) << plan;
  EXPECT_EQ(plan.find("deliveries_by_config"), std::string::npos) << plan;

  ASSERT_TRUE(ExecAll(file(), kFrontDeskConfiguration + kFrontDeskConfiguration + R"sql(
      INSERT INTO events (id, organization_id, event_type_id, payload, created_at)
        VALUES ('evt_1', 1, 1, '{}', 5);
      INSERT INTO deliveries (id, event_id, config_id, organization_id, status, attempt_count,
        next_attempt_at, last_status_code, last_error, manual_pending, lease_until, created_at,
        updated_at)
        VALUES ('dlv_free', 'evt_1', 2, 1, 'pending', 0, 500, 0, '', 0, 0, 5, 5);
  )sql"));
  auto add_held_back = [&](int count) {
    return ExecAll(file(), PendingDeliveriesOfTheFirstConfiguration(count, "i % 1000"));
  };
  ASSERT_TRUE(add_held_back(50));
  const std::int64_t behind_few = StepsOfAClaimSkippingTheFirstConfiguration(file());
  ASSERT_TRUE(add_held_back(5'000));
  const std::int64_t behind_many = StepsOfAClaimSkippingTheFirstConfiguration(file());
  EXPECT_GT(behind_few, 0);
  EXPECT_EQ(behind_many, behind_few);
}

// A FIFO configuration's deliveries behind the one being retried wait for their turn, out of the
// due range of the index: the claim, the next due time, the start of the next turn and the lease
// sweep's search for turns nobody started (each looks the oldest pending one up) do the same
// work behind 50 of them as behind 5 050.
TEST_F(SqliteStoreTest, AFifoConfigurationsWaitingDeliveriesAreNotReadByClaims) {
  Must(OpenStore(url(), clock_)).reset();
  ASSERT_TRUE(ExecAll(file(), kFrontDeskConfiguration + kFrontDeskConfiguration + R"sql(
      UPDATE webhook_configs SET ordering = 'fifo' WHERE id = 1;
      INSERT INTO events (id, organization_id, event_type_id, payload, created_at)
        VALUES ('evt_1', 1, 1, '{}', 5);
      INSERT INTO deliveries (id, event_id, config_id, organization_id, status, attempt_count,
        next_attempt_at, last_status_code, last_error, manual_pending, lease_until, created_at,
        updated_at)
        VALUES ('dlv_head', 'evt_1', 1, 1, 'pending', 0, 90000, 0, '', 0, 0, 5, 5),
               ('dlv_free', 'evt_1', 2, 1, 'pending', 0, 500, 0, '', 0, 0, 5, 5);
  )sql"));
  auto steps = [&] {
    auto now = [](sqlite3_stmt* stmt, int index) { sqlite3_bind_int64(stmt, index, 10'000); };
    return std::array{
        StepsOf(
            file(), sqlite::kSelectDue,
            [&](sqlite3_stmt* stmt) {
              now(stmt, 1);
              sqlite3_bind_int64(stmt, 2, 8);
              sqlite3_bind_text(stmt, 3, "[]", -1, SQLITE_STATIC);
            },
            1),
        StepsOf(
            file(), sqlite::kNextDueAt, [](sqlite3_stmt*) {}, 1),
        StepsOf(
            file(), sqlite::kStartNextTurn,
            [&](sqlite3_stmt* stmt) {
              sqlite3_bind_int64(stmt, 1, 1);
              now(stmt, 2);
            },
            0),
        StepsOf(
            file(), sqlite::kStartStrandedTurns, [&](sqlite3_stmt* stmt) { now(stmt, 1); }, 0)};
  };
  const std::string waiting = std::to_string(kWaitingForTurn);
  ASSERT_TRUE(ExecAll(file(), PendingDeliveriesOfTheFirstConfiguration(50, waiting)));
  const auto behind_few = steps();
  ASSERT_TRUE(ExecAll(file(), PendingDeliveriesOfTheFirstConfiguration(5'000, waiting)));
  const auto behind_many = steps();
  for (std::size_t i = 0; i < behind_few.size(); ++i) {
    EXPECT_GT(behind_few[i], 0) << i;
    EXPECT_EQ(behind_many[i], behind_few[i]) << "statement " << i;
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(file().c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM deliveries WHERE next_attempt_at = ?1", -1,
                               &stmt, nullptr),
            SQLITE_OK);
  sqlite3_bind_int64(stmt, 1, kWaitingForTurn);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int64(stmt, 0), 5'050) << "a statement started a turn";
  sqlite3_finalize(stmt);
  sqlite3_close(db);
}

// A database of the schema before FIFO deliveries waited for their turn (migrations 1 to 12),
// with a FIFO configuration's delivery in flight and two behind it, upgrades in place: those
// two wait for their turn, the other configuration's pending one does not, and the next turn
// starts when the one in flight ends.
TEST_F(SqliteStoreTest, ADatabaseOfTheSchemaBeforeFifoTurnsParksTheWaitingDeliveries) {
  const std::span<const sqlite::Migration> all = sqlite::EmbeddedMigrations();
  ASSERT_GE(all.size(), 13u);
  ASSERT_EQ(all[12].name, "fifo_waiting_for_turn");
  clock_.Set(1'000);
  {
    auto db = Must(sqlite::Connection::Open(file().string(), /*create=*/true));
    ASSERT_TRUE(sqlite::ApplyMigrations(*db, all.first(12), clock_).ok());
  }
  ASSERT_TRUE(ExecAll(file(), kFrontDeskConfiguration + kFrontDeskConfiguration + R"sql(
    UPDATE webhook_configs SET ordering = 'fifo' WHERE id = 1;
    INSERT INTO events (id, organization_id, event_type_id, payload, created_at)
      VALUES ('evt_1', 1, 1, '{}', 10);
    INSERT INTO deliveries (id, event_id, config_id, organization_id, status, attempt_count,
      next_attempt_at, last_status_code, last_error, manual_pending, lease_until, created_at,
      updated_at)
    VALUES ('dlv_1', 'evt_1', 1, 1, 'delivering', 0, 10, 0, '', 0, 60000, 10, 10),
           ('dlv_2', 'evt_1', 1, 1, 'pending', 0, 10, 0, '', 0, 0, 10, 10),
           ('dlv_3', 'evt_1', 1, 1, 'pending', 0, 10, 0, '', 0, 0, 10, 10),
           ('dlv_4', 'evt_1', 2, 1, 'pending', 0, 10, 0, '', 0, 0, 10, 10);
  )sql"));

  auto store = Must(OpenStore(url(), clock_));
  auto next_attempt_of = [&](const std::string& id) {
    return Must(store->GetDelivery(id, std::nullopt)).next_attempt_at;
  };
  EXPECT_EQ(next_attempt_of("dlv_2"), kWaitingForTurn);
  EXPECT_EQ(next_attempt_of("dlv_3"), kWaitingForTurn);
  EXPECT_EQ(next_attempt_of("dlv_4"), 10);
  const std::vector<DeliveryJob> claimed =
      Must(store->ClaimDue(clock_.Now(), 10, clock_.Now() + 30'000, {}));
  ASSERT_EQ(claimed.size(), 1u);
  EXPECT_EQ(claimed[0].delivery.id, "dlv_4");

  AttemptOutcome outcome = SucceededOutcome("dlv_1", clock_.Now());
  outcome.ends_fifo_turn = true;
  ASSERT_TRUE(store->RecordAttempts({outcome}).ok());
  EXPECT_EQ(next_attempt_of("dlv_2"), clock_.Now());
  EXPECT_EQ(next_attempt_of("dlv_3"), kWaitingForTurn);
}

// GET /metrics is public and read every few seconds: its backlog is counted from the partial
// indexes alone, never from the deliveries' table, whose succeeded rows are most of it. A
// configuration's recovery reads the range of its failed deliveries, and each one's event by id.
TEST_F(SqliteStoreTest, TheBacklogAndARecoveryReadOnlyThePartialIndexes) {
  Must(OpenStore(url(), clock_)).reset();
  const std::string backlog = PlanText(file(), sqlite::kCountBacklog);
  EXPECT_NE(backlog.find("SEARCH deliveries USING COVERING INDEX deliveries_open (status=?)"),
            std::string::npos)
      << backlog;
  EXPECT_NE(backlog.find("deliveries USING COVERING INDEX deliveries_failed"), std::string::npos)
      << backlog;
  EXPECT_EQ(backlog.find("TEMP B-TREE"), std::string::npos) << backlog;

  const std::string recover = PlanText(file(), sqlite::kRecoverConfig);
  EXPECT_NE(recover.find("SEARCH deliveries USING INDEX deliveries_failed (status=? AND "
                         "config_id=?)"),
            std::string::npos)
      << recover;
  EXPECT_NE(recover.find("SEARCH e USING INDEX sqlite_autoindex_events_1 (id=?)"),
            std::string::npos)
      << recover;
  EXPECT_EQ(recover.find("SCAN"), std::string::npos) << recover;
}

// A status filter of pending, delivering or failed walks the partial index that holds that
// status: for one configuration a range in id order, across configurations the status's entries
// sorted, never the deliveries already done with.
TEST_F(SqliteStoreTest, DeliveryListingsByUnfinishedStatusReadThePartialIndexes) {
  Must(OpenStore(url(), clock_)).reset();
  const std::pair<std::string_view, std::string_view> expected[] = {
      {sqlite::kListOpenDeliveriesOfConfig,
       "SEARCH deliveries USING INDEX deliveries_open (status=? AND config_id=? AND id>? AND "
       "id<?)"},
      {sqlite::kListFailedDeliveriesOfConfig,
       "SEARCH deliveries USING INDEX deliveries_failed (status=? AND config_id=? AND id>? AND "
       "id<?)"},
      {sqlite::kListOpenDeliveries, "SEARCH deliveries USING INDEX deliveries_open (status=?)"},
      {sqlite::kListFailedDeliveries,
       "SEARCH deliveries USING INDEX deliveries_failed (status=?)"}};
  for (const auto& [sql, walk] : expected) {
    const std::string text = PlanText(file(), sql);
    EXPECT_NE(text.find(walk), std::string::npos) << sql << "\n" << text;
    EXPECT_EQ(text.find("SCAN"), std::string::npos) << sql << "\n" << text;
  }
}

// GET /deliveries walks a range of the primary key (or of the event's or configuration's
// index), bounded by the cursor or `since` and by `until`, and reads an event's type through
// the events' id index: never a scan of a table.
TEST_F(SqliteStoreTest, DeliveryListingsWalkABoundedRangeOfAnIndex) {
  Must(OpenStore(url(), clock_)).reset();
  const std::pair<std::string_view, std::string_view> expected[] = {
      {sqlite::kListDeliveries, "SEARCH deliveries USING PRIMARY KEY (id>? AND id<?)"},
      {sqlite::kListDeliveriesOfEvent,
       "SEARCH deliveries USING INDEX deliveries_by_event (event_id=? AND id>? AND id<?)"},
      {sqlite::kListDeliveriesOfConfig,
       "SEARCH deliveries USING INDEX deliveries_by_config (config_id=? AND id>? AND id<?)"}};
  for (const auto& [sql, walk] : expected) {
    const std::string text = PlanText(file(), sql);
    EXPECT_NE(text.find(walk), std::string::npos) << sql << "\n" << text;
    EXPECT_NE(text.find("SEARCH e USING INDEX sqlite_autoindex_events_1 (id=?)"), std::string::npos)
        << text;
    EXPECT_EQ(text.find("SCAN"), std::string::npos) << sql << "\n" << text;
    EXPECT_EQ(text.find("TEMP B-TREE"), std::string::npos) << sql << "\n" << text;
  }
}

// Retention reads the oldest events as a range of rowids (migration 14), in their order: neither
// a scan of the events nor a sort of every event older than the cutoff.
TEST_F(SqliteStoreTest, RetentionReadsTheOldestEventsAsARangeOfRowids) {
  Must(OpenStore(url(), clock_)).reset();
  for (const std::string_view sql :
       {sqlite::kPurgeAttempts, sqlite::kPurgeDeliveries, sqlite::kPurgeEvents,
        sqlite::kEraseAttemptData, sqlite::kErasePayloads}) {
    const std::string text = PlanText(file(), sql);
    EXPECT_NE(text.find("SEARCH e USING INTEGER PRIMARY KEY (rowid<?)"), std::string::npos)
        << sql << "\n"
        << text;
    EXPECT_EQ(text.find("SCAN e"), std::string::npos) << sql << "\n" << text;
    EXPECT_EQ(text.find("TEMP B-TREE FOR ORDER BY"), std::string::npos) << sql << "\n" << text;
  }
}

// The rowid up to which retention reads (LastEventCreatedBefore): a binary search over rowids
// with gaps, checked against a walk of every row. Rows share times, as events stored in one
// millisecond do.
TEST_F(SqliteStoreTest, TheLastEventCreatedBeforeACutoffIsFoundAcrossGapsInRowids) {
  Must(OpenStore(url(), clock_)).reset();
  std::unique_ptr<sqlite::Connection> db = Must(sqlite::Connection::Open(file().string(), false));
  EXPECT_EQ(Must(sqlite::LastEventCreatedBefore(*db, 1'000)), 0);

  std::mt19937 random(20261204);
  std::vector<std::pair<std::int64_t, UnixMillis>> rows;  // rowid, created_at
  std::int64_t rowid = 0;
  UnixMillis created_at = 1'000;
  std::string insert;
  for (int i = 0; i < 300; ++i) {
    rowid += 1 + (random() % 4 == 0 ? random() % 50 : 0);  // a purged range now and then
    created_at += random() % 3;
    rows.emplace_back(rowid, created_at);
    insert += fmt::format(
        "INSERT INTO events (rowid, id, organization_id, event_type_id, payload, created_at) "
        "VALUES ({}, 'evt_{}', 1, 1, '{{}}', {});\n",
        rowid, rowid, created_at);
  }
  ASSERT_TRUE(ExecAll(file(), insert));
  for (UnixMillis cutoff = 990; cutoff <= created_at + 2; ++cutoff) {
    std::int64_t expected = 0;
    for (const auto& [id, at] : rows) {
      if (at < cutoff) expected = id;
    }
    ASSERT_EQ(Must(sqlite::LastEventCreatedBefore(*db, cutoff)), expected) << "cutoff " << cutoff;
  }
}

}  // namespace
}  // namespace webhookd
