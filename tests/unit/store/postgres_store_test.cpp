// What only the PostgreSQL store has to do: several stores (nodes) on one database. Each test
// uses a schema of its own in the database at WEBHOOKD_TEST_PG_URL (skipped when unset).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "core/clock.hpp"
#include "core/delivery_status.hpp"
#include "core/ids.hpp"
#include "store/common/ingest.hpp"
#include "store/open_store.hpp"
#include "store/postgres/connection.hpp"
#include "store/postgres/event_batch.hpp"
#include "store/postgres/fan_out_cache.hpp"
#include "store/postgres/migrations.hpp"
#include "store/postgres/operations.hpp"
#include "store/postgres/statements.hpp"
#include "store/postgres/writer.hpp"
#include "store/store.hpp"
#include "store_test_util.hpp"

namespace webhookd {
namespace {

using test::Must;
using test::TempDir;

std::string PgUrl() {
  const char* url = std::getenv("WEBHOOKD_TEST_PG_URL");
  return url == nullptr ? "" : url;
}

void PgExec(const std::string& sql) {
  auto db = Must(postgres::Connection::Open(PgUrl()));
  if (Status s = db->Exec(sql); !s.ok()) throw std::runtime_error(s.error().message);
}

// Adds `count` events with one pending delivery each (dlv_bulk_000001 ..., due at 1, 2, ...
// ms), of the configuration `config_of` names (an SQL expression of g, the row's number), and
// turns autovacuum (and so its ANALYZE) off for those tables.
bool AddBulkPendingDeliveries(postgres::Connection& db, int count, const std::string& config_of,
                              const std::string& due_at = "g") {
  return db
      .Exec(fmt::format(
          "ALTER TABLE deliveries SET (autovacuum_enabled = false);"
          "ALTER TABLE events SET (autovacuum_enabled = false);"
          "INSERT INTO events (id, organization_id, event_type_id, payload, created_at) "
          "SELECT 'evt_bulk_' || g, 1, 1, '{{}}', g FROM generate_series(1, {0}) g;"
          "INSERT INTO deliveries (id, event_id, config_id, organization_id, status, "
          "attempt_count, next_attempt_at, last_status_code, last_error, "
          "manual_pending, lease_owner, lease_until, created_at, updated_at) "
          "SELECT 'dlv_bulk_' || lpad(g::text, 6, '0'), 'evt_bulk_' || g, {1}, 1, "
          "'pending', 0, {2}, 0, '', false, '', 0, g, g FROM generate_series(1, {0}) g",
          count, config_of, due_at))
      .ok();
}

// Rows of `deliveries` read so far in the current transaction, by any scan.
std::int64_t RowsFetched(postgres::Connection& db) {
  return Must(db.Run({"test_rows_fetched",
                      "SELECT seq_tup_read + idx_tup_fetch FROM pg_stat_xact_user_tables "
                      "WHERE relid = 'deliveries'::regclass"}))
      .Int(0, 0);
}

class PostgresStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (PgUrl().empty()) GTEST_SKIP() << "WEBHOOKD_TEST_PG_URL is not set";
    for (unsigned char c : dir_.path().filename().string()) schema_ += fmt::format("{:02x}", c);
    PgExec("CREATE SCHEMA " + schema_);
  }
  void TearDown() override {
    if (!PgUrl().empty()) PgExec("DROP SCHEMA IF EXISTS " + schema_ + " CASCADE");
  }

  std::string Url() const {
    const std::string url = PgUrl();
    return url + (url.find('?') == std::string::npos ? '?' : '&') + "options=-csearch_path%3D" +
           schema_;
  }
  std::unique_ptr<Store> Open(const std::string& node_id) {
    return Must(OpenStore(Url(), clock_, StoreOptions{node_id}));
  }

  WebhookConfig Config() const {
    WebhookConfig c;
    c.organization_id = 1;
    c.name = "hook";
    c.url = "https://receiver.example/hook";
    c.event_type_id = 1;
    c.secret = "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0";
    return c;
  }
  WebhookConfig FifoConfig() const {
    WebhookConfig c = Config();
    c.ordering = DeliveryOrdering::kFifo;
    return c;
  }
  // Runs `statements` (given the clock's time) in a transaction that is rolled back, twice:
  // before the deliveries' first ANALYZE and after it. Each time they must read fewer than
  // 1 000 rows of the deliveries.
  void ExpectFewRowsReadBeforeAndAfterAnalyze(postgres::Connection& db,
                                              const std::function<void(UnixMillis)>& statements) {
    for (const bool analyzed : {false, true}) {
      SCOPED_TRACE(analyzed ? "after ANALYZE" : "before the first ANALYZE");
      if (analyzed) {
        ASSERT_TRUE(db.Exec("ANALYZE deliveries").ok());
      }
      ASSERT_TRUE(db.Exec("BEGIN").ok());
      const std::int64_t before = RowsFetched(db);
      statements(clock_.Now());
      EXPECT_LT(RowsFetched(db) - before, 1000) << "the statements read the backlog";
      ASSERT_TRUE(db.Exec("ROLLBACK").ok());
    }
  }

  NewEvent Event() const {
    NewEvent e;
    e.id = NewSortableId("evt", clock_.Now());
    e.organization_id = 1;
    e.event_type_id = 1;
    e.payload_json = "{}";
    return e;
  }

  TempDir dir_;
  std::string schema_ = "webhookd_pgtest_";
  ManualClock clock_;
};

TEST_F(PostgresStoreTest, NodesStartingTogetherMigrateOnce) {
  constexpr int kNodes = 4;
  std::vector<Result<std::unique_ptr<Store>>> opened;
  for (int i = 0; i < kNodes; ++i) opened.emplace_back(Error::Internal("not opened"));
  std::vector<std::thread> threads;
  for (int i = 0; i < kNodes; ++i) {
    threads.emplace_back(
        [&, i] { opened[i] = OpenStore(Url(), clock_, StoreOptions{"node" + std::to_string(i)}); });
  }
  for (std::thread& t : threads) t.join();
  for (int i = 0; i < kNodes; ++i) {
    ASSERT_TRUE(opened[i].ok()) << opened[i].error().message;
  }
  const WebhookConfig created = Must((*opened[0])->CreateConfig(Config(), test::kNoConfigLimit));
  EXPECT_EQ(Must((*opened[3])->GetConfig(created.id, std::nullopt)).name, "hook");
}

TEST_F(PostgresStoreTest, ADueDeliveryIsClaimedByExactlyOneNode) {
  std::unique_ptr<Store> a = Open("a");
  std::unique_ptr<Store> b = Open("b");
  Must(a->CreateConfig(Config(), test::kNoConfigLimit));
  constexpr int kEvents = 200;
  for (int i = 0; i < kEvents; ++i) {
    std::vector<Result<IngestedEvent>> r = (i % 2 == 0 ? a : b)->IngestEvents({Event()});
    ASSERT_TRUE(r.at(0).ok());
  }
  std::vector<std::string> claimed_a, claimed_b;
  auto claim_all = [&](Store& store, std::vector<std::string>& out) {
    while (true) {
      std::vector<DeliveryJob> jobs =
          Must(store.ClaimDue(clock_.Now(), 7, clock_.Now() + 60'000, {}));
      if (jobs.empty()) return;
      for (const DeliveryJob& job : jobs) out.push_back(job.delivery.id);
    }
  };
  std::thread other([&] { claim_all(*b, claimed_b); });
  claim_all(*a, claimed_a);
  other.join();
  std::set<std::string> all(claimed_a.begin(), claimed_a.end());
  all.insert(claimed_b.begin(), claimed_b.end());
  EXPECT_EQ(all.size(), claimed_a.size() + claimed_b.size()) << "a delivery was claimed twice";
  EXPECT_EQ(all.size(), static_cast<std::size_t>(kEvents));
  EXPECT_EQ(Must(a->CountDeliveries()).delivering, kEvents);
}

// A rate-limited configuration's deliveries go to the node holding its queue lease only, also
// when both nodes claim at once; once that lease has ended, another node takes it over.
TEST_F(PostgresStoreTest, ARateLimitedConfigurationsQueueIsHeldByOneNodeAtATime) {
  std::unique_ptr<Store> a = Open("a");
  std::unique_ptr<Store> b = Open("b");
  WebhookConfig limited = Config();
  limited.rate_limit = 5;
  limited = Must(a->CreateConfig(limited, test::kNoConfigLimit));
  Must(a->CreateConfig(Config(), test::kNoConfigLimit));  // unlimited, same event type
  constexpr int kEvents = 40;
  for (int i = 0; i < kEvents; ++i) ASSERT_TRUE(a->IngestEvents({Event()}).at(0).ok());

  std::map<std::string, int> limited_by_node;  // claims of the limited configuration, by node
  std::mutex mu;
  auto claim_all = [&](Store& store, const std::string& node) {
    for (;;) {
      std::vector<DeliveryJob> jobs =
          Must(store.ClaimDue(clock_.Now(), 3, clock_.Now() + 60'000, {}));
      if (jobs.empty()) return;
      std::lock_guard lock(mu);
      for (const DeliveryJob& job : jobs) {
        if (job.config.id == limited.id) ++limited_by_node[node];
      }
    }
  };
  std::thread other([&] { claim_all(*b, "b"); });
  claim_all(*a, "a");
  other.join();
  ASSERT_EQ(limited_by_node.size(), 1u) << "both nodes sent the rate-limited configuration";
  EXPECT_EQ(limited_by_node.begin()->second, kEvents);
  EXPECT_EQ(Must(a->CountDeliveries()).delivering, 2 * kEvents);

  // The holder stops claiming; after its lease (60 s) the other node takes the queue over.
  const std::string holder = limited_by_node.begin()->first;
  Store& taker = holder == "a" ? *b : *a;
  ASSERT_TRUE(a->IngestEvents({Event()}).at(0).ok());
  std::vector<DeliveryJob> early =
      Must(taker.ClaimDue(clock_.Now(), 10, clock_.Now() + 60'000, {}));
  ASSERT_EQ(early.size(), 1u);  // the unlimited configuration's delivery only
  EXPECT_NE(early[0].config.id, limited.id);
  clock_.Advance(60'001);
  std::vector<DeliveryJob> later =
      Must(taker.ClaimDue(clock_.Now(), 10, clock_.Now() + 60'000, {}));
  ASSERT_EQ(later.size(), 1u);
  EXPECT_EQ(later[0].config.id, limited.id);
}

TEST_F(PostgresStoreTest, AnotherNodesCommitWakesThisNode) {
  std::unique_ptr<Store> a = Open("a");
  std::unique_ptr<Store> b = Open("b");
  std::atomic<int> a_woken{0}, b_woken{0};
  a->SetWorkListener([&] { ++a_woken; });
  b->SetWorkListener([&] { ++b_woken; });
  Must(a->CreateConfig(Config(), test::kNoConfigLimit));
  // The listener's LISTEN may still be on its way: ingest until b hears of it (bounded).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (b_woken.load() == 0 && std::chrono::steady_clock::now() < deadline) {
    ASSERT_TRUE(a->IngestEvents({Event()}).at(0).ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_GT(b_woken.load(), 0) << "b never heard of a's work";
  EXPECT_GT(a_woken.load(), 0);
}

TEST_F(PostgresStoreTest, OnlyEndedLeasesAreReleased) {
  std::unique_ptr<Store> a = Open("a");
  std::unique_ptr<Store> b = Open("b");
  Must(a->CreateConfig(Config(), test::kNoConfigLimit));
  ASSERT_TRUE(a->IngestEvents({Event()}).at(0).ok());
  ASSERT_EQ(Must(a->ClaimDue(clock_.Now(), 10, clock_.Now() + 5000, {})).size(), 1u);
  // b starts while a's lease runs: the delivery is a's live work, not b's to take.
  EXPECT_EQ(Must(b->ReleaseExpiredLeases(clock_.Now())), 0);
  EXPECT_TRUE(Must(b->ClaimDue(clock_.Now(), 10, clock_.Now() + 5000, {})).empty());
  clock_.Advance(5001);  // a died: its lease ended
  EXPECT_EQ(Must(b->ReleaseExpiredLeases(clock_.Now())), 1);
  EXPECT_EQ(Must(b->ClaimDue(clock_.Now(), 10, clock_.Now() + 5000, {})).size(), 1u);
}

// Recording outcomes finds its deliveries by primary key once the table has grown, even on a
// connection that first ran it while the table was nearly empty: a plan made then and kept (a
// prepared statement's generic plan) joined the outcomes to a scan of every delivery, so each
// call cost more as history grew.
TEST_F(PostgresStoreTest, RecordingOutcomesFindsDeliveriesByKeyAfterTheTableGrew) {
  std::unique_ptr<Store> a = Open("a");
  Must(a->CreateConfig(Config(), test::kNoConfigLimit));
  const IngestedEvent ingested = Must(std::move(a->IngestEvents({Event()}).at(0)));
  const Delivery& delivery = ingested.deliveries.at(0);
  auto db = Must(postgres::Connection::Open(Url()));
  ASSERT_TRUE(db->Exec("BEGIN").ok());
  auto record = [&] {
    const std::string ids = postgres::ArrayLiteral({delivery.id});
    return Must(db->Run(postgres::kRecordDeliveryOutcomes, postgres::Params()
                                                               .Text(ids)
                                                               .Text("{pending}")
                                                               .Text("{500}")
                                                               .Text("{\"HTTP 500\"}")
                                                               .Text("{1000}")
                                                               .Int(clock_.Now())));
  };
  for (int i = 0; i < 10; ++i) ASSERT_EQ(record().size(), 1);
  ASSERT_TRUE(
      db->Exec(fmt::format("INSERT INTO deliveries (id, event_id, config_id, organization_id, "
                           "status, attempt_count, next_attempt_at, last_status_code, last_error, "
                           "manual_pending, lease_owner, lease_until, created_at, updated_at) "
                           "SELECT 'dlv_bulk_' || g, '{}', {}, 1, 'succeeded', 1, 0, 200, '', "
                           "false, '', 0, 0, 0 FROM generate_series(1, 20000) g",
                           delivery.event_id, delivery.config_id))
          .ok());
  auto seq_scans = [&] {
    return Must(db->Run({"test_seq_scans",
                         "SELECT seq_scan FROM pg_stat_xact_user_tables "
                         "WHERE relid = 'deliveries'::regclass"}))
        .Int(0, 0);
  };
  const std::int64_t before = seq_scans();
  EXPECT_EQ(record().Text(0, 0), delivery.id);
  Must(db->Run(postgres::kRecordDeliveryOutcomesUnlessMissing, postgres::Params()
                                                                   .TextArray({delivery.id})
                                                                   .TextArray({"failed"})
                                                                   .Text("{500}")
                                                                   .TextArray({"HTTP 500"})
                                                                   .Text("{0}")
                                                                   .Int(clock_.Now())));
  EXPECT_EQ(seq_scans(), before) << "recording outcomes scanned the whole deliveries table";
  ASSERT_TRUE(db->Exec("ROLLBACK").ok());
}

// A claim walks the due index and stops at its limit even before the table's first ANALYZE:
// PostgreSQL's guess for an unanalyzed table (a couple of dozen due rows) made it fetch every
// due delivery with its event and configuration and sort them all, on every claim of a fresh
// database's first minute under a backlog.
TEST_F(PostgresStoreTest, AClaimReadsOnlyWhatItTakesBeforeTheFirstAnalyze) {
  std::unique_ptr<Store> a = Open("a");
  const WebhookConfig config = Must(a->CreateConfig(Config(), test::kNoConfigLimit));
  constexpr int kDue = 30'000;
  auto db = Must(postgres::Connection::Open(Url()));
  ASSERT_TRUE(AddBulkPendingDeliveries(*db, kDue, std::to_string(config.id)));
  ASSERT_EQ(Must(db->Run({"test_reltuples",
                          "SELECT reltuples FROM pg_class WHERE oid = 'deliveries'::regclass"}))
                .Int(0, 0),
            -1)
      << "the table was analyzed: this test needs it as a fresh database has it";
  ASSERT_TRUE(db->Exec("BEGIN").ok());
  const std::int64_t before = RowsFetched(*db);
  const UnixMillis now = clock_.Now();
  std::vector<DeliveryJob> claimed =
      Must(postgres::Operations::ClaimDue(*db, now, 64, now + 60'000, {}, "a", now));
  ASSERT_EQ(claimed.size(), 64u);
  EXPECT_EQ(claimed.front().delivery.id, "dlv_bulk_000001");
  EXPECT_EQ(claimed.back().delivery.id, "dlv_bulk_000064");
  EXPECT_LT(RowsFetched(*db) - before, 1000) << "the claim read every due delivery to take 64";
  ASSERT_TRUE(db->Exec("ROLLBACK").ok());
}

// A configuration the dispatcher holds back (its receiver never answers) gathers due
// deliveries that every claim leaves aside. The claim that skips it visits the configurations
// with pending deliveries instead of walking the due index, so it reads what it takes and not
// that backlog, before the table's first ANALYZE and after it.
TEST_F(PostgresStoreTest, AClaimSkipsAHeldBackConfigurationsBacklogWithoutReadingIt) {
  std::unique_ptr<Store> a = Open("a");
  const WebhookConfig held = Must(a->CreateConfig(Config(), test::kNoConfigLimit));
  const WebhookConfig free = Must(a->CreateConfig(Config(), test::kNoConfigLimit));
  constexpr int kHeldBack = 30'000;
  auto db = Must(postgres::Connection::Open(Url()));
  ASSERT_TRUE(AddBulkPendingDeliveries(
      *db, kHeldBack, fmt::format("CASE WHEN g % 6000 = 0 THEN {} ELSE {} END", free.id, held.id)));
  ExpectFewRowsReadBeforeAndAfterAnalyze(*db, [&](UnixMillis now) {
    std::vector<DeliveryJob> claimed =
        Must(postgres::Operations::ClaimDue(*db, now, 64, now + 60'000, {held.id}, "a", now));
    ASSERT_EQ(claimed.size(), 5u);
    EXPECT_EQ(claimed.front().delivery.id, "dlv_bulk_006000");
    EXPECT_EQ(claimed.back().delivery.id, "dlv_bulk_030000");
  });
}

// A FIFO configuration's deliveries behind the one being retried wait for their turn, out of the
// due range of the index: the claim (walking the due index, or visiting configurations when one
// is held back), the next due time, the start of the next turn and the lease sweep's search for
// turns nobody started read a few rows behind 30 000 of them, before the table's first ANALYZE
// and after it.
TEST_F(PostgresStoreTest, AFifoConfigurationsWaitingDeliveriesAreNotReadByClaims) {
  std::unique_ptr<Store> a = Open("a");
  const WebhookConfig fifo = Must(a->CreateConfig(FifoConfig(), test::kNoConfigLimit));
  const WebhookConfig free = Must(a->CreateConfig(Config(), test::kNoConfigLimit));
  constexpr int kWaiting = 30'000;
  auto db = Must(postgres::Connection::Open(Url()));
  // The first is the FIFO configuration's, to be retried in a minute; every 6 000th the free
  // one's, due.
  const UnixMillis retry_at = clock_.Now() + 60'000;
  ASSERT_TRUE(AddBulkPendingDeliveries(
      *db, kWaiting, fmt::format("CASE WHEN g % 6000 = 0 THEN {} ELSE {} END", free.id, fifo.id),
      fmt::format("CASE WHEN g % 6000 = 0 THEN g WHEN g = 1 THEN {} ELSE {} END", retry_at,
                  kWaitingForTurn)));
  ExpectFewRowsReadBeforeAndAfterAnalyze(*db, [&](UnixMillis now) {
    EXPECT_EQ(Must(postgres::Operations::NextDueAt(*db)), std::optional<UnixMillis>(6'000));
    EXPECT_EQ(Must(db->Run(postgres::kStartNextTurn, postgres::Params().Int(fifo.id).Int(now)))
                  .Affected(),
              0);
    // It looks each configuration's oldest pending delivery up: the free one's comes after
    // 5 999 others in the primary key.
    EXPECT_EQ(Must(db->Run(postgres::kStartStrandedTurns, postgres::Params().Int(now))).Affected(),
              0);
    EXPECT_TRUE(
        Must(postgres::Operations::ClaimDue(*db, now, 64, now + 60'000, {free.id}, "a", now))
            .empty());
    std::vector<DeliveryJob> claimed =
        Must(postgres::Operations::ClaimDue(*db, now, 64, now + 60'000, {}, "a", now));
    ASSERT_EQ(claimed.size(), 5u);
    EXPECT_EQ(claimed.front().delivery.id, "dlv_bulk_006000");
    EXPECT_EQ(Must(postgres::Operations::NextDueAt(*db)), std::optional<UnixMillis>(retry_at));
  });
}

// Two nodes at once: one ends a FIFO configuration's turn while the other ingests a delivery
// of it. Whichever goes first, the new delivery is not left waiting for a turn nobody starts:
// the insert's parking locks the delivery it waits behind, so either it waits for the end and
// finds the turn over, or the end waits for its commit and then starts the new one's turn.
TEST_F(PostgresStoreTest, AFifoTurnEndingOnOneNodeWhileAnotherIngestsStartsTheNextTurn) {
  std::unique_ptr<Store> a = Open("a");
  const WebhookConfig fifo = Must(a->CreateConfig(FifoConfig(), test::kNoConfigLimit));
  auto ending = Must(postgres::Connection::Open(Url()));
  auto ingesting = Must(postgres::Connection::Open(Url()));
  const UnixMillis now = clock_.Now();
  auto add = [&](const std::string& id, std::string_view status) {
    return fmt::format(
        "INSERT INTO deliveries (id, event_id, config_id, organization_id, status, "
        "attempt_count, next_attempt_at, last_status_code, last_error, manual_pending, "
        "lease_owner, lease_until, created_at, updated_at) VALUES ('{}', 'evt_1', {}, 1, '{}', "
        "0, {}, 0, '', false, '', 0, {}, {})",
        id, fifo.id, status, now, now, now);
  };
  ASSERT_TRUE(ending
                  ->Exec("INSERT INTO events (id, organization_id, event_type_id, payload, "
                         "created_at) VALUES ('evt_1', 1, 1, '{}', 1)")
                  .ok());
  auto end_turn = [&](const std::string& id) {
    return ending->Exec("UPDATE deliveries SET status = 'succeeded' WHERE id = '" + id + "'").ok();
  };
  auto start_next = [&] {
    return ending->Run(postgres::kStartNextTurn, postgres::Params().Int(fifo.id).Int(now)).ok();
  };
  auto ingest = [&](const std::string& id) {
    return ingesting->Exec(add(id, "pending")).ok() &&
           ingesting
               ->Run(postgres::kParkWaitingDeliveries,
                     postgres::Params().Text(postgres::ArrayLiteral({id})))
               .ok();
  };
  auto next_attempt_of = [&](const std::string& id) {
    return Must(a->GetDelivery(id, std::nullopt)).next_attempt_at;
  };

  // The end first: the parking waits for its commit, and finds the turn over.
  ASSERT_TRUE(ending->Exec(add("dlv_1", "delivering")).ok());
  ASSERT_TRUE(ending->Exec("BEGIN").ok() && end_turn("dlv_1"));
  ASSERT_TRUE(ingesting->Exec("BEGIN").ok());
  std::thread parking([&] { EXPECT_TRUE(ingest("dlv_2")); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_TRUE(start_next() && ending->Exec("COMMIT").ok());
  parking.join();
  ASSERT_TRUE(ingesting->Exec("COMMIT").ok());
  EXPECT_EQ(next_attempt_of("dlv_2"), now) << "it waits for a turn that ended";

  // The parking first: the end waits for its commit, then starts the new one's turn.
  ASSERT_TRUE(ending->Exec("UPDATE deliveries SET status = 'delivering' WHERE id = 'dlv_2'").ok());
  ASSERT_TRUE(ingesting->Exec("BEGIN").ok() && ingest("dlv_3"));
  std::thread end([&] {
    EXPECT_TRUE(ending->Exec("BEGIN").ok() && end_turn("dlv_2") && start_next() &&
                ending->Exec("COMMIT").ok());
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_TRUE(ingesting->Exec("COMMIT").ok());
  end.join();
  EXPECT_EQ(next_attempt_of("dlv_3"), now) << "nobody started its turn";
}

// A database of the schema before FIFO deliveries waited for their turn (migrations 1 to 11),
// with a FIFO configuration's delivery in flight and two behind it, upgrades in place: those
// two wait for their turn, the other configuration's pending one does not.
TEST_F(PostgresStoreTest, ADatabaseOfTheSchemaBeforeFifoTurnsParksTheWaitingDeliveries) {
  {
    auto db = Must(postgres::Connection::Open(Url()));
    const std::span<const postgres::Migration> all = postgres::EmbeddedMigrations();
    ASSERT_GE(all.size(), 12u);
    ASSERT_EQ(all[11].name, "fifo_waiting_for_turn");
    ASSERT_EQ(Must(postgres::ApplyMigrations(*db, all.first(11), clock_)), 11);
    constexpr std::string_view kConfig =
        "({0}, 1, 'hook', 'https://receiver.example/hook', 1, '{{}}', '{{}}', true, false, 1, "
        "'whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0', '', 0, false, 0, 0, '', 0, '', 0, 0, "
        "'{1}')";
    constexpr std::string_view kDelivery =
        "('{0}', 'evt_1', {1}, 1, '{2}', 0, 10, 0, '', false, '{3}', {4}, 10, 10)";
    ASSERT_TRUE(
        db->Exec(fmt::format(
                     "INSERT INTO webhook_configs (id, organization_id, name, url, event_type_id, "
                     "attributes_json, headers_json, active, send_organization_code, version, "
                     "secret, previous_secret, previous_secret_expires_at, is_deleted, created_at, "
                     "updated_at, disabled_reason, timeout_ms, retry_schedule_json, failing_since, "
                     "rate_limit, ordering) VALUES {}, {};"
                     "INSERT INTO events (id, organization_id, event_type_id, payload, created_at) "
                     "VALUES ('evt_1', 1, 1, '{{}}', 10);"
                     "INSERT INTO deliveries (id, event_id, config_id, organization_id, status, "
                     "attempt_count, next_attempt_at, last_status_code, last_error, "
                     "manual_pending, lease_owner, lease_until, created_at, updated_at) "
                     "VALUES {}, {}, {}, {}",
                     fmt::format(kConfig, 1, "fifo"), fmt::format(kConfig, 2, "none"),
                     fmt::format(kDelivery, "dlv_1", 1, "delivering", "a", 9'000'000'000'000),
                     fmt::format(kDelivery, "dlv_2", 1, "pending", "", 0),
                     fmt::format(kDelivery, "dlv_3", 1, "pending", "", 0),
                     fmt::format(kDelivery, "dlv_4", 2, "pending", "", 0)))
            .ok());
  }
  std::unique_ptr<Store> a = Open("a");
  auto next_attempt_of = [&](const std::string& id) {
    return Must(a->GetDelivery(id, std::nullopt)).next_attempt_at;
  };
  EXPECT_EQ(next_attempt_of("dlv_2"), kWaitingForTurn);
  EXPECT_EQ(next_attempt_of("dlv_3"), kWaitingForTurn);
  EXPECT_EQ(next_attempt_of("dlv_4"), 10);
}

// Migration 8 replaces the delivery indexes of a database made by migrations 1 to 7 in place,
// and migration 10 adds the failed deliveries' one: the rows stay, and the statements that read
// the replaced indexes (lease expiry, claims, the open counts) go on working.
TEST_F(PostgresStoreTest, ADatabaseOfTheSchemaBeforeTheLeanIndexesUpgradesInPlace) {
  {
    auto db = Must(postgres::Connection::Open(Url()));
    ASSERT_EQ(Must(postgres::ApplyMigrations(*db, postgres::EmbeddedMigrations().first(7), clock_)),
              7);
    const std::string now = std::to_string(clock_.Now());
    ASSERT_TRUE(
        db->Exec("INSERT INTO webhook_configs (id, organization_id, name, url, "
                 "event_type_id, attributes_json, headers_json, active, "
                 "send_organization_code, version, secret, previous_secret, "
                 "previous_secret_expires_at, is_deleted, created_at, updated_at, "
                 "disabled_reason, timeout_ms, retry_schedule_json, failing_since, "
                 "rate_limit, ordering) VALUES (1, 1, 'hook', "
                 "'https://receiver.example/hook', 1, '{}', '{}', true, false, 1, "
                 "'whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0', '', 0, false, 0, 0, '', 0, "
                 "'', 0, 0, 'none');"
                 "INSERT INTO events (id, organization_id, event_type_id, payload, "
                 "created_at) VALUES ('evt_old', 1, 1, '{\"n\":1}', " +
                 now +
                 ");"
                 "INSERT INTO deliveries (id, event_id, config_id, organization_id, status, "
                 "attempt_count, next_attempt_at, last_status_code, last_error, "
                 "manual_pending, lease_owner, lease_until, created_at, updated_at) VALUES "
                 "('dlv_1_pending', 'evt_old', 1, 1, 'pending', 0, " +
                 now +
                 ", 0, '', "
                 "false, '', 0, " +
                 now + ", " + now +
                 "), "
                 "('dlv_2_leased', 'evt_old', 1, 1, 'delivering', 0, " +
                 now +
                 ", 0, '', "
                 "false, 'gone-node', " +
                 std::to_string(clock_.Now() - 1) + ", " + now + ", " + now +
                 "), "
                 "('dlv_3_done', 'evt_old', 1, 1, 'succeeded', 1, " +
                 now +
                 ", 200, '', "
                 "false, '', 0, " +
                 now + ", " + now +
                 "), "
                 "('dlv_4_failed', 'evt_old', 1, 1, 'failed', 3, " +
                 now +
                 ", 500, 'HTTP 500', "
                 "false, '', 0, " +
                 now + ", " + now + ")")
            .ok());
  }
  std::unique_ptr<Store> a = Open("a");
  auto db = Must(postgres::Connection::Open(Url()));
  postgres::Rows indexes = Must(db->Run({"test_delivery_indexes",
                                         "SELECT string_agg(indexname, ',' ORDER BY indexname) "
                                         "FROM pg_indexes WHERE tablename = 'deliveries' "
                                         "AND schemaname = current_schema()"}));
  EXPECT_EQ(indexes.Text(0, 0),
            "deliveries_by_config,deliveries_by_event,deliveries_due,deliveries_due_by_config,"
            "deliveries_failed,"
            "deliveries_open,deliveries_pkey");

  EXPECT_EQ(Must(a->CountDeliveries()).delivering, 1);
  // Migration 10's index holds the failed delivery that was there before it.
  const DeliveryBacklog backlog = Must(a->CountBacklog());
  EXPECT_EQ(backlog.pending, 1);
  EXPECT_EQ(backlog.delivering, 1);
  EXPECT_EQ(backlog.failed, 1);
  // The backlog can be counted from the two partial indexes alone (here with sequential scans
  // forbidden: on four rows the planner would rather read the table).
  ASSERT_TRUE(db->Exec("SET enable_seqscan = off").ok());
  const std::string explain = "EXPLAIN " + std::string(postgres::kCountBacklog.sql);
  postgres::Rows plan = Must(db->Run({"test_backlog_plan", explain}));
  std::string plan_text;
  for (int row = 0; row < plan.size(); ++row) plan_text += plan.Text(row, 0) + "\n";
  EXPECT_NE(plan_text.find("Index Only Scan using deliveries_open"), std::string::npos)
      << plan_text;
  EXPECT_NE(plan_text.find("Index Only Scan using deliveries_failed"), std::string::npos)
      << plan_text;
  EXPECT_EQ(plan_text.find("Seq Scan"), std::string::npos) << plan_text;
  // A configuration's listing by an unfinished status is a range of the index holding that
  // status, in the generic plan too (the parameters' values unknown).
  ASSERT_TRUE(db->Exec("SET plan_cache_mode = force_generic_plan").ok());
  const std::pair<const postgres::Statement*, std::string_view> listings[] = {
      {&postgres::kListOpenDeliveriesOfConfig, "Index Scan using deliveries_open"},
      {&postgres::kListFailedDeliveriesOfConfig, "Index Scan using deliveries_failed"}};
  for (const auto& [statement, walk] : listings) {
    ASSERT_TRUE(db->Exec("PREPARE test_listing AS " + std::string(statement->sql)).ok());
    postgres::Rows listing = Must(
        db->Run({"test_listing_plan",
                 "EXPLAIN EXECUTE test_listing('', NULL, NULL, 1, 'failed', NULL, 50, 'dlv_8', "
                 "NULL, NULL)"}));
    std::string listing_text;
    for (int row = 0; row < listing.size(); ++row) listing_text += listing.Text(row, 0) + "\n";
    EXPECT_NE(listing_text.find(walk), std::string::npos) << statement->sql << "\n" << listing_text;
    ASSERT_TRUE(db->Exec("DEALLOCATE test_listing").ok());
  }
  ASSERT_TRUE(db->Exec("RESET plan_cache_mode").ok());
  ASSERT_TRUE(db->Exec("RESET enable_seqscan").ok());
  EXPECT_EQ(Must(a->ReleaseExpiredLeases(clock_.Now())), 1);  // the ended lease
  std::vector<DeliveryJob> claimed = Must(a->ClaimDue(clock_.Now(), 10, clock_.Now() + 5000, {}));
  std::set<std::string> ids;
  for (const DeliveryJob& job : claimed) ids.insert(job.delivery.id);
  EXPECT_EQ(ids, (std::set<std::string>{"dlv_1_pending", "dlv_2_leased"}));
  for (const DeliveryJob& job : claimed) EXPECT_EQ(job.event.payload_json, "{\"n\":1}");
  EXPECT_EQ(Must(a->GetDelivery("dlv_3_done", std::nullopt)).status, DeliveryStatus::kSucceeded);
  EXPECT_EQ(Must(a->CountDeliveries()).delivering, 2);

  // Migration 9: the configuration written before it, which has no fan-out version yet, gets
  // new events.
  const std::vector<Result<IngestedEvent>> ingested = a->IngestEvents({Event()});
  ASSERT_TRUE(ingested.at(0).ok());
  ASSERT_EQ(ingested.at(0)->deliveries.size(), 1u);
  EXPECT_EQ(ingested.at(0)->deliveries.at(0).config_id, 1);
}

// The configuration ids of the deliveries stored for an event just ingested by `store`.
std::set<std::int64_t> FannedOutTo(Store& store, NewEvent event, IngestLimits limits = {}) {
  const std::string id = event.id;
  std::vector<Result<IngestedEvent>> ingested = store.IngestEvents({std::move(event)}, limits);
  EXPECT_TRUE(ingested.at(0).ok()) << ingested.at(0).error().message;
  std::set<std::int64_t> ids;
  for (const Delivery& d : Must(store.DeliveriesOfEvent(id, std::nullopt))) ids.insert(d.config_id);
  if (ingested.at(0).ok()) {
    std::set<std::int64_t> answered;
    for (const Delivery& d : ingested.at(0)->deliveries) answered.insert(d.config_id);
    EXPECT_EQ(answered, ids) << "the ingest answered other deliveries than it stored";
  }
  return ids;
}

// A node keeps the configurations an event fans out to in memory; the event's INSERT checks
// the fan-out's version, which any write to one of them moves (a trigger, migration 9), so a
// change made on any node counts from the next event on, as when each event read them.
TEST_F(PostgresStoreTest, ANodeFansOutFromMemoryUntilAnyNodeChangesAConfiguration) {
  std::unique_ptr<Store> a = Open("a");
  std::unique_ptr<Store> b = Open("b");
  WebhookConfig x = Must(a->CreateConfig(Config(), test::kNoConfigLimit));
  EXPECT_EQ(FannedOutTo(*a, Event()), (std::set<std::int64_t>{x.id}));

  // From memory: a change that does not move the version goes unseen by `a`, not by `b`.
  PgExec("SET search_path TO " + schema_ +
         "; ALTER TABLE webhook_configs DISABLE TRIGGER webhook_configs_fan_out_version; "
         "UPDATE webhook_configs SET active = false; "
         "ALTER TABLE webhook_configs ENABLE TRIGGER webhook_configs_fan_out_version");
  EXPECT_EQ(FannedOutTo(*a, Event()), (std::set<std::int64_t>{x.id}));
  EXPECT_EQ(FannedOutTo(*b, Event()), (std::set<std::int64_t>{}));
  PgExec("SET search_path TO " + schema_ + "; UPDATE webhook_configs SET active = true");
  EXPECT_EQ(FannedOutTo(*a, Event()), (std::set<std::int64_t>{x.id}));

  // Changes made through the other node. The limit of one delivery holds although `a`'s first
  // try, from memory, counted x before it found the fan-out changed.
  WebhookConfig y = Must(b->CreateConfig(Config(), test::kNoConfigLimit));
  x.active = false;
  x = Must(b->UpdateConfig(x, std::nullopt));
  EXPECT_EQ(FannedOutTo(*a, Event(), IngestLimits{.max_deliveries = 1}),
            (std::set<std::int64_t>{y.id}));
  ASSERT_TRUE(b->DeleteConfig(y.id, std::nullopt).ok());
  EXPECT_EQ(FannedOutTo(*a, Event()), (std::set<std::int64_t>{}));
  x.active = true;
  x = Must(b->UpdateConfig(x, std::nullopt));
  EXPECT_EQ(FannedOutTo(*a, Event()), (std::set<std::int64_t>{x.id}));
  NewEvent other_type = Event();
  other_type.event_type_id = 2;
  EXPECT_EQ(FannedOutTo(*a, other_type), (std::set<std::int64_t>{}));
}

// The events a writer batch ingests are held and reach the server in one statement, sent before
// any other statement of the batch, so that what follows sees them; they are inserted only if no
// configuration they were fanned out to from memory has changed since.
TEST_F(PostgresStoreTest, EventsHeldByABatchReachTheServerBeforeItsNextStatement) {
  std::unique_ptr<Store> a = Open("a");
  const WebhookConfig config = Must(a->CreateConfig(Config(), test::kNoConfigLimit));
  auto db = Must(postgres::Connection::Open(Url()));
  postgres::EventBatch held("a");
  postgres::FanOutCache fan_outs;
  auto ingest_three = [&] {
    store_common::DeliveryBudget budget(100);
    for (int i = 0; i < 3; ++i) {
      postgres::WriteContext context(*db);
      const IngestedEvent ingested = Must(postgres::Operations::IngestEvent(
          context, Event(), nullptr, budget, "a", fan_outs, clock_.Now()));
      ASSERT_EQ(ingested.deliveries.size(), 1u);
      EXPECT_EQ(ingested.deliveries[0].config_id, config.id);
    }
  };
  const postgres::Statement count{
      "test_count_ingested",
      "SELECT (SELECT COUNT(*) FROM events), (SELECT COUNT(*) FROM deliveries "
      "WHERE config_id = $1::bigint AND status = 'pending')"};
  ASSERT_TRUE(db->Exec("BEGIN").ok());
  db->HoldWrites(&held);
  ingest_three();
  EXPECT_FALSE(held.empty()) << "the events went to the server one by one";
  const postgres::Rows counted = Must(db->Run(count, postgres::Params().Int(config.id)));
  EXPECT_TRUE(held.empty());
  EXPECT_EQ(counted.Int(0, 0), 3);
  EXPECT_EQ(counted.Int(0, 1), 3);
  ASSERT_TRUE(db->Exec("ROLLBACK").ok());

  // The configurations are in memory now. Another node adds one: the held events, fanned out
  // from memory, are refused as a whole, and nothing of them is stored.
  ASSERT_TRUE(db->Exec("BEGIN").ok());
  ingest_three();
  Must(Open("b")->CreateConfig(Config(), test::kNoConfigLimit));
  const Result<postgres::Rows> refused = db->Run(count, postgres::Params().Int(config.id));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().kind, ErrorKind::kConflict);
  ASSERT_TRUE(db->Exec("ROLLBACK").ok());
  db->HoldWrites(nullptr);
  EXPECT_EQ(Must(db->Run(count, postgres::Params().Int(config.id))).Int(0, 0), 0);

  // Past a mebibyte of payloads held, the next event goes after those held (configurations
  // read anew: those in memory are out of date).
  ASSERT_TRUE(db->Exec("BEGIN").ok());
  db->HoldWrites(&held);
  postgres::FanOutCache read_anew;
  store_common::DeliveryBudget budget(100);
  NewEvent large = Event();
  large.payload_json = "{\"note\":\"" + std::string(600 * 1024, 'x') + "\"}";
  for (int i = 0; i < 3; ++i) {
    large.id = NewSortableId("evt", clock_.Now());
    postgres::WriteContext context(*db);
    Must(postgres::Operations::IngestEvent(context, large, nullptr, budget, "a", read_anew,
                                           clock_.Now()));
  }
  EXPECT_EQ(held.size(), 1u) << "the first two, 1.2 MiB, were not sent before the third";
  EXPECT_EQ(Must(db->Run(count, postgres::Params().Int(config.id))).Int(0, 0), 3);
  ASSERT_TRUE(db->Exec("ROLLBACK").ok());
}

// The writer's BEGIN travels with the transaction's first command (one round trip, not two):
// that command runs inside the transaction whether it is a prepared statement, one planned on
// each call, or SQL text; a first command that fails leaves the transaction failed and the
// connection usable; a connection lost meanwhile is reported and can be reset.
TEST_F(PostgresStoreTest, ABeginSentWithTheFirstCommandOpensTheTransactionItRunsIn) {
  auto db = Must(postgres::Connection::Open(Url()));
  auto other = Must(postgres::Connection::Open(Url()));
  ASSERT_TRUE(db->Exec("CREATE TABLE begin_with_next (v integer NOT NULL)").ok());
  const postgres::Statement insert{"test_insert_begin_with_next",
                                   "INSERT INTO begin_with_next (v) VALUES ($1::integer)"};
  const postgres::Statement insert_planned_each_call{
      "test_insert_begin_with_next_each_call",
      "INSERT INTO begin_with_next (v) VALUES ($1::integer)", postgres::Planning::kEachCall};
  const postgres::Statement count{"test_count_begin_with_next",
                                  "SELECT COUNT(*) FROM begin_with_next"};
  auto rows_seen_by_other = [&] { return Must(other->Run(count)).Int(0, 0); };

  db->BeginWithNextCommand();
  EXPECT_FALSE(db->InTransaction()) << "BEGIN went before its command";
  Must(db->Run(insert, postgres::Params().Int(1)));
  EXPECT_TRUE(db->InTransaction());
  Must(db->Run(insert_planned_each_call, postgres::Params().Int(2)));
  EXPECT_EQ(Must(db->Run(count)).Int(0, 0), 2);
  EXPECT_EQ(rows_seen_by_other(), 0) << "the inserts ran outside a transaction";
  ASSERT_TRUE(db->Exec("ROLLBACK").ok());
  EXPECT_EQ(Must(db->Run(count)).Int(0, 0), 0);

  db->BeginWithNextCommand();
  Must(db->Run(insert_planned_each_call, postgres::Params().Int(3)));
  EXPECT_EQ(rows_seen_by_other(), 0);
  ASSERT_TRUE(db->Exec("COMMIT").ok());
  EXPECT_EQ(rows_seen_by_other(), 1);

  db->BeginWithNextCommand();
  ASSERT_TRUE(db->Exec("INSERT INTO begin_with_next (v) VALUES (4)").ok());
  EXPECT_TRUE(db->InTransaction());
  EXPECT_EQ(rows_seen_by_other(), 1);
  ASSERT_TRUE(db->Exec("ROLLBACK").ok());

  const postgres::Statement failing{"test_failing_first", "SELECT 1 / $1::integer"};
  db->BeginWithNextCommand();
  const Result<postgres::Rows> failed = db->Run(failing, postgres::Params().Int(0));
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.error().message.find("division by zero"), std::string::npos)
      << failed.error().message;
  EXPECT_TRUE(db->Healthy());
  EXPECT_TRUE(db->InTransaction()) << "the failed statement was not in the transaction";
  ASSERT_TRUE(db->Exec("ROLLBACK").ok());
  EXPECT_EQ(Must(db->Run(failing, postgres::Params().Int(1))).Int(0, 0), 1);

  const std::int64_t pid = Must(db->Run({"test_backend_pid", "SELECT pg_backend_pid()"})).Int(0, 0);
  Must(other->Run({"test_terminate", "SELECT pg_terminate_backend($1::integer)"},
                  postgres::Params().Int(pid)));
  db->BeginWithNextCommand();
  EXPECT_FALSE(db->Run(insert, postgres::Params().Int(5)).ok());
  EXPECT_FALSE(db->Healthy());
  ASSERT_TRUE(db->Reset().ok());
  db->BeginWithNextCommand();
  Must(db->Run(insert, postgres::Params().Int(6)));
  ASSERT_TRUE(db->Exec("COMMIT").ok());
  EXPECT_EQ(rows_seen_by_other(), 2);
}

// A writer's batch that sent nothing commits without a round trip and leaves no transaction
// open; one that wrote commits what it wrote.
TEST_F(PostgresStoreTest, AWriterBatchThatSentNothingLeavesNoTransactionOpen) {
  auto db = Must(postgres::Connection::Open(Url()));
  ASSERT_TRUE(db->Exec("CREATE TABLE writer_batches (v integer NOT NULL)").ok());
  postgres::WriterSession session(std::move(db), "work", "a");
  ASSERT_TRUE(session.Begin().ok());
  ASSERT_TRUE(session.Commit(false).ok());
  EXPECT_FALSE(session.db().InTransaction());
  EXPECT_FALSE(session.db().BeginPending());

  ASSERT_TRUE(session.Begin().ok());
  ASSERT_TRUE(session.db().Exec("INSERT INTO writer_batches (v) VALUES (1)").ok());
  ASSERT_TRUE(session.Commit(false).ok());
  EXPECT_FALSE(session.db().InTransaction());
  auto other = Must(postgres::Connection::Open(Url()));
  EXPECT_EQ(Must(other->Run({"test_count_writer_batches", "SELECT COUNT(*) FROM writer_batches"}))
                .Int(0, 0),
            1);

  ASSERT_TRUE(session.Begin().ok());
  EXPECT_FALSE(session.Abandon());
  EXPECT_FALSE(session.db().BeginPending()) << "an abandoned batch's BEGIN went with the next one";
}

// Writes made while the connection holds writes go without waiting for their answers; the next
// statement that reads rows, SQL text or the COMMIT reads them, in order, in one round trip. The
// first write that failed stops everything after it, the COMMIT included, and is reported as a
// write's failure; a statement whose preparation such a failure skipped is prepared again.
TEST_F(PostgresStoreTest, WritesSentWithoutWaitingAreReadWithTheNextStatementOrTheCommit) {
  struct NothingHeld final : postgres::HeldWrites {
    bool empty() const override { return true; }
    Status Send(postgres::Connection&) override { return Status::Ok(); }
  } nothing_held;
  auto db = Must(postgres::Connection::Open(Url()));
  auto other = Must(postgres::Connection::Open(Url()));
  ASSERT_TRUE(db->Exec("CREATE TABLE pipelined_writes (v integer PRIMARY KEY)").ok());
  const postgres::Statement insert{"test_insert_pipelined",
                                   "INSERT INTO pipelined_writes (v) VALUES ($1::integer)"};
  const postgres::Statement count{"test_count_pipelined", "SELECT COUNT(*) FROM pipelined_writes"};
  auto rows_seen_by_other = [&] { return Must(other->Run(count)).Int(0, 0); };
  auto write = [&](int v) { return db->Write(insert, postgres::Params().Int(v)); };
  db->HoldWrites(&nothing_held);

  db->BeginWithNextCommand();
  ASSERT_TRUE(write(1).ok());
  ASSERT_TRUE(write(2).ok());
  EXPECT_EQ(Must(db->Run(count)).Int(0, 0), 2) << "a read did not see the writes before it";
  ASSERT_TRUE(write(3).ok());
  Must(db->Run(postgres::kCommitWrites));
  EXPECT_FALSE(db->InTransaction());
  EXPECT_EQ(rows_seen_by_other(), 3);

  db->BeginWithNextCommand();
  ASSERT_TRUE(write(4).ok());
  ASSERT_TRUE(write(1).ok()) << "a write waited for its answer";
  ASSERT_TRUE(write(5).ok());
  const Result<postgres::Rows> refused = db->Run(postgres::kCommitWrites);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().kind, ErrorKind::kConflict) << refused.error().message;
  EXPECT_TRUE(db->LastErrorFromWrite());
  EXPECT_TRUE(db->Healthy());
  EXPECT_TRUE(db->InTransaction()) << "the COMMIT after a failed write ran";
  ASSERT_TRUE(db->Exec("ROLLBACK").ok());
  EXPECT_EQ(rows_seen_by_other(), 3) << "a write of the failed pipeline was committed";

  db->BeginWithNextCommand();
  ASSERT_TRUE(write(1).ok());
  const Status rolled_back = db->Exec("ROLLBACK");
  ASSERT_FALSE(rolled_back.ok()) << "SQL text hid the failure of a write before it";
  EXPECT_TRUE(db->LastErrorFromWrite());
  EXPECT_FALSE(db->InTransaction()) << "the ROLLBACK after a failed write did not run";

  const postgres::Statement failing{"test_failing_after_writes", "SELECT 1 / $1::integer"};
  db->BeginWithNextCommand();
  ASSERT_TRUE(write(6).ok());
  const Result<postgres::Rows> divided = db->Run(failing, postgres::Params().Int(0));
  ASSERT_FALSE(divided.ok());
  EXPECT_FALSE(db->LastErrorFromWrite()) << "the reading statement's own failure";
  ASSERT_TRUE(db->Exec("ROLLBACK").ok());

  const postgres::Statement insert_late{"test_insert_pipelined_late",
                                        "INSERT INTO pipelined_writes (v) VALUES ($1::integer)"};
  db->BeginWithNextCommand();
  ASSERT_TRUE(write(1).ok());
  ASSERT_TRUE(db->Write(insert_late, postgres::Params().Int(7)).ok());
  EXPECT_FALSE(db->Run(postgres::kCommitWrites).ok());
  ASSERT_TRUE(db->Exec("ROLLBACK").ok());
  db->BeginWithNextCommand();
  ASSERT_TRUE(db->Write(insert_late, postgres::Params().Int(8)).ok());
  ASSERT_TRUE(write(9).ok());
  ASSERT_TRUE(db->Exec("COMMIT").ok()) << "SQL text did not end the pipeline first";
  EXPECT_EQ(rows_seen_by_other(), 5);

  db->HoldWrites(nullptr);
  const Status at_once = write(1);
  ASSERT_FALSE(at_once.ok()) << "without held writes, a write waits for its answer";
  EXPECT_EQ(at_once.error().kind, ErrorKind::kConflict);
  EXPECT_FALSE(db->LastErrorFromWrite());
}

// A writer batch of several jobs sends their writes without waiting; one that fails is only
// seen with the COMMIT, and the batch runs again job by job: that job fails alone, with its own
// error, and the others commit.
TEST_F(PostgresStoreTest, AWriteThatFailsWithTheCommitFailsOnlyItsJobWhenTheBatchRunsAgain) {
  auto db = Must(postgres::Connection::Open(Url()));
  ASSERT_TRUE(db->Exec("CREATE TABLE batch_rows (v integer PRIMARY KEY)").ok());
  const postgres::Statement insert{"test_insert_batch_row",
                                   "INSERT INTO batch_rows (v) VALUES ($1::integer)"};
  std::vector<std::unique_ptr<postgres::WriterSession>> sessions;
  sessions.push_back(std::make_unique<postgres::WriterSession>(std::move(db), "work", "a"));
  postgres::Writer writer(std::move(sessions), nullptr);
  int deferred = 0;
  auto inserts = [&](int v) {
    return [&, v](postgres::WriteContext& c) {
      deferred += c.db().DefersWrites() ? 1 : 0;
      return c.db().Write(insert, postgres::Params().Int(v));
    };
  };
  const std::vector<Status> results =
      writer.RunAll<Status>({inserts(1), inserts(2), inserts(1), inserts(3)});
  ASSERT_EQ(results.size(), 4u);
  EXPECT_TRUE(results[0].ok());
  EXPECT_TRUE(results[1].ok());
  ASSERT_FALSE(results[2].ok());
  EXPECT_EQ(results[2].error().kind, ErrorKind::kConflict) << results[2].error().message;
  EXPECT_TRUE(results[3].ok());
  EXPECT_EQ(deferred, 4) << "the first run did not send its writes without waiting";
  auto other = Must(postgres::Connection::Open(Url()));
  const postgres::Statement sum{"test_sum_batch_rows",
                                "SELECT COALESCE(SUM(v), 0) FROM batch_rows"};
  EXPECT_EQ(Must(other->Run(sum)).Int(0, 0), 6);

  // A job that fails on its own while a failed write is still in the pipeline: the rollback
  // must still end the transaction that write left failed, or the run job by job cannot begin.
  auto fails_alone = [](postgres::WriteContext&) { return Status(Error::Invalid("no")); };
  const std::vector<Status> again =
      writer.RunAll<Status>({inserts(4), inserts(1), fails_alone, inserts(5)});
  ASSERT_EQ(again.size(), 4u);
  EXPECT_TRUE(again[0].ok()) << again[0].error().message;
  ASSERT_FALSE(again[1].ok());
  EXPECT_EQ(again[1].error().kind, ErrorKind::kConflict);
  ASSERT_FALSE(again[2].ok());
  EXPECT_EQ(again[2].error().kind, ErrorKind::kInvalid);
  EXPECT_TRUE(again[3].ok()) << again[3].error().message;
  EXPECT_EQ(Must(other->Run(sum)).Int(0, 0), 15);
}

// The outcomes' UPDATE sent without waiting fails when one of its deliveries does not exist
// (what the waiting form reads from the ids it returns), so that nothing after it is committed.
TEST_F(PostgresStoreTest, OutcomesSentWithoutWaitingFailWhenADeliveryIsMissing) {
  std::unique_ptr<Store> store = Open("a");
  Must(store->CreateConfig(Config(), test::kNoConfigLimit));
  const std::string delivery = Must(store->IngestEvents({Event()}).at(0)).deliveries.at(0).id;
  struct NothingHeld final : postgres::HeldWrites {
    bool empty() const override { return true; }
    Status Send(postgres::Connection&) override { return Status::Ok(); }
  } nothing_held;
  auto db = Must(postgres::Connection::Open(Url()));
  db->HoldWrites(&nothing_held);
  auto outcomes = [](const std::vector<std::string>& ids) {
    std::vector<std::string> statuses(ids.size(), "failed"), codes(ids.size(), "500"),
        errors(ids.size(), ""), next_at(ids.size(), "0");
    return postgres::Params()
        .Text(postgres::ArrayLiteral(ids))
        .Text(postgres::ArrayLiteral(statuses))
        .Text(postgres::ArrayLiteral(codes))
        .Text(postgres::ArrayLiteral(errors))
        .Text(postgres::ArrayLiteral(next_at))
        .Int(1);
  };
  const postgres::Statement status_of{"test_status_of", "SELECT status FROM deliveries"};

  db->BeginWithNextCommand();
  ASSERT_TRUE(
      db->Write(postgres::kRecordDeliveryOutcomesUnlessMissing, outcomes({delivery, "dlv_missing"}))
          .ok());
  const Result<postgres::Rows> refused = db->Run(postgres::kCommitWrites);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().kind, ErrorKind::kNotFound) << refused.error().message;
  EXPECT_TRUE(db->LastErrorFromWrite());
  ASSERT_TRUE(db->Exec("ROLLBACK").ok());
  EXPECT_EQ(Must(db->Run(status_of)).Text(0, 0), "pending");

  db->BeginWithNextCommand();
  ASSERT_TRUE(
      db->Write(postgres::kRecordDeliveryOutcomesUnlessMissing, outcomes({delivery, delivery}))
          .ok());
  Must(db->Run(postgres::kCommitWrites));
  EXPECT_EQ(Must(db->Run(status_of)).Text(0, 0), "failed");
}

// Text and bytea arrays go to the server in binary, each item's bytes as they are: what the text
// form had to escape (quotes, backslashes, braces, commas, the word NULL) and bytes that are not
// text arrive unchanged, an empty array is empty, and text that is not UTF-8 is refused.
TEST_F(PostgresStoreTest, ArraysSentInBinaryArriveByteForByte) {
  auto db = Must(postgres::Connection::Open(Url()));
  const std::vector<std::string> texts = {
      "",     R"({"a":"b\"c"})", "back\\slash",          "{x,y}",
      "NULL", " spaced ",        "\xc3\xa9\xe2\x9c\x93", std::string(70000, 'p')};
  const postgres::Statement unnest_texts{
      "test_unnest_texts",
      "SELECT x FROM unnest($1::text[]) WITH ORDINALITY AS t (x, n) ORDER BY n"};
  const postgres::Rows rows = Must(db->Run(unnest_texts, postgres::Params().TextArray(texts)));
  ASSERT_EQ(rows.size(), static_cast<int>(texts.size()));
  for (int i = 0; i < rows.size(); ++i) {
    EXPECT_FALSE(rows.IsNull(i, 0)) << i;
    EXPECT_EQ(rows.Text(i, 0), texts[i]) << i;
  }

  const std::vector<std::string> bytes = {std::string("\0\xff\\x0", 5), "", "\\x41"};
  const postgres::Statement unnest_bytes{
      "test_unnest_bytes",
      "SELECT x FROM unnest($1::bytea[]) WITH ORDINALITY AS t (x, n) ORDER BY n"};
  const postgres::Rows byte_rows =
      Must(db->Run(unnest_bytes, postgres::Params().BytesArray(bytes)));
  ASSERT_EQ(byte_rows.size(), 3);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(byte_rows.Bytes(i, 0), bytes[i]) << i;

  const postgres::Statement cardinality{"test_cardinality", "SELECT cardinality($1::text[])"};
  EXPECT_EQ(Must(db->Run(cardinality, postgres::Params().TextArray({}))).Int(0, 0), 0);
  const Result<postgres::Rows> not_utf8 =
      db->Run(cardinality, postgres::Params().TextArray({"ok", "\xff\xfe"}));
  ASSERT_FALSE(not_utf8.ok());
  EXPECT_NE(not_utf8.error().message.find("UTF8"), std::string::npos) << not_utf8.error().message;

  std::unique_ptr<Store> store = Open("a");
  Must(store->CreateConfig(Config(), test::kNoConfigLimit));
  std::vector<NewEvent> events(3, Event());
  events[0].payload_json = R"({"note":"a \"quoted\" word, a \\ and {braces}","n":null})";
  events[1].payload_json =
      "{\"name\":\"Ren\xc3\xa9"
      "e \xe2\x9c\x93\"}";
  events[2].payload_json = "[\"NULL\",\"\"]";
  events[2].idempotency_key = "key \"with\" quotes\\";
  for (std::size_t i = 0; i < events.size(); ++i) events[i].id += "_" + std::to_string(i);
  std::vector<Result<IngestedEvent>> ingested = store->IngestEvents(events);
  for (std::size_t i = 0; i < events.size(); ++i) {
    const IngestedEvent done = Must(std::move(ingested.at(i)));
    const auto stored = Must(store->GetEvent(done.event.id, std::nullopt));
    EXPECT_EQ(stored.payload_json, events[i].payload_json) << i;
    EXPECT_EQ(stored.idempotency_key, events[i].idempotency_key) << i;
  }
}

// A batch of events fanned out from memory after another node added a configuration runs
// again, each event reading the configurations anew: every one gets both.
TEST_F(PostgresStoreTest, ABatchFannedOutFromAStaleMemoryRunsAgainWithTheNewConfigurations) {
  std::unique_ptr<Store> a = Open("a");
  std::unique_ptr<Store> b = Open("b");
  const WebhookConfig x = Must(a->CreateConfig(Config(), test::kNoConfigLimit));
  EXPECT_EQ(FannedOutTo(*a, Event()), (std::set<std::int64_t>{x.id}));
  const WebhookConfig y = Must(b->CreateConfig(Config(), test::kNoConfigLimit));
  const std::vector<Result<IngestedEvent>> ingested = a->IngestEvents({Event(), Event(), Event()});
  for (const Result<IngestedEvent>& event : ingested) {
    ASSERT_TRUE(event.ok()) << event.error().message;
    std::set<std::int64_t> stored;
    for (const Delivery& d : Must(a->DeliveriesOfEvent(event->event.id, std::nullopt))) {
      stored.insert(d.config_id);
    }
    EXPECT_EQ(stored, (std::set<std::int64_t>{x.id, y.id}));
    EXPECT_EQ(event->deliveries.size(), 2u);
  }
}

}  // namespace
}  // namespace webhookd
