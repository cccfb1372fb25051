// Several nodes on one PostgreSQL (issue 5, section 2): three `webhookd serve` processes share
// one fresh database, events are posted round-robin to them, one node is kill -9'd mid-run.
// Every accepted (event, configuration) pair must arrive at the receiver at least once, no pair
// may be in delivery by two nodes at the same moment (the receiver checks for overlapping
// requests with the same webhook-id and target), and the survivors must finish the work.
// Needs WEBHOOKD_TEST_PG_URL (scripts/with-postgres sets it; `make test` runs through it).
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "delivery_support.hpp"

namespace webhookd::itest {
namespace {

using std::chrono::steady_clock;

constexpr int kNodes = 3;
constexpr int kEventsToPost = 150;
constexpr int kKillAfterAccepted = 50;
constexpr int kVictim = 1;  // index of the node that is killed
// Short leases so that the survivors take over the victim's deliveries within the test:
// lease = max(request timeout, max request timeout) + margin = 2 s + 3 s.
const std::vector<std::string> kNodeArgs = {"--retry-schedule",         "0s,1s,1s,1s,1s,1s,1s,1s",
                                            "--request-timeout-ms",     "2000",
                                            "--max-request-timeout-ms", "2000",
                                            "--lease-margin-ms",        "3000"};

std::string PgUrl() {
  const char* url = std::getenv("WEBHOOKD_TEST_PG_URL");
  return url == nullptr ? "" : url;
}

// `base` with its database name replaced by `database`.
std::string WithDatabase(const std::string& base, const std::string& database) {
  const std::size_t query = base.find('?');
  const std::string path = base.substr(0, query);
  const std::size_t slash = path.rfind('/');
  return path.substr(0, slash + 1) + database +
         (query == std::string::npos ? "" : base.substr(query));
}

// Runs one SQL command with psql against `url`; true on success.
bool Psql(const std::string& url, const std::string& sql) {
  const std::string command =
      "psql -q -v ON_ERROR_STOP=1 '" + url + "' -c '" + sql + "' >/dev/null 2>&1";
  return std::system(command.c_str()) == 0;
}

// The first value `sql` returns, via psql; "" on failure.
std::string PsqlValue(const std::string& url, const std::string& sql) {
  const std::string command = "psql -At '" + url + "' -c \"" + sql + "\" 2>/dev/null";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return "";
  std::string out;
  char buffer[256];
  while (std::fgets(buffer, sizeof(buffer), pipe) != nullptr) out += buffer;
  ::pclose(pipe);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

// A fresh database for one test, dropped at the end.
class ScratchDatabase {
 public:
  explicit ScratchDatabase(std::string admin_url)
      : admin_url_(std::move(admin_url)),
        name_("webhookd_multinode_" + std::to_string(::getpid())),
        url_(WithDatabase(admin_url_, name_)) {
    Psql(admin_url_, "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    created_ = Psql(admin_url_, "CREATE DATABASE " + name_);
  }
  ~ScratchDatabase() {
    if (created_) Psql(admin_url_, "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    std::error_code ignored;
    std::filesystem::remove(TestKeyFile(url_), ignored);
  }
  bool created() const { return created_; }
  const std::string& url() const { return url_; }

 private:
  std::string admin_url_;
  std::string name_;
  std::string url_;
  bool created_ = false;
};

// The receiver's view: for each (webhook-id, target), the requests being handled right now.
// A second request for a pair that is still being handled is an overlap.
class OverlapDetector {
 public:
  ReceiverResponse Handle(const ReceivedRequest& request) {
    const std::pair<std::string, std::string> key{request.Header("webhook-id"), request.target};
    {
      std::lock_guard lock(mu_);
      if (!active_.insert(key).second) overlaps_.push_back(key.first + key.second);
      ++arrivals_[key];
    }
    // Long enough that the victim has deliveries in flight when it dies.
    std::this_thread::sleep_for(200ms);
    {
      std::lock_guard lock(mu_);
      active_.erase(key);
    }
    ReceiverResponse ok;
    ok.body = "ok";
    return ok;
  }

  std::vector<std::string> overlaps() const {
    std::lock_guard lock(mu_);
    return overlaps_;
  }
  PairCounts arrivals() const {
    std::lock_guard lock(mu_);
    return arrivals_;
  }

 private:
  mutable std::mutex mu_;
  std::set<std::pair<std::string, std::string>> active_;  // guarded by mu_
  PairCounts arrivals_;                                   // guarded by mu_
  std::vector<std::string> overlaps_;                     // guarded by mu_
};

json::object BookAppointment(HttpClient& client) {
  const HttpResponse r = client.Get("/event-types/BookAppointment");
  const json::value* sample = At(r.json, "/sample");
  if (sample == nullptr || !sample->is_object()) return {};
  return json::object{
      {"eventName", "BookAppointment"}, {"organizationId", 1}, {"payload", sample->as_object()}};
}

// Each test gets a fresh database of the PostgreSQL server the suite runs beside.
class MultiNodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (PgUrl().empty()) {
      GTEST_SKIP() << "WEBHOOKD_TEST_PG_URL is not set (run through scripts/with-postgres, as "
                      "`make test` does)";
    }
    database_.emplace(PgUrl());
    ASSERT_TRUE(database_->created()) << "cannot create a database with psql at " << PgUrl();
  }

  std::optional<ScratchDatabase> database_;
  TempDir logs_;
};

// `count` nodes named node0, node1... on `database_url`, each with `flags`.
std::vector<std::unique_ptr<ServerProcess>> StartNodes(
    const std::string& database_url, int count, const TempDir& logs,
    const std::vector<std::string>& flags = kNodeArgs) {
  std::vector<std::unique_ptr<ServerProcess>> nodes;
  for (int i = 0; i < count; ++i) {
    std::vector<std::string> args = {"serve",
                                     "--listen",
                                     "127.0.0.1:0",
                                     "--db",
                                     database_url,
                                     "--node-id",
                                     "node" + std::to_string(i)};
    for (const std::string& a : LoopbackDeliveryArgs(flags)) args.push_back(a);
    nodes.push_back(std::make_unique<ServerProcess>(args, EnvVars{}, logs.path()));
    const Status started = nodes.back()->Start();
    EXPECT_TRUE(started.ok()) << "node " << i << ": " << started.error().message;
    if (!started.ok()) return {};
  }
  return nodes;
}

TEST_F(MultiNodeTest, ThreeNodesOneKilledDeliverEveryPairWithoutOverlap) {
  OverlapDetector detector;
  HttpReceiver receiver([&](const ReceivedRequest& r) { return detector.Handle(r); });

  std::vector<std::unique_ptr<ServerProcess>> nodes = StartNodes(database_->url(), kNodes, logs_);
  ASSERT_EQ(nodes.size(), static_cast<std::size_t>(kNodes));
  const std::string admin_key = nodes.front()->admin_key();
  ASSERT_FALSE(admin_key.empty()) << "the first node did not print an admin key";
  for (int i = 1; i < kNodes; ++i) {
    EXPECT_TRUE(nodes[i]->admin_key().empty()) << "node " << i << " made a second admin key";
  }

  // Configurations are created on one node and used by all: the state is in the database.
  HttpClient admin(nodes[2]->base_url(), admin_key);
  for (const std::string target : {"/c1", "/c2"}) {
    const HttpResponse r =
        admin.Post("/external-events/", HookBody(1, "BookAppointment", receiver.Url(target)));
    ASSERT_TRUE(IsJson(r, 201)) << r.Summary();
  }
  const json::object body = BookAppointment(admin);
  ASSERT_FALSE(body.empty());

  std::vector<std::string> urls;
  for (const auto& node : nodes) urls.push_back(node->base_url());
  EventPoster poster(urls, admin_key, json::serialize(body), kEventsToPost);
  ASSERT_TRUE(WaitUntil([&] { return poster.accepted_count() >= kKillAfterAccepted; }, 60s, 1ms))
      << "only " << poster.accepted_count() << " events accepted; " << poster.unexpected();
  // Kill the victim while it holds leases, so that the survivors must take them over.
  const std::string victim_leases =
      "SELECT COUNT(*) FROM deliveries WHERE status = 'delivering' AND lease_owner = 'node" +
      std::to_string(kVictim) + "'";
  WaitUntil([&] { return std::atoi(PsqlValue(database_->url(), victim_leases).c_str()) > 0; }, 20s,
            1ms);
  ASSERT_TRUE(nodes[kVictim]->Kill().has_value());
  const int leases_at_kill = std::atoi(PsqlValue(database_->url(), victim_leases).c_str());
  const auto killed_at = steady_clock::now();
  poster.Join();
  ASSERT_EQ(poster.unexpected(), "");
  const std::vector<std::string> accepted = poster.accepted();

  auto missing = [&] { return MissingPairs(accepted, {"/c1", "/c2"}, detector.arrivals()); };
  // Bounded by the lease (5 s) plus the survivors' fallback sweep for ended leases (30 s).
  WaitUntil([&] { return missing().empty(); }, 90s, 100ms);
  const std::vector<std::string> lost = missing();
  EXPECT_TRUE(lost.empty()) << lost.size() << " accepted (event, configuration) pairs of "
                            << 2 * accepted.size() << " never arrived, e.g. "
                            << (lost.empty() ? "" : lost.front());
  const std::vector<std::string> overlaps = detector.overlaps();
  EXPECT_TRUE(overlaps.empty()) << overlaps.size() << " overlapping deliveries of one pair, e.g. "
                                << (overlaps.empty() ? "" : overlaps.front());

  // The survivors finish: nothing pending or leased is left in the shared database.
  HttpClient survivor(nodes[0]->base_url(), admin_key);
  std::string metrics;
  EXPECT_TRUE(WaitUntil(
      [&] {
        metrics = survivor.Get("/metrics").body;
        return MetricValue(metrics, R"(webhookd_deliveries{status="pending"})") == 0.0 &&
               MetricValue(metrics, R"(webhookd_deliveries{status="delivering"})") == 0.0;
      },
      60s, 100ms))
      << metrics;
  EXPECT_EQ(MetricValue(metrics, R"(webhookd_deliveries{status="failed"})"), 0.0) << metrics;
  for (int i = 0; i < kNodes; ++i) {
    if (i != kVictim) {
      EXPECT_TRUE(nodes[i]->Running()) << "node " << i << " died";
    }
  }

  int duplicates = 0;
  for (const auto& [pair, n] : detector.arrivals()) duplicates += n - 1;
  std::printf(
      "[ multinode ] %d nodes, %zu events accepted (2 configurations each), node %d killed "
      "holding %d leases; every pair arrived %.1f s after the kill; %d duplicate deliveries; "
      "%zu overlaps\n",
      kNodes, accepted.size(), kVictim, leases_at_kill,
      std::chrono::duration<double>(steady_clock::now() - killed_at).count(), duplicates,
      overlaps.size());
}

// FIFO across nodes: two nodes share a FIFO configuration's deliveries, events are posted to
// both, each delivery fails once first. Only one node at a time may hold the configuration's
// next delivery, so arrivals follow the deliveries' order and never overlap.
TEST_F(MultiNodeTest, TwoNodesKeepAFifoConfigurationInOrder) {
  std::mutex mu;
  std::map<std::string, int> tries;  // guarded by mu
  int in_flight = 0;                 // guarded by mu
  int overlaps = 0;                  // guarded by mu
  HttpReceiver receiver([&](const ReceivedRequest& request) {
    bool first_try;
    {
      std::lock_guard lock(mu);
      overlaps += in_flight > 0 ? 1 : 0;
      ++in_flight;
      first_try = ++tries[request.Header("webhook-id")] == 1;
    }
    std::this_thread::sleep_for(50ms);  // long enough for another node to overlap, if it could
    std::lock_guard lock(mu);
    --in_flight;
    return first_try ? Answer(503, "again") : Answer(200, "ok");
  });
  std::vector<std::unique_ptr<ServerProcess>> nodes = StartNodes(database_->url(), 2, logs_);
  ASSERT_EQ(nodes.size(), 2u);
  const std::string admin_key = nodes.front()->admin_key();
  HttpClient admin(nodes[1]->base_url(), admin_key);
  json::object hook = HookBody(1, "BookAppointment", receiver.Url("/ordered"));
  hook["ordering"] = "fifo";
  const HttpResponse created = admin.Post("/external-events/", hook);
  ASSERT_TRUE(IsJson(created, 201)) << created.Summary();
  const std::int64_t config_id = created.json.at("id").to_number<std::int64_t>();

  constexpr int kEvents = 8;
  const json::object event = BookAppointment(admin);
  for (int i = 0; i < kEvents; ++i) {
    HttpClient node(nodes[i % 2]->base_url(), admin_key);
    ASSERT_TRUE(IsJson(node.Post("/events", event), 202));
  }
  ASSERT_TRUE(receiver.WaitFor(2 * kEvents, 60s)) << receiver.Count();

  // The order the store keeps them in (deliveries are listed by id: ingest order).
  const HttpResponse listed =
      admin.Get("/deliveries?limit=100&externalEventId=" + std::to_string(config_id));
  ASSERT_TRUE(IsJson(listed, 200));
  std::vector<std::string> expected;
  for (const json::value& d : listed.json.at("data").as_array()) {
    const std::string id(d.at("eventId").as_string());
    expected.push_back(id);
    expected.push_back(id);  // each arrives twice: the failure, then the success
  }
  std::vector<std::string> arrived;
  for (const ReceivedRequest& r : receiver.Requests()) arrived.push_back(r.Header("webhook-id"));
  EXPECT_EQ(arrived, expected);
  std::lock_guard lock(mu);
  EXPECT_EQ(overlaps, 0) << "two requests of a FIFO configuration were in flight at once";
}

// A rate limit across nodes: two nodes, one configuration at 5/s, events posted to both. Only
// the node holding the configuration's queue lease sends its deliveries, so the receiver sees
// 5 a second (after a burst of 5), not 5 a second from each node.
TEST_F(MultiNodeTest, TwoNodesKeepOneRateLimitBetweenThem) {
  HttpReceiver receiver;
  // Leases long enough for two seconds of tokens (the kill test's 5 s ones are too short).
  std::vector<std::unique_ptr<ServerProcess>> nodes =
      StartNodes(database_->url(), 2, logs_,
                 {"--retry-schedule", "0s,1s", "--request-timeout-ms", "2000",
                  "--max-request-timeout-ms", "2000", "--lease-margin-ms", "10000"});
  ASSERT_EQ(nodes.size(), 2u);
  const std::string admin_key = nodes.front()->admin_key();
  HttpClient admin(nodes[1]->base_url(), admin_key);
  json::object hook = HookBody(1, "BookAppointment", receiver.Url("/limited"));
  hook["rateLimit"] = 5;
  ASSERT_TRUE(IsJson(admin.Post("/external-events/", hook), 201));

  constexpr int kEvents = 30;
  const json::object event = BookAppointment(admin);
  for (int i = 0; i < kEvents; ++i) {
    HttpClient node(nodes[i % 2]->base_url(), admin_key);
    ASSERT_TRUE(IsJson(node.Post("/events", event), 202));
  }
  ASSERT_TRUE(receiver.WaitFor(kEvents, 30s)) << receiver.Count();
  const std::vector<ReceivedRequest> arrived = receiver.Requests();
  const auto spread = arrived.back().arrived - arrived.front().arrived;
  std::printf("[ multinode ] %d deliveries at 5/s over 2 nodes arrived over %lld ms\n", kEvents,
              static_cast<long long>(
                  std::chrono::duration_cast<std::chrono::milliseconds>(spread).count()));
  // A burst of 5, then 5 a second: >= 5 s for 30. Two nodes each at 5/s would take 2.5 s.
  EXPECT_GE(spread, 4500ms);
  for (const ReceivedRequest& r : arrived) {
    const auto within_a_second = std::count_if(arrived.begin(), arrived.end(), [&](const auto& o) {
      return o.arrived >= r.arrived && o.arrived < r.arrived + 1s;
    });
    EXPECT_LE(within_a_second, 10) << "at arrival " << r.index;
  }
}

// Event types as data (issue 11): a type created, changed or archived through one node is used by
// the other within 5 s (each node reads the stored catalog every second).
TEST_F(MultiNodeTest, ACatalogChangeOnOneNodeReachesTheOtherWithinFiveSeconds) {
  std::vector<std::unique_ptr<ServerProcess>> nodes = StartNodes(database_->url(), 2, logs_);
  ASSERT_EQ(nodes.size(), 2u);
  HttpClient first(nodes[0]->base_url(), nodes[0]->admin_key());
  HttpClient second(nodes[1]->base_url(), nodes[0]->admin_key());
  const json::object schema{{"type", "object"},
                            {"required", json::array{"score"}},
                            {"properties", {{"score", {{"type", "integer"}}}}}};
  const HttpResponse created =
      first.Post("/event-types", json::object{{"name", "ScoreComputed"},
                                              {"description", "A score was computed."},
                                              {"schema", schema},
                                              {"sample", {{"score", 3}}}});
  ASSERT_TRUE(IsJson(created, 201)) << created.Summary();
  const auto post = [&](const json::object& payload) {
    return second.Post(
        "/events",
        json::object{{"organizationId", 1}, {"eventName", "ScoreComputed"}, {"payload", payload}});
  };
  const auto within_five_seconds = [](const std::function<bool()>& done) {
    return WaitUntil(done, 5s, 100ms);
  };

  EXPECT_TRUE(within_five_seconds([&] {
    return post({{"score", 3}}).status == 202;
  })) << "the second node does not know the new type";

  json::object stricter = schema;
  stricter["properties"].as_object()["score"].as_object()["minimum"] = 10;
  ASSERT_TRUE(IsJson(first.Patch("/event-types/ScoreComputed",
                                 json::object{{"schema", stricter}, {"sample", {{"score", 12}}}}),
                     200));
  EXPECT_TRUE(within_five_seconds([&] {
    const HttpResponse r = post({{"score", 3}});
    return r.status == 400 && r.body.find("/payload/score") != std::string::npos;
  })) << "the second node still validates against version 1";
  const HttpResponse accepted = post({{"score", 12}});
  ASSERT_TRUE(IsJson(accepted, 202));
  const HttpResponse event =
      second.Get("/events/" + std::string(accepted.json.at("id").as_string()));
  ASSERT_TRUE(IsJson(event, 200));
  EXPECT_EQ(event.json.at("eventTypeVersion"), json::value(2));

  ASSERT_EQ(first.Delete("/event-types/ScoreComputed").status, 204);
  EXPECT_TRUE(within_five_seconds([&] {
    const HttpResponse r = post({{"score", 12}});
    return r.status == 400 && r.body.find("archived") != std::string::npos;
  })) << "the second node still takes events of the archived type";
}

}  // namespace
}  // namespace webhookd::itest
