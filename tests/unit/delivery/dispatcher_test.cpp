// The dispatcher against the real SQLite store, a scripted HttpClient and a manual clock.
#include "delivery/dispatcher.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "core/ids.hpp"
#include "crypto/secret.hpp"
#include "store/forwarding_store.hpp"
#include "store/open_store.hpp"

namespace webhookd::delivery {
namespace {

namespace json = boost::json;

constexpr int kPlainType = 1;      // AppointmentToCareTaskActivityLog
constexpr int kInferenceType = 2;  // InferenceToObservations

HttpResponse Status(int code, HttpHeaders headers = {}, std::string body = "") {
  HttpResponse response;
  response.status_code = code;
  response.headers = std::move(headers);
  response.body = std::move(body);
  response.duration_ms = 12;
  return response;
}

// What both HTTP clients report when the receiver answers nothing within the timeout.
HttpResponse TimedOut() {
  HttpResponse response;
  response.transport_error = true;
  response.timed_out = true;
  response.error =
      "Timeout was reached: Operation timed out after 15000 milliseconds with 0 bytes received";
  response.duration_ms = 15'000;
  return response;
}

// Answers from a script, on the calling (dispatcher) thread, or holds a request unanswered
// until the test releases it.
class FakeHttpClient final : public HttpClient {
 public:
  // nullopt: hold the request.
  using Script = std::function<std::optional<HttpResponse>(const HttpRequest&)>;

  void SetScript(Script script) {
    std::lock_guard lock(mutex_);
    script_ = std::move(script);
  }

  // From now on the dispatcher runs on `loop` (nullptr: its own), as with BeastHttpClient.
  void Lend(EventLoop* loop) { lent_ = loop; }
  EventLoop* loop() override { return lent_; }

  void Send(HttpRequest request, Callback done) override {
    std::optional<HttpResponse> response;
    {
      std::lock_guard lock(mutex_);
      sent_.push_back(request);
      send_threads_.insert(std::this_thread::get_id());
      response = script_ ? script_(request) : Status(200);
      if (!response) {
        held_.push_back({std::move(request), std::move(done)});
        max_held_per_url_[held_.back().first.url] =
            std::max(max_held_per_url_[held_.back().first.url], HeldFor(held_.back().first.url));
        return;
      }
    }
    done(std::move(*response));
  }

  void ReleaseHeld(const HttpResponse& response) {
    std::vector<std::pair<HttpRequest, Callback>> held;
    {
      std::lock_guard lock(mutex_);
      held.swap(held_);
    }
    for (auto& [request, done] : held) done(response);
  }

  std::vector<HttpRequest> sent() {
    std::lock_guard lock(mutex_);
    return sent_;
  }
  std::set<std::thread::id> send_threads() {
    std::lock_guard lock(mutex_);
    return send_threads_;
  }
  int HeldFor(const std::string& url) const {
    return static_cast<int>(std::count_if(held_.begin(), held_.end(),
                                          [&](const auto& h) { return h.first.url == url; }));
  }
  int held(const std::string& url) {
    std::lock_guard lock(mutex_);
    return HeldFor(url);
  }
  int max_held(const std::string& url) {
    std::lock_guard lock(mutex_);
    return max_held_per_url_[url];
  }

 private:
  std::mutex mutex_;
  Script script_;                           // guarded by mutex_
  std::vector<HttpRequest> sent_;           // guarded by mutex_
  std::set<std::thread::id> send_threads_;  // guarded by mutex_
  EventLoop* lent_ = nullptr;
  std::vector<std::pair<HttpRequest, Callback>> held_;  // guarded by mutex_
  std::map<std::string, int> max_held_per_url_;         // guarded by mutex_
};

// Counts claims and recordings, holds RecordAttempts calls at a gate while it is closed, and
// fails the next N RecordAttempts calls on cue (LevelDB's ErrorEnv idea).
class InstrumentedStore final : public ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;

  Result<std::vector<DeliveryJob>> ClaimDue(
      UnixMillis now, int limit, UnixMillis lease_until,
      const std::vector<std::int64_t>& skip_config_ids) override {
    claims_.fetch_add(1);
    {
      std::lock_guard lock(mutex_);
      skipped_.insert(skip_config_ids.begin(), skip_config_ids.end());
    }
    return ForwardingStore::ClaimDue(now, limit, lease_until, skip_config_ids);
  }
  // Whether some claim so far left `config_id` aside.
  bool Skipped(std::int64_t config_id) {
    std::lock_guard lock(mutex_);
    return skipped_.contains(config_id);
  }

  webhookd::Status RecordAttempts(const std::vector<AttemptOutcome>& outcomes) override {
    {
      std::unique_lock lock(mutex_);
      ++records_at_gate_;
      changed_.notify_all();
      changed_.wait(lock, [&] { return gate_open_; });
      --records_at_gate_;
      if (failures_left_ > 0) {
        --failures_left_;
        return Error::Unavailable("the store is down (test)");
      }
    }
    webhookd::Status recorded = ForwardingStore::RecordAttempts(outcomes);
    std::lock_guard lock(mutex_);
    if (recorded.ok()) {
      ++records_committed_;
      outcomes_committed_ += static_cast<int>(outcomes.size());
    }
    return recorded;
  }

  // While held, the start-up release (ReleaseOwnLeases) waits.
  Result<std::int64_t> ReleaseOwnLeases() override {
    NoteReleaseThread();
    {
      std::unique_lock lock(mutex_);
      ++own_releases_waiting_;
      changed_.notify_all();
      changed_.wait(lock, [&] { return !hold_own_releases_; });
      --own_releases_waiting_;
    }
    return ForwardingStore::ReleaseOwnLeases();
  }

  Result<std::int64_t> ReleaseExpiredLeases(UnixMillis now) override {
    NoteReleaseThread();
    expired_releases_.fetch_add(1);
    return ForwardingStore::ReleaseExpiredLeases(now);
  }

  void HoldOwnReleases(bool hold) {
    {
      std::lock_guard lock(mutex_);
      hold_own_releases_ = hold;
    }
    changed_.notify_all();
  }
  int own_releases_waiting() {
    std::lock_guard lock(mutex_);
    return own_releases_waiting_;
  }
  int expired_releases() const { return expired_releases_.load(); }
  std::set<std::thread::id> release_threads() {
    std::lock_guard lock(mutex_);
    return release_threads_;
  }

  void SetGateOpen(bool open) {
    {
      std::lock_guard lock(mutex_);
      gate_open_ = open;
    }
    changed_.notify_all();
  }
  void FailNextRecords(int count) {
    std::lock_guard lock(mutex_);
    failures_left_ = count;
  }
  int records_at_gate() {
    std::lock_guard lock(mutex_);
    return records_at_gate_;
  }
  int records_committed() {
    std::lock_guard lock(mutex_);
    return records_committed_;
  }
  int outcomes_committed() {
    std::lock_guard lock(mutex_);
    return outcomes_committed_;
  }
  int claims() const { return claims_.load(); }

 private:
  void NoteReleaseThread() {
    std::lock_guard lock(mutex_);
    release_threads_.insert(std::this_thread::get_id());
  }

  std::atomic<int> claims_{0};
  std::atomic<int> expired_releases_{0};
  bool hold_own_releases_ = false;             // guarded by mutex_
  int own_releases_waiting_ = 0;               // guarded by mutex_
  std::set<std::thread::id> release_threads_;  // guarded by mutex_
  std::mutex mutex_;
  std::condition_variable changed_;
  bool gate_open_ = true;           // guarded by mutex_
  int records_at_gate_ = 0;         // guarded by mutex_
  int failures_left_ = 0;           // guarded by mutex_
  int records_committed_ = 0;       // guarded by mutex_
  int outcomes_committed_ = 0;      // guarded by mutex_
  std::set<std::int64_t> skipped_;  // guarded by mutex_: configurations claims left aside
};

// The requests sent around a configuration change that added an X-Tenant header: the first
// without it, the second with it and signed with `secrets`, in that order.
void ExpectSentBeforeAndAfterTheChange(const std::vector<HttpRequest>& sent,
                                       std::initializer_list<std::string_view> secrets) {
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_FALSE(FindHeader(sent[0].headers, "X-Tenant").has_value());
  EXPECT_EQ(FindHeader(sent[1].headers, "X-Tenant"), "north");
  std::string_view id = *FindHeader(sent[1].headers, "webhook-id");
  std::string timestamp(*FindHeader(sent[1].headers, "webhook-timestamp"));
  std::string signatures;
  for (std::string_view secret : secrets) {
    if (!signatures.empty()) signatures += ' ';
    signatures += crypto::SignV1(*crypto::DecodeSecret(secret), id, timestamp, sent[1].body);
  }
  EXPECT_EQ(FindHeader(sent[1].headers, "webhook-signature"), signatures);
}

// Waits (bounded) for something the dispatcher thread does; this is synchronisation, not
// a measure of speed.
template <class Predicate>
bool Eventually(Predicate predicate) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!predicate()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

class DispatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "dispatcher_test_XXXXXX");
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    Result<std::unique_ptr<Store>> store = OpenStore("sqlite:" + dir_ + "/webhookd.db", clock_);
    ASSERT_TRUE(store.ok()) << store.error().message;
    store_ = std::move(store).value();
    store_->SetWorkListener([this] {
      std::lock_guard lock(dispatcher_mutex_);
      if (dispatcher_) dispatcher_->Wake();
    });
    options_.outcome.random = [] { return 0.5; };  // jitter spread 0: exact delays
    options_.shutdown_grace_ms = 50;               // held requests are never answered in some tests
  }

  void TearDown() override {
    if (instrumented_) {
      instrumented_->SetGateOpen(true);
      instrumented_->HoldOwnReleases(false);
    }
    if (dispatcher_) dispatcher_->Stop();
    {
      std::lock_guard lock(dispatcher_mutex_);
      dispatcher_.reset();
    }
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // The dispatcher works on the instrumented store when the test made one.
  void StartDispatcher() {
    Store& store = instrumented_ ? static_cast<Store&>(*instrumented_) : *store_;
    {
      std::lock_guard lock(dispatcher_mutex_);
      dispatcher_ =
          std::make_unique<Dispatcher>(store, client_, clock_, Catalog::Builtin(), options_);
    }
    dispatcher_->Start();
  }

  // Lends the client a loop of its own, as the Beast client does (it outlives TearDown's
  // Stop()); returns the loop's thread.
  std::thread::id LendLoop() {
    lent_loop_ = std::make_unique<ThreadEventLoop>("lent-loop");
    std::promise<std::thread::id> loop_thread;
    lent_loop_->Post([&] { loop_thread.set_value(std::this_thread::get_id()); });
    client_.Lend(lent_loop_.get());
    return loop_thread.get_future().get();
  }

  // Waits until the lent loop (LendLoop()) has run everything posted to it so far: the
  // dispatcher's iterations that responses given before this call asked for.
  void DrainLentLoop() {
    std::promise<void> drained;
    lent_loop_->Post([&drained] { drained.set_value(); });
    drained.get_future().wait();
  }

  // A configuration whose receiver never answers, with per_config_cap 2; the dispatcher on a
  // lent loop, the hand-off connected and open to it.
  WebhookConfig StartWithABlackHole() {
    LendLoop();
    options_.per_config_cap = 2;
    WebhookConfig dead = CreateConfig(1, "https://dead.example/hook");
    client_.SetScript([](const HttpRequest& request) -> std::optional<HttpResponse> {
      if (request.url == "https://dead.example/hook") return std::nullopt;  // never answers
      return Status(200);
    });
    StartDispatcher();
    ConnectHandoff();
    EXPECT_TRUE(Eventually([&] { return HandoffTakes(dead); }));
    return dead;
  }

  // As the serve command wires it: new deliveries go straight to the dispatcher when it takes them.
  void ConnectHandoff() { store_->SetDeliveryHandoff(dispatcher_->handoff()); }
  bool HandoffTakes(const WebhookConfig& config) {
    return dispatcher_->handoff()->LeaseFor(config, clock_.Now()).has_value();
  }

  InstrumentedStore& Instrument() {
    instrumented_ = std::make_unique<InstrumentedStore>(*store_);
    return *instrumented_;
  }

  // A configuration with a rate limit (0: none) and an ordering.
  WebhookConfig CreateShapedConfig(std::int64_t organization, std::string url,
                                   std::int64_t rate_limit, DeliveryOrdering ordering,
                                   std::string schedule = "") {
    WebhookConfig config = CreateConfig(organization, std::move(url), kPlainType, schedule);
    config.rate_limit = rate_limit;
    config.ordering = ordering;
    Result<WebhookConfig> updated = store_->UpdateConfig(config, std::nullopt);
    EXPECT_TRUE(updated.ok()) << updated.error().message;
    return updated.ok() ? *updated : config;
  }

  std::vector<std::string> SentBodies() {
    std::vector<std::string> bodies;
    for (const HttpRequest& request : client_.sent()) bodies.push_back(request.body);
    return bodies;
  }

  WebhookConfig CreateConfig(std::int64_t organization, std::string url, int type = kPlainType,
                             std::string schedule = "") {
    WebhookConfig config;
    config.organization_id = organization;
    config.name = "receiver";
    config.url = std::move(url);
    config.event_type_id = type;
    config.secret = crypto::GenerateSecret();
    config.attributes_json = R"({"apiKey":"ak_live_secret_value"})";
    config.retry_schedule_json = std::move(schedule);
    Result<WebhookConfig> created =
        store_->CreateConfig(config, std::numeric_limits<std::int64_t>::max());
    EXPECT_TRUE(created.ok()) << created.error().message;
    return created.ok() ? *created : config;
  }

  std::vector<Delivery> Ingest(std::int64_t organization, int count, int type = kPlainType) {
    std::vector<NewEvent> events;
    for (int i = 0; i < count; ++i) {
      NewEvent& event = events.emplace_back();
      event.id = NewSortableId("evt", clock_.Now());
      event.organization_id = organization;
      event.event_type_id = type;
      event.payload_json = R"({"n":)" + std::to_string(i) + "}";
    }
    std::vector<Delivery> deliveries;
    for (Result<IngestedEvent>& result : store_->IngestEvents(events)) {
      EXPECT_TRUE(result.ok()) << result.error().message;
      if (!result.ok()) continue;
      for (Delivery& delivery : result->deliveries) deliveries.push_back(delivery);
    }
    return deliveries;
  }

  Delivery Get(const std::string& id) {
    Result<Delivery> delivery = store_->GetDelivery(id, std::nullopt);
    EXPECT_TRUE(delivery.ok());
    return delivery.ok() ? *delivery : Delivery{};
  }

  bool WaitForAttempts(const std::string& id, int count) {
    return Eventually([&] {
      Delivery delivery = Get(id);
      return delivery.attempt_count >= count && delivery.status != DeliveryStatus::kDelivering;
    });
  }

  std::vector<Attempt> Attempts(const std::string& id) {
    Result<std::vector<Attempt>> attempts = store_->ListAttempts(id, std::nullopt);
    EXPECT_TRUE(attempts.ok());
    return attempts.ok() ? *attempts : std::vector<Attempt>{};
  }

  // Moves time on and tells the dispatcher, as a due retry would be found in production.
  void Advance(std::int64_t ms) {
    clock_.Advance(ms);
    dispatcher_->Wake();
  }

  std::unique_ptr<ThreadEventLoop> lent_loop_;  // declared first: destroyed after the dispatcher
  ManualClock clock_;
  std::string dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<InstrumentedStore> instrumented_;  // wraps store_ when a test asks for it
  FakeHttpClient client_;
  DispatcherOptions options_;
  std::mutex dispatcher_mutex_;
  std::unique_ptr<Dispatcher> dispatcher_;  // guarded by dispatcher_mutex_ while replaced
};

// As with BeastHttpClient: every request is sent from the client's loop, responses arriving
// there are handled there, and a response after Stop() finds no dispatcher to reach.
TEST_F(DispatcherTest, RunsOnTheLoopTheClientLends) {
  const std::thread::id lent_thread = LendLoop();
  CreateConfig(1, "https://a.example/hook");
  WebhookConfig held = CreateConfig(2, "https://b.example/hook");
  client_.SetScript([](const HttpRequest& request) -> std::optional<HttpResponse> {
    if (request.url == "https://b.example/hook") return std::nullopt;
    return Status(200);
  });
  StartDispatcher();
  ConnectHandoff();
  std::vector<Delivery> deliveries = Ingest(1, 5);
  ASSERT_EQ(deliveries.size(), 5u);
  for (const Delivery& delivery : deliveries) {
    ASSERT_TRUE(WaitForAttempts(delivery.id, 1));
    EXPECT_EQ(Get(delivery.id).status, DeliveryStatus::kSucceeded);
  }
  std::vector<Delivery> unanswered = Ingest(2, 1);
  ASSERT_EQ(unanswered.size(), 1u);
  ASSERT_TRUE(Eventually([&] { return client_.held(held.url) == 1; }));
  EXPECT_EQ(client_.send_threads(), std::set<std::thread::id>{lent_thread});

  dispatcher_->Stop();  // the grace period (50 ms) ends with the request unanswered
  client_.ReleaseHeld(Status(200));
  EXPECT_EQ(Get(unanswered[0].id).status, DeliveryStatus::kDelivering);
  EXPECT_EQ(Get(unanswered[0].id).attempt_count, 0);
}

// The lease releases are store calls: they run on the claimer's thread, never on the loop the
// client lends (every request there would wait for their commit). Until the start-up release is
// done the hand-off stays closed, since that release would take back a delivery handed off
// meanwhile while it is being sent; what is ingested then waits, pending, for a claim.
TEST_F(DispatcherTest, ReleasesLeasesOffTheLoopAndHandsOffOnlyAfterTheStartupRelease) {
  const std::thread::id lent_thread = LendLoop();
  const WebhookConfig config = CreateConfig(1, "https://a.example/hook");
  InstrumentedStore& store = Instrument();
  store.HoldOwnReleases(true);
  StartDispatcher();
  ConnectHandoff();
  ASSERT_TRUE(Eventually([&] { return store.own_releases_waiting() == 1; }));

  EXPECT_FALSE(HandoffTakes(config));
  const std::vector<Delivery> early = Ingest(1, 1);
  ASSERT_EQ(early.size(), 1u);
  EXPECT_EQ(early[0].status, DeliveryStatus::kPending);
  EXPECT_EQ(client_.sent().size(), 0u);

  store.HoldOwnReleases(false);
  ASSERT_TRUE(WaitForAttempts(early[0].id, 1));  // claimed once the release is done
  ASSERT_TRUE(Eventually([&] { return HandoffTakes(config); }));
  const std::vector<Delivery> later = Ingest(1, 1);
  ASSERT_EQ(later.size(), 1u);
  EXPECT_EQ(later[0].status, DeliveryStatus::kDelivering);  // handed off
  ASSERT_TRUE(WaitForAttempts(later[0].id, 1));

  const int sweeps = store.expired_releases();
  Advance(options_.fallback_wakeup_ms + 1);  // a lease sweep is due
  ASSERT_TRUE(Eventually([&] { return store.expired_releases() > sweeps; }));
  EXPECT_FALSE(store.release_threads().contains(lent_thread));
  EXPECT_EQ(store.release_threads().size(), 1u);  // the claimer's
  EXPECT_EQ(client_.sent().size(), 2u);
}

TEST_F(DispatcherTest, RecordsASuccessfulAttempt) {
  WebhookConfig config = CreateConfig(1, "https://a.example/hook");
  client_.SetScript([](const HttpRequest&) {
    return Status(200, {{"content-type", "text/plain"}}, "thanks");
  });
  StartDispatcher();
  std::vector<Delivery> deliveries = Ingest(1, 1);
  ASSERT_EQ(deliveries.size(), 1u);
  ASSERT_TRUE(WaitForAttempts(deliveries[0].id, 1));

  Delivery delivery = Get(deliveries[0].id);
  EXPECT_EQ(delivery.status, DeliveryStatus::kSucceeded);
  EXPECT_EQ(delivery.last_status_code, 200);
  std::vector<Attempt> attempts = Attempts(delivery.id);
  ASSERT_EQ(attempts.size(), 1u);
  const Attempt& attempt = attempts[0];
  EXPECT_EQ(attempt.attempted_at, clock_.Now());
  EXPECT_EQ(attempt.duration_ms, 12);
  EXPECT_EQ(attempt.status_code, 200);
  EXPECT_EQ(attempt.response_body, "thanks");
  EXPECT_EQ(json::parse(attempt.response_headers_json),
            json::parse(R"({"content-type":"text/plain"})"));
  EXPECT_EQ(attempt.error, "");
  EXPECT_FALSE(attempt.manual);

  json::object sent_headers = json::parse(attempt.request_headers_json).as_object();
  EXPECT_EQ(sent_headers.at("webhook-id").as_string(), delivery.event_id);
  EXPECT_EQ(sent_headers.at("x-api-key"), "ak_l****");
  EXPECT_TRUE(sent_headers.at("webhook-signature").as_string().ends_with("****"));
  EXPECT_EQ(sent_headers.at("x-webhook-event"), "AppointmentToCareTaskActivityLog");

  std::vector<HttpRequest> sent = client_.sent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].url, "https://a.example/hook");
  EXPECT_EQ(sent[0].body, R"({"n":0})");
  EXPECT_EQ(sent[0].timeout_ms, 15'000);
  EXPECT_EQ(sent[0].connect_timeout_ms, 5'000);
  EXPECT_EQ(FindHeader(sent[0].headers, "x-api-key"), "ak_live_secret_value");

  const DispatcherMetrics& metrics = dispatcher_->metrics();
  // Metrics are counted right after the commit that the store already shows.
  EXPECT_TRUE(Eventually([&] { return metrics.deliveries_succeeded.load() == 1; }));
  EXPECT_EQ(metrics.attempts_by_class[static_cast<int>(AttemptClass::kSuccess)].load(), 1);
  EXPECT_EQ(metrics.duration_count.load(), 1);
  EXPECT_EQ(metrics.duration_buckets[2].load(), 1);  // 12 ms: the (10, 25] bucket
  // The recorder's thread may count the commit before the loop publishes its gauges.
  EXPECT_TRUE(Eventually([&] { return metrics.in_flight.load() == 0; }));
}

TEST_F(DispatcherTest, ServerErrorSchedulesTheNextAttemptExactly) {
  CreateConfig(1, "https://a.example/hook");
  client_.SetScript([](const HttpRequest&) { return Status(503); });
  StartDispatcher();
  std::vector<Delivery> deliveries = Ingest(1, 1);
  ASSERT_TRUE(WaitForAttempts(deliveries[0].id, 1));

  Delivery delivery = Get(deliveries[0].id);
  EXPECT_EQ(delivery.status, DeliveryStatus::kPending);
  EXPECT_EQ(delivery.next_attempt_at, clock_.Now() + 5'000);  // schedule: 0, 5 s, ...
  EXPECT_EQ(delivery.last_status_code, 503);
  EXPECT_EQ(client_.sent().size(), 1u);

  Advance(4'999);  // not due yet: nothing is sent
  Advance(1);
  ASSERT_TRUE(WaitForAttempts(delivery.id, 2));
  EXPECT_EQ(client_.sent().size(), 2u);
  EXPECT_EQ(Get(delivery.id).next_attempt_at, clock_.Now() + 300'000);  // then 5 min
}

TEST_F(DispatcherTest, RetryAfterIsHonouredAndClamped) {
  CreateConfig(1, "https://a.example/hook");
  std::string retry_after = "120";
  client_.SetScript([&](const HttpRequest&) {
    return Status(429, {{"retry-after", retry_after}});
  });
  StartDispatcher();
  std::vector<Delivery> deliveries = Ingest(1, 1);
  ASSERT_TRUE(WaitForAttempts(deliveries[0].id, 1));
  UnixMillis first = clock_.Now();
  EXPECT_EQ(Get(deliveries[0].id).next_attempt_at, first + 120'000);

  retry_after = "86400";  // a day: clamped to an hour
  Advance(120'000);
  ASSERT_TRUE(WaitForAttempts(deliveries[0].id, 2));
  EXPECT_EQ(Get(deliveries[0].id).next_attempt_at, clock_.Now() + 3'600'000);

  retry_after = "1";  // sooner than the schedule (30 min after the third attempt): schedule wins
  Advance(3'600'000);
  ASSERT_TRUE(WaitForAttempts(deliveries[0].id, 3));
  EXPECT_EQ(Get(deliveries[0].id).next_attempt_at, clock_.Now() + 1'800'000);
}

TEST_F(DispatcherTest, GoneDisablesTheConfiguration) {
  WebhookConfig config = CreateConfig(1, "https://gone.example/hook");
  client_.SetScript([](const HttpRequest&) { return Status(410); });
  StartDispatcher();
  std::vector<Delivery> deliveries = Ingest(1, 1);
  ASSERT_TRUE(WaitForAttempts(deliveries[0].id, 1));

  EXPECT_EQ(Get(deliveries[0].id).status, DeliveryStatus::kFailed);
  Result<WebhookConfig> stored = store_->GetConfig(config.id, std::nullopt);
  ASSERT_TRUE(stored.ok());
  EXPECT_FALSE(stored->active);
  EXPECT_EQ(stored->disabled_reason, "410 Gone received from https://gone.example/hook");
  // Metrics are counted right after the commit that the store already shows.
  EXPECT_TRUE(Eventually([&] { return dispatcher_->metrics().configs_disabled.load() == 1; }));
}

TEST_F(DispatcherTest, ExhaustedScheduleDeadLettersAndManualRetryIsRecordedAsManual) {
  CreateConfig(1, "https://a.example/hook", kPlainType, "[0, 1]");  // 2 attempts, 1 s apart
  client_.SetScript([](const HttpRequest&) { return Status(500); });
  StartDispatcher();
  std::vector<Delivery> deliveries = Ingest(1, 1);
  const std::string id = deliveries[0].id;
  ASSERT_TRUE(WaitForAttempts(id, 1));
  EXPECT_EQ(Get(id).status, DeliveryStatus::kPending);
  EXPECT_EQ(Get(id).next_attempt_at, clock_.Now() + 1'000);

  Advance(1'000);
  ASSERT_TRUE(WaitForAttempts(id, 2));
  EXPECT_EQ(Get(id).status, DeliveryStatus::kFailed);

  // A manual retry of a dead letter gets one attempt; failing again, it is failed again.
  ASSERT_TRUE(store_->RetryDelivery(id, std::nullopt).ok());
  ASSERT_TRUE(WaitForAttempts(id, 3));
  EXPECT_EQ(Get(id).status, DeliveryStatus::kFailed);

  // And when the receiver is fixed, a manual retry succeeds.
  client_.SetScript([](const HttpRequest&) { return Status(204); });
  ASSERT_TRUE(store_->RetryDelivery(id, std::nullopt).ok());
  ASSERT_TRUE(WaitForAttempts(id, 4));
  EXPECT_EQ(Get(id).status, DeliveryStatus::kSucceeded);

  std::vector<Attempt> attempts = Attempts(id);
  ASSERT_EQ(attempts.size(), 4u);
  EXPECT_FALSE(attempts[0].manual);
  EXPECT_FALSE(attempts[1].manual);
  EXPECT_TRUE(attempts[2].manual);
  EXPECT_TRUE(attempts[3].manual);
  EXPECT_EQ(attempts[3].status_code, 204);
}

TEST_F(DispatcherTest, PerConfigCapHoldsOnlyThatConfiguration) {
  options_.per_config_cap = 2;
  CreateConfig(1, "https://slow.example/hook");
  CreateConfig(2, "https://fast.example/hook");
  client_.SetScript([](const HttpRequest& request) -> std::optional<HttpResponse> {
    if (request.url == "https://slow.example/hook") return std::nullopt;  // never answers
    return Status(200);
  });
  StartDispatcher();
  std::vector<Delivery> slow = Ingest(1, 5);
  std::vector<Delivery> fast = Ingest(2, 4);

  for (const Delivery& delivery : fast) ASSERT_TRUE(WaitForAttempts(delivery.id, 1));
  for (const Delivery& delivery : fast)
    EXPECT_EQ(Get(delivery.id).status, DeliveryStatus::kSucceeded);
  EXPECT_EQ(client_.held("https://slow.example/hook"), 2);
  EXPECT_TRUE(Eventually([&] { return dispatcher_->metrics().queued.load() == 3; }));

  client_.ReleaseHeld(Status(200));  // the slow endpoint answers: the rest follow, 2 at a time
  ASSERT_TRUE(Eventually([&] {
    if (client_.held("https://slow.example/hook") > 0) client_.ReleaseHeld(Status(200));
    return dispatcher_->metrics().deliveries_succeeded.load() == 9;
  }));
  for (const Delivery& delivery : slow)
    EXPECT_EQ(Get(delivery.id).status, DeliveryStatus::kSucceeded);
  EXPECT_EQ(client_.max_held("https://slow.example/hook"), 2);
}

TEST_F(DispatcherTest, DeadConfigurationCannotFillTheHeldSetAndStarveOthers) {
  options_.per_config_cap = 2;
  options_.max_held_deliveries = 8;
  options_.claim_batch_size = 4;
  WebhookConfig dead = CreateConfig(1, "https://dead.example/hook");
  CreateConfig(2, "https://alive.example/hook");
  client_.SetScript([](const HttpRequest& request) -> std::optional<HttpResponse> {
    if (request.url == "https://dead.example/hook") return std::nullopt;  // never answers
    return Status(200);
  });
  std::vector<Delivery> stuck = Ingest(1, 20);  // older than every healthy delivery
  StartDispatcher();
  ASSERT_TRUE(Eventually([&] { return client_.held("https://dead.example/hook") == 2; }));
  clock_.Advance(2'000);  // no answer for two seconds: the endpoint counts as stalled
  std::vector<Delivery> healthy = Ingest(2, 12);

  for (const Delivery& delivery : healthy) ASSERT_TRUE(WaitForAttempts(delivery.id, 1));
  // The dead endpoint holds its two requests and at most one round of claims waiting; the
  // rest of its deliveries were left pending in the store.
  int pending = 0;
  for (const Delivery& delivery : stuck) {
    pending += Get(delivery.id).status == DeliveryStatus::kPending ? 1 : 0;
  }
  EXPECT_GE(pending, 20 - 2 - options_.claim_batch_size - options_.per_config_cap);
  EXPECT_EQ(client_.max_held("https://dead.example/hook"), 2);
  EXPECT_EQ(Get(stuck.front().id).attempt_count, 0);
  EXPECT_EQ(dead.id, Get(stuck.front().id).config_id);
}

TEST_F(DispatcherTest, GlobalCapLimitsRequestsInFlight) {
  options_.global_in_flight_cap = 3;
  CreateConfig(1, "https://a.example/hook");
  CreateConfig(2, "https://b.example/hook");
  client_.SetScript([](const HttpRequest&) { return std::nullopt; });
  StartDispatcher();
  Ingest(1, 4);
  Ingest(2, 4);
  ASSERT_TRUE(Eventually([&] { return client_.sent().size() == 3u; }));
  // The gauge is published after the dispatcher's round of sends, so it may trail the third
  // request by a moment; once it reads 3 that round is over and no fourth request went out.
  ASSERT_TRUE(Eventually([&] { return dispatcher_->metrics().in_flight.load() == 3; }));
  EXPECT_EQ(client_.sent().size(), 3u);
  client_.ReleaseHeld(Status(200));
  ASSERT_TRUE(Eventually([&] { return client_.sent().size() == 6u; }));
}

TEST_F(DispatcherTest, FailingForTheAutoDisablePeriodDeactivates) {
  WebhookConfig config = CreateConfig(1, "https://down.example/hook");
  client_.SetScript([](const HttpRequest&) { return Status(500); });
  StartDispatcher();
  std::vector<Delivery> deliveries = Ingest(1, 1);
  ASSERT_TRUE(WaitForAttempts(deliveries[0].id, 1));
  Result<WebhookConfig> failing = store_->GetConfig(config.id, std::nullopt);
  ASSERT_TRUE(failing.ok());
  EXPECT_EQ(failing->failing_since, clock_.Now());
  EXPECT_TRUE(failing->active);

  Advance(5LL * 24 * 3600 * 1000);
  ASSERT_TRUE(WaitForAttempts(deliveries[0].id, 2));
  Result<WebhookConfig> disabled = store_->GetConfig(config.id, std::nullopt);
  ASSERT_TRUE(disabled.ok());
  EXPECT_FALSE(disabled->active);
  EXPECT_EQ(disabled->disabled_reason, "all deliveries failed for 5 days");
  EXPECT_EQ(Get(deliveries[0].id).status, DeliveryStatus::kFailed);
}

TEST_F(DispatcherTest, InferenceResultThatIsNotJsonIsFlagged) {
  CreateConfig(1, "https://infer.example/hook", kInferenceType);
  client_.SetScript([](const HttpRequest&) { return Status(200, {}, "not json"); });
  StartDispatcher();
  std::vector<Delivery> deliveries = Ingest(1, 1, kInferenceType);
  ASSERT_TRUE(WaitForAttempts(deliveries[0].id, 1));
  EXPECT_EQ(Get(deliveries[0].id).status, DeliveryStatus::kSucceeded);
  std::vector<Attempt> attempts = Attempts(deliveries[0].id);
  ASSERT_EQ(attempts.size(), 1u);
  EXPECT_EQ(attempts[0].error, "invalid inference result: the response body is not JSON");
}

TEST_F(DispatcherTest, TransportErrorIsRetriedWithItsText) {
  CreateConfig(1, "https://a.example/hook");
  client_.SetScript([](const HttpRequest&) {
    HttpResponse response;
    response.transport_error = true;
    response.error = "refused 10.0.0.5: private address (RFC 1918); allow it with --allow-target";
    return response;
  });
  StartDispatcher();
  std::vector<Delivery> deliveries = Ingest(1, 1);
  ASSERT_TRUE(WaitForAttempts(deliveries[0].id, 1));
  Delivery delivery = Get(deliveries[0].id);
  EXPECT_EQ(delivery.status, DeliveryStatus::kPending);
  EXPECT_EQ(delivery.last_status_code, 0);
  EXPECT_EQ(delivery.last_error,
            "refused 10.0.0.5: private address (RFC 1918); allow it with --allow-target");
}

TEST_F(DispatcherTest, ConfigurationTimeoutOverridesTheDefaultWithinTheLease) {
  WebhookConfig config = CreateConfig(1, "https://a.example/hook");
  config.timeout_ms = 2'500;
  ASSERT_TRUE(store_->UpdateConfig(config, std::nullopt).ok());
  WebhookConfig huge = CreateConfig(2, "https://b.example/hook");
  huge.timeout_ms = 10'000'000;
  ASSERT_TRUE(store_->UpdateConfig(huge, std::nullopt).ok());
  StartDispatcher();
  EXPECT_EQ(dispatcher_->lease_ms(), 60'000 + 30'000);
  Ingest(1, 1);
  Ingest(2, 1);
  ASSERT_TRUE(Eventually([&] { return client_.sent().size() == 2u; }));
  std::map<std::string, std::int64_t> timeouts;
  for (const HttpRequest& request : client_.sent()) timeouts[request.url] = request.timeout_ms;
  EXPECT_EQ(timeouts["https://a.example/hook"], 2'500);
  EXPECT_EQ(timeouts["https://b.example/hook"], 60'000);  // cut to max_request_timeout_ms
}

TEST_F(DispatcherTest, LeaseIsRaisedAboveTheRequestTimeout) {
  options_.lease_ms = 1'000;
  options_.request_timeout_ms = 20'000;
  options_.max_request_timeout_ms = 20'000;
  StartDispatcher();
  EXPECT_EQ(dispatcher_->lease_ms(), 50'000);
}

TEST_F(DispatcherTest, InterruptedDeliveriesAreSentAtStart) {
  CreateConfig(1, "https://a.example/hook");
  std::vector<Delivery> deliveries = Ingest(1, 1);
  // A previous run claimed it and died before recording anything.
  Result<std::vector<DeliveryJob>> claimed =
      store_->ClaimDue(clock_.Now(), 10, clock_.Now() + 90'000, {});
  ASSERT_TRUE(claimed.ok());
  ASSERT_EQ(claimed->size(), 1u);
  EXPECT_EQ(Get(deliveries[0].id).status, DeliveryStatus::kDelivering);

  StartDispatcher();
  ASSERT_TRUE(WaitForAttempts(deliveries[0].id, 1));
  EXPECT_EQ(Get(deliveries[0].id).status, DeliveryStatus::kSucceeded);
}

TEST_F(DispatcherTest, StopLeavesUnansweredDeliveriesLeasedAndIgnoresLateResponses) {
  CreateConfig(1, "https://a.example/hook");
  client_.SetScript([](const HttpRequest&) { return std::nullopt; });
  StartDispatcher();
  std::vector<Delivery> deliveries = Ingest(1, 1);
  ASSERT_TRUE(Eventually([&] { return client_.sent().size() == 1u; }));
  dispatcher_->Stop();
  {
    std::lock_guard lock(dispatcher_mutex_);
    dispatcher_.reset();
  }
  client_.ReleaseHeld(Status(200));  // the answer arrives after the dispatcher is gone
  Delivery delivery = Get(deliveries[0].id);
  EXPECT_EQ(delivery.status, DeliveryStatus::kDelivering);
  EXPECT_EQ(delivery.attempt_count, 0);
}

TEST_F(DispatcherTest, SendNowSignsAndDoesNotRecord) {
  WebhookConfig config = CreateConfig(1, "https://a.example/hook");
  client_.SetScript([](const HttpRequest&) { return Status(202, {}, "ok"); });
  StartDispatcher();
  const EventType* type = Catalog::Builtin().Find(kPlainType);
  ASSERT_NE(type, nullptr);
  HttpResponse response = dispatcher_->SendNow(config, *type, type->sample_json);
  EXPECT_EQ(response.status_code, 202);
  EXPECT_EQ(response.body, "ok");
  std::vector<HttpRequest> sent = client_.sent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].body, type->sample_json);
  std::string_view id = *FindHeader(sent[0].headers, "webhook-id");
  std::string timestamp(*FindHeader(sent[0].headers, "webhook-timestamp"));
  EXPECT_TRUE(id.starts_with("evt_"));
  EXPECT_EQ(FindHeader(sent[0].headers, "webhook-signature"),
            crypto::SignV1(*crypto::DecodeSecret(config.secret), id, timestamp, sent[0].body));
  Result<DeliveryCounts> counts = store_->CountDeliveries();
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(counts->succeeded + counts->pending + counts->failed + counts->delivering, 0);
}

// The queue keeps its configuration prepared while it has work; a row changed meanwhile (a
// rotated secret, a new header) must be what the next send uses.
TEST_F(DispatcherTest, ChangedConfigurationAppliesFromTheNextSend) {
  WebhookConfig config = CreateConfig(1, "https://a.example/hook");
  auto first_sent = std::make_shared<std::atomic<bool>>(false);
  client_.SetScript([first_sent](const HttpRequest&) -> std::optional<HttpResponse> {
    if (!first_sent->exchange(true)) return std::nullopt;  // held: keeps the queue busy
    return Status(200);
  });
  StartDispatcher();
  std::vector<Delivery> first = Ingest(1, 1);
  ASSERT_TRUE(Eventually([&] { return client_.sent().size() == 1; }));

  const std::string old_secret = config.secret;
  config.previous_secret = old_secret;
  config.previous_secret_expires_at = clock_.Now() + 3'600'000;
  config.secret = crypto::GenerateSecret();
  config.headers_json = R"({"X-Tenant":"north"})";
  ASSERT_TRUE(store_->UpdateConfig(config, std::nullopt).ok());
  std::vector<Delivery> second = Ingest(1, 1);
  ASSERT_TRUE(WaitForAttempts(second[0].id, 1));

  ExpectSentBeforeAndAfterTheChange(client_.sent(), {config.secret, old_secret});
  client_.ReleaseHeld(Status(200));
  ASSERT_TRUE(WaitForAttempts(first[0].id, 1));
}

// A configuration's prepared form outlives its queue, which is forgotten as soon as it is
// idle: a row changed while the queue was gone must still be what the next send uses, and
// what its attempt records.
TEST_F(DispatcherTest, ChangedConfigurationAppliesAfterTheQueueWasIdle) {
  WebhookConfig config = CreateConfig(1, "https://a.example/hook");
  client_.SetScript([](const HttpRequest&) -> std::optional<HttpResponse> { return Status(200); });
  StartDispatcher();
  std::vector<Delivery> first = Ingest(1, 1);
  ASSERT_TRUE(WaitForAttempts(first[0].id, 1));

  config.secret = crypto::GenerateSecret();
  config.headers_json = R"({"X-Tenant":"north","Authorization":"Bearer abcdefghijklmnop"})";
  ASSERT_TRUE(store_->UpdateConfig(config, std::nullopt).ok());
  std::vector<Delivery> second = Ingest(1, 1);
  ASSERT_TRUE(WaitForAttempts(second[0].id, 1));

  ExpectSentBeforeAndAfterTheChange(client_.sent(), {config.secret});
  Result<std::vector<Attempt>> attempts = store_->ListAttempts(second[0].id, std::nullopt);
  ASSERT_TRUE(attempts.ok());
  ASSERT_EQ(attempts->size(), 1u);
  const boost::json::object recorded =
      boost::json::parse(attempts->front().request_headers_json).as_object();
  EXPECT_EQ(recorded.at("X-Tenant"), "north");
  EXPECT_EQ(recorded.at("Authorization"), "Bear****");
  EXPECT_EQ(recorded.at("webhook-id").as_string(),
            *FindHeader(client_.sent()[1].headers, "webhook-id"));
}

TEST_F(DispatcherTest, UnusableSecretIsAFailedAttemptWithoutARequest) {
  WebhookConfig config = CreateConfig(1, "https://a.example/hook");
  config.secret = "whsec_!!!";
  ASSERT_TRUE(store_->UpdateConfig(config, std::nullopt).ok());
  StartDispatcher();
  std::vector<Delivery> deliveries = Ingest(1, 1);
  ASSERT_TRUE(WaitForAttempts(deliveries[0].id, 1));
  Delivery delivery = Get(deliveries[0].id);
  EXPECT_EQ(delivery.status, DeliveryStatus::kPending);
  EXPECT_TRUE(delivery.last_error.starts_with("the configuration's secret: "))
      << delivery.last_error;
  EXPECT_TRUE(client_.sent().empty());
}

TEST_F(DispatcherTest, RecordsCompletionsInBatches) {
  options_.per_config_cap = 1;  // one completion per loop iteration
  CreateConfig(1, "https://a.example/hook");
  InstrumentedStore& store = Instrument();
  store.SetGateOpen(false);
  StartDispatcher();
  std::vector<Delivery> deliveries = Ingest(1, 10);

  // All ten are answered and decided while the first recording waits at the gate.
  ASSERT_TRUE(Eventually([&] { return dispatcher_->metrics().duration_count.load() == 10; }));
  ASSERT_TRUE(Eventually([&] { return store.records_at_gate() == 1; }));
  EXPECT_EQ(store.records_committed(), 0);
  store.SetGateOpen(true);

  ASSERT_TRUE(Eventually([&] { return dispatcher_->metrics().deliveries_succeeded.load() == 10; }));
  EXPECT_EQ(store.outcomes_committed(), 10);
  EXPECT_LE(store.records_committed(), 2);  // the blocked batch, then everything queued behind it
  EXPECT_EQ(dispatcher_->metrics().record_batches.load(), store.records_committed());
  for (const Delivery& delivery : deliveries) {
    EXPECT_EQ(Get(delivery.id).status, DeliveryStatus::kSucceeded);
    EXPECT_EQ(Attempts(delivery.id).size(), 1u);
  }
  EXPECT_EQ(client_.sent().size(), 10u);
}

TEST_F(DispatcherTest, RefillsTheEndpointBeforeThePreviousAttemptIsRecorded) {
  options_.per_config_cap = 2;
  CreateConfig(1, "https://a.example/hook");
  client_.SetScript([](const HttpRequest&) { return std::nullopt; });
  InstrumentedStore& store = Instrument();
  store.SetGateOpen(false);
  StartDispatcher();
  std::vector<Delivery> deliveries = Ingest(1, 6);
  ASSERT_TRUE(Eventually([&] { return client_.sent().size() == 2u; }));

  client_.ReleaseHeld(Status(200));
  // The next two go out while the first two's outcomes are still unrecorded.
  ASSERT_TRUE(Eventually([&] { return client_.sent().size() == 4u; }));
  ASSERT_TRUE(Eventually([&] { return store.records_at_gate() == 1; }));
  EXPECT_EQ(store.records_committed(), 0);
  Result<DeliveryCounts> counts = store_->CountDeliveries();
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(counts->delivering, 6);  // claimed, and none recorded yet
  EXPECT_EQ(counts->succeeded, 0);

  client_.ReleaseHeld(Status(200));
  ASSERT_TRUE(Eventually([&] { return client_.sent().size() == 6u; }));
  EXPECT_EQ(store.records_committed(), 0);
  EXPECT_EQ(client_.max_held("https://a.example/hook"), 2);  // the cap held throughout

  store.SetGateOpen(true);
  client_.ReleaseHeld(Status(200));
  ASSERT_TRUE(Eventually([&] { return dispatcher_->metrics().deliveries_succeeded.load() == 6; }));
  for (const Delivery& delivery : deliveries) {
    EXPECT_EQ(Get(delivery.id).status, DeliveryStatus::kSucceeded);
  }
  EXPECT_EQ(client_.sent().size(), 6u);
}

TEST_F(DispatcherTest, StopRecordsEveryOutcomeDecidedBeforeIt) {
  options_.per_config_cap = 1;
  options_.shutdown_grace_ms = 10'000;
  CreateConfig(1, "https://slow.example/hook");
  CreateConfig(2, "https://fast.example/hook");
  client_.SetScript([](const HttpRequest& request) -> std::optional<HttpResponse> {
    if (request.url == "https://slow.example/hook") return std::nullopt;
    return Status(200);
  });
  InstrumentedStore& store = Instrument();
  store.SetGateOpen(false);
  StartDispatcher();
  std::vector<Delivery> slow = Ingest(1, 3);
  std::vector<Delivery> fast = Ingest(2, 3);
  // Fast: all three answered, their outcomes queued behind the gate. Slow: one in flight, two
  // waiting for the endpoint's only slot.
  ASSERT_TRUE(Eventually([&] { return dispatcher_->metrics().duration_count.load() == 3; }));
  ASSERT_TRUE(Eventually([&] { return dispatcher_->metrics().queued.load() == 2; }));
  ASSERT_TRUE(Eventually([&] { return store.records_at_gate() == 1; }));

  std::thread stopper([&] { dispatcher_->Stop(); });
  // Stopping drops what waits for an endpoint; the request in flight gets the grace period.
  ASSERT_TRUE(Eventually([&] { return dispatcher_->metrics().queued.load() == 0; }));
  client_.ReleaseHeld(Status(200));
  store.SetGateOpen(true);
  stopper.join();

  EXPECT_EQ(store.outcomes_committed(), 4);
  for (const Delivery& delivery : fast) {
    EXPECT_EQ(Get(delivery.id).status, DeliveryStatus::kSucceeded);
  }
  std::vector<Delivery> recorded;
  for (const Delivery& delivery : slow) {
    Delivery stored = Get(delivery.id);
    if (stored.status == DeliveryStatus::kSucceeded) {
      recorded.push_back(stored);
    } else {
      EXPECT_EQ(stored.status, DeliveryStatus::kDelivering);  // never sent: still leased
      EXPECT_EQ(stored.attempt_count, 0);
    }
  }
  EXPECT_EQ(recorded.size(), 1u);
  EXPECT_EQ(client_.sent().size(), 4u);
}

TEST_F(DispatcherTest, FailedRecordingIsRetried) {
  options_.store_retry_ms = 1;
  CreateConfig(1, "https://a.example/hook");
  InstrumentedStore& store = Instrument();
  store.FailNextRecords(2);
  StartDispatcher();
  std::vector<Delivery> deliveries = Ingest(1, 1);
  ASSERT_TRUE(WaitForAttempts(deliveries[0].id, 1));

  EXPECT_EQ(Get(deliveries[0].id).status, DeliveryStatus::kSucceeded);
  EXPECT_EQ(Attempts(deliveries[0].id).size(), 1u);
  const DispatcherMetrics& metrics = dispatcher_->metrics();
  EXPECT_TRUE(Eventually([&] { return metrics.deliveries_succeeded.load() == 1; }));
  EXPECT_EQ(metrics.record_errors.load(), 2);
  EXPECT_EQ(metrics.record_batches.load(), 3);
  EXPECT_EQ(client_.sent().size(), 1u);  // recorded late, never sent twice
}

TEST_F(DispatcherTest, OutcomeUnrecordedWhenItsLeaseEndsIsDroppedAndTheDeliverySentAgain) {
  options_.store_retry_ms = 1;
  CreateConfig(1, "https://a.example/hook");
  InstrumentedStore& store = Instrument();
  store.FailNextRecords(1'000'000);
  StartDispatcher();
  std::vector<Delivery> deliveries = Ingest(1, 1);
  ASSERT_TRUE(Eventually([&] { return dispatcher_->metrics().record_errors.load() >= 1; }));
  EXPECT_EQ(Get(deliveries[0].id).status, DeliveryStatus::kDelivering);

  // The lease ends: the sweep returns the delivery to pending and it is claimed and sent again;
  // the first outcome is never recorded.
  Advance(dispatcher_->lease_ms() + 1);
  ASSERT_TRUE(Eventually([&] { return client_.sent().size() == 2u; }));
  store.FailNextRecords(0);
  ASSERT_TRUE(WaitForAttempts(deliveries[0].id, 1));

  EXPECT_EQ(Get(deliveries[0].id).status, DeliveryStatus::kSucceeded);
  std::vector<Attempt> attempts = Attempts(deliveries[0].id);
  ASSERT_EQ(attempts.size(), 1u);
  EXPECT_EQ(attempts[0].attempted_at, clock_.Now());  // the second send's
  // The wrapper counts right after the commit that the store already shows.
  EXPECT_TRUE(Eventually([&] { return store.outcomes_committed() == 1; }));
}

TEST_F(DispatcherTest, ClaimsInBatchesWhileTheHeldSetIsLow) {
  options_.per_config_cap = 1;  // one send per loop iteration
  options_.max_held_deliveries = 8;
  options_.claim_batch_size = 8;
  CreateConfig(1, "https://a.example/hook");
  InstrumentedStore& store = Instrument();
  StartDispatcher();
  Ingest(1, 40);
  ASSERT_TRUE(Eventually([&] { return dispatcher_->metrics().deliveries_succeeded.load() == 40; }));
  EXPECT_EQ(client_.sent().size(), 40u);
  // A claim brings up to 5 (held refilled from below 4 to 8), not one per completion.
  EXPECT_LE(store.claims(), 20);
  EXPECT_GE(store.claims(), 1 + 40 / 8);
}

TEST_F(DispatcherTest, HandsNewDeliveriesOverWithoutAClaim) {
  WebhookConfig config = CreateConfig(1, "https://a.example/hook");
  InstrumentedStore& store = Instrument();
  StartDispatcher();
  ConnectHandoff();
  ASSERT_TRUE(Eventually([&] { return HandoffTakes(config) && store.claims() >= 1; }));
  const int claims_at_start = store.claims();  // the start-up look for due deliveries

  std::vector<Delivery> deliveries = Ingest(1, 5);
  ASSERT_EQ(deliveries.size(), 5u);
  for (const Delivery& delivery : deliveries) {
    EXPECT_EQ(delivery.status, DeliveryStatus::kDelivering);  // stored leased, not pending
  }
  for (const Delivery& delivery : deliveries) ASSERT_TRUE(WaitForAttempts(delivery.id, 1));
  for (const Delivery& delivery : deliveries) {
    EXPECT_EQ(Get(delivery.id).status, DeliveryStatus::kSucceeded);
  }
  ASSERT_EQ(client_.sent().size(), 5u);
  EXPECT_EQ(client_.sent()[0].body, R"({"n":0})");
  EXPECT_EQ(FindHeader(client_.sent()[0].headers, "webhook-id"), deliveries[0].event_id);
  EXPECT_EQ(store.claims(), claims_at_start);
}

TEST_F(DispatcherTest, HandoffLeavesABacklogPendingInTheStore) {
  options_.per_config_cap = 1;
  options_.max_held_deliveries = 4;  // hand-offs stop at 2 held
  WebhookConfig config = CreateConfig(1, "https://slow.example/hook");
  client_.SetScript([](const HttpRequest&) -> std::optional<HttpResponse> { return std::nullopt; });
  StartDispatcher();
  ConnectHandoff();
  ASSERT_TRUE(Eventually([&] { return HandoffTakes(config); }));

  for (const Delivery& delivery : Ingest(1, 2)) {
    EXPECT_EQ(delivery.status, DeliveryStatus::kDelivering);
  }
  ASSERT_TRUE(Eventually([&] { return !HandoffTakes(config); }));
  std::vector<Delivery> backlog = Ingest(1, 3);
  for (const Delivery& delivery : backlog) {
    EXPECT_EQ(delivery.status, DeliveryStatus::kPending);
    EXPECT_EQ(Get(delivery.id).status, DeliveryStatus::kPending);
  }
  EXPECT_EQ(client_.held("https://slow.example/hook"), 1);
}

TEST_F(DispatcherTest, StalledEndpointsDeliveriesAreNotHandedOff) {
  options_.per_config_cap = 2;
  WebhookConfig dead = CreateConfig(1, "https://dead.example/hook");
  WebhookConfig alive = CreateConfig(2, "https://alive.example/hook");
  client_.SetScript([](const HttpRequest& request) -> std::optional<HttpResponse> {
    if (request.url == "https://dead.example/hook") return std::nullopt;  // never answers
    return Status(200);
  });
  StartDispatcher();
  ConnectHandoff();
  ASSERT_TRUE(Eventually([&] { return HandoffTakes(dead); }));
  Ingest(1, 4);  // two in flight, two waiting
  ASSERT_TRUE(Eventually([&] { return client_.held("https://dead.example/hook") == 2; }));
  Advance(2'000);  // no answer for two seconds: stalled

  ASSERT_TRUE(Eventually([&] { return !HandoffTakes(dead); }));
  EXPECT_TRUE(HandoffTakes(alive));
  std::vector<Delivery> to_dead = Ingest(1, 1);
  ASSERT_EQ(to_dead.size(), 1u);
  EXPECT_EQ(to_dead[0].status, DeliveryStatus::kPending);
  std::vector<Delivery> to_alive = Ingest(2, 1);
  ASSERT_EQ(to_alive.size(), 1u);
  EXPECT_EQ(to_alive[0].status, DeliveryStatus::kDelivering);
  ASSERT_TRUE(WaitForAttempts(to_alive[0].id, 1));
  EXPECT_EQ(Get(to_alive[0].id).status, DeliveryStatus::kSucceeded);

  // The receiver answers again: the configuration is no longer held back, and the delivery
  // left pending while it was (stored without waking the dispatcher) is claimed and sent.
  client_.SetScript([](const HttpRequest&) -> std::optional<HttpResponse> { return Status(200); });
  client_.ReleaseHeld(Status(200));
  ASSERT_TRUE(WaitForAttempts(to_dead[0].id, 1));
  EXPECT_EQ(Get(to_dead[0].id).status, DeliveryStatus::kSucceeded);
}

// A black hole's requests time out round after round. A timeout is no answer: the
// configuration stays stalled through the next round (held back: its new deliveries stay
// pending), instead of being let out after each round for a second in which claims brought its
// backlog in ahead of every other configuration's due deliveries.
TEST_F(DispatcherTest, ATimeoutIsNoAnswerToEndAStall) {
  const WebhookConfig dead = StartWithABlackHole();
  Ingest(1, 6);  // two in flight, four waiting
  ASSERT_TRUE(Eventually([&] { return client_.held(dead.url) == 2; }));
  Advance(2'000);  // no answer for two seconds: stalled
  ASSERT_TRUE(Eventually([&] { return !HandoffTakes(dead); }));

  client_.ReleaseHeld(TimedOut());  // the next two go, and hang in their turn
  DrainLentLoop();
  EXPECT_EQ(client_.held(dead.url), 2);
  EXPECT_EQ(client_.sent().size(), 4u);
  EXPECT_FALSE(HandoffTakes(dead));
  std::vector<Delivery> later = Ingest(1, 1);
  ASSERT_EQ(later.size(), 1u);
  EXPECT_EQ(later[0].status, DeliveryStatus::kPending);

  client_.ReleaseHeld(Status(503));  // an answer, even an error, ends the stall
  ASSERT_TRUE(Eventually([&] { return HandoffTakes(dead); }));
}

// A black hole whose queue was forgotten (its requests timed out with nothing more waiting) is
// stalled again as soon as its next queue is full, not after a fresh second of grace.
TEST_F(DispatcherTest, AQueueForgottenAfterATimeoutIsStalledAsSoonAsItIsFull) {
  const WebhookConfig dead = StartWithABlackHole();
  std::vector<Delivery> first = Ingest(1, 2);  // both in flight, nothing waiting
  ASSERT_TRUE(Eventually([&] { return client_.held(dead.url) == 2; }));
  clock_.Advance(2'000);
  client_.ReleaseHeld(TimedOut());  // nothing in flight or waiting: the queue is forgotten
  for (const Delivery& delivery : first) ASSERT_TRUE(WaitForAttempts(delivery.id, 1));
  DrainLentLoop();
  EXPECT_TRUE(HandoffTakes(dead));

  Ingest(1, 4);  // two in flight, two waiting: full, and unanswered for two seconds
  ASSERT_TRUE(Eventually([&] { return client_.held(dead.url) == 2; }));
  DrainLentLoop();
  EXPECT_FALSE(HandoffTakes(dead));
}

TEST_F(DispatcherTest, StoppedDispatcherTakesNoHandoff) {
  WebhookConfig config = CreateConfig(1, "https://a.example/hook");
  StartDispatcher();
  ConnectHandoff();
  ASSERT_TRUE(Eventually([&] { return HandoffTakes(config); }));
  dispatcher_->Stop();
  EXPECT_FALSE(HandoffTakes(config));
  std::vector<Delivery> deliveries = Ingest(1, 1);
  ASSERT_EQ(deliveries.size(), 1u);
  EXPECT_EQ(deliveries[0].status, DeliveryStatus::kPending);
}

TEST_F(DispatcherTest, SlowRouteOnASharedHostLeavesRoomForTheHostsOtherRoutes) {
  options_.per_origin_cap = 4;
  options_.per_config_cap = 4;
  CreateConfig(1, "https://shared.example/slow");
  CreateConfig(2, "https://shared.example/ok");
  client_.SetScript([](const HttpRequest& request) -> std::optional<HttpResponse> {
    if (request.url == "https://shared.example/slow") return std::nullopt;  // never answers
    return Status(200);
  });
  StartDispatcher();
  Ingest(1, 10);  // the slow route has work first, alone on the host
  ASSERT_TRUE(Eventually([&] { return client_.held("https://shared.example/slow") == 2; }));
  std::vector<Delivery> ok = Ingest(2, 10);

  for (const Delivery& delivery : ok) {
    ASSERT_TRUE(WaitForAttempts(delivery.id, 1));
    EXPECT_EQ(Get(delivery.id).status, DeliveryStatus::kSucceeded);
  }
  // Alone it could take 4 / (1 + 1) of the host's 4 slots, never all of them.
  EXPECT_EQ(client_.max_held("https://shared.example/slow"), 2);
}

TEST_F(DispatcherTest, RateLimitSendsABurstThenOneTokenAtATime) {
  CreateShapedConfig(1, "https://limited.example/hook", 2, DeliveryOrdering::kNone);
  StartDispatcher();
  Ingest(1, 6);
  ASSERT_TRUE(Eventually([&] { return client_.sent().size() == 2; }));  // one second's worth
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(client_.sent().size(), 2u) << "sent past the rate on an unchanged clock";

  Advance(499);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(client_.sent().size(), 2u) << "a token came early";
  Advance(1);  // 2 per second: a token every 500 ms
  ASSERT_TRUE(Eventually([&] { return client_.sent().size() == 3; }));
  Advance(500);
  ASSERT_TRUE(Eventually([&] { return client_.sent().size() == 4; }));
  Advance(1'000);  // the last two
  ASSERT_TRUE(Eventually([&] { return client_.sent().size() == 6; }));
  ASSERT_TRUE(Eventually([&] { return dispatcher_->metrics().deliveries_succeeded.load() == 6; }));
}

TEST_F(DispatcherTest, FifoSendsInIngestOrderAndARetryHoldsTheOnesBehindIt) {
  CreateShapedConfig(1, "https://ordered.example/hook", 0, DeliveryOrdering::kFifo, "[0, 1]");
  std::map<std::string, int> tries;
  client_.SetScript([&tries](const HttpRequest& request) -> std::optional<HttpResponse> {
    return ++tries[request.body] == 1 ? Status(500) : Status(200);  // each fails once first
  });
  StartDispatcher();
  std::vector<Delivery> deliveries = Ingest(1, 3);
  for (std::size_t sent = 1; sent < 6; sent += 2) {
    ASSERT_TRUE(Eventually([&] { return client_.sent().size() == sent; })) << sent;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ASSERT_EQ(client_.sent().size(), sent) << "a later delivery overtook one being retried";
    Advance(1'000);  // its retry is due: it succeeds, then the next one gets its first try
    const std::size_t next = std::min<std::size_t>(sent + 2, 6);
    ASSERT_TRUE(Eventually([&] { return client_.sent().size() == next; })) << sent;
  }
  EXPECT_EQ(SentBodies(), (std::vector<std::string>{R"({"n":0})", R"({"n":0})", R"({"n":1})",
                                                    R"({"n":1})", R"({"n":2})", R"({"n":2})"}));
  for (const Delivery& delivery : deliveries) {
    ASSERT_TRUE(WaitForAttempts(delivery.id, 2));
    EXPECT_EQ(Get(delivery.id).status, DeliveryStatus::kSucceeded);
  }
}

// While a FIFO configuration's turn is in flight nothing more of it can be claimed: claims
// leave it aside (so they never step over its backlog), and its next turn goes once this one
// ends.
TEST_F(DispatcherTest, ClaimsLeaveAFifoConfigurationAsideWhileItsTurnIsInFlight) {
  InstrumentedStore& store = Instrument();
  WebhookConfig fifo =
      CreateShapedConfig(1, "https://ordered.example/hook", 0, DeliveryOrdering::kFifo);
  CreateConfig(2, "https://plain.example/hook");
  client_.SetScript([](const HttpRequest& request) -> std::optional<HttpResponse> {
    if (request.url == "https://ordered.example/hook") return std::nullopt;  // held
    return Status(200);
  });
  StartDispatcher();
  std::vector<Delivery> ordered = Ingest(1, 3);
  ASSERT_TRUE(Eventually([&] { return client_.held("https://ordered.example/hook") == 1; }));
  std::vector<Delivery> plain = Ingest(2, 1);  // claimed while the FIFO turn is in flight
  ASSERT_TRUE(WaitForAttempts(plain[0].id, 1));
  EXPECT_TRUE(store.Skipped(fifo.id));

  client_.SetScript([](const HttpRequest&) -> std::optional<HttpResponse> { return Status(200); });
  client_.ReleaseHeld(Status(200));
  for (const Delivery& delivery : ordered) {
    ASSERT_TRUE(WaitForAttempts(delivery.id, 1));
    EXPECT_EQ(Get(delivery.id).status, DeliveryStatus::kSucceeded);
  }
  EXPECT_EQ(SentBodies(),
            (std::vector<std::string>{R"({"n":0})", R"({"n":0})", R"({"n":1})", R"({"n":2})"}));
}

TEST_F(DispatcherTest, FifoAndRateLimitedConfigurationsAreNeverHandedOff) {
  WebhookConfig fifo =
      CreateShapedConfig(1, "https://ordered.example/hook", 0, DeliveryOrdering::kFifo);
  WebhookConfig plain = CreateConfig(2, "https://plain.example/hook");
  WebhookConfig limited =
      CreateShapedConfig(3, "https://limited.example/hook", 10, DeliveryOrdering::kNone);
  StartDispatcher();
  ConnectHandoff();
  ASSERT_TRUE(Eventually([&] { return HandoffTakes(plain); }));
  EXPECT_FALSE(HandoffTakes(fifo));
  EXPECT_FALSE(HandoffTakes(limited));
  std::vector<Delivery> ordered = Ingest(1, 1);
  ASSERT_EQ(ordered.size(), 1u);
  EXPECT_EQ(ordered[0].status, DeliveryStatus::kPending);
  ASSERT_TRUE(WaitForAttempts(ordered[0].id, 1));  // claimed and sent all the same
  EXPECT_EQ(Get(ordered[0].id).status, DeliveryStatus::kSucceeded);
}

// The end of a FIFO turn hands the next delivery to the dispatcher (LeaseForNextTurn), which
// takes it unless the configuration is rate-limited (its tokens live in the claim): a line
// drains in order without a claim per delivery, and without one when its configuration leaves
// the held-back set at each turn's end.
TEST_F(DispatcherTest, AFifoLineDrainsByHandOffFromTheEndOfEachTurn) {
  InstrumentedStore& store = Instrument();
  WebhookConfig fifo =
      CreateShapedConfig(1, "https://ordered.example/hook", 0, DeliveryOrdering::kFifo);
  WebhookConfig limited =
      CreateShapedConfig(2, "https://limited.example/hook", 10, DeliveryOrdering::kFifo);
  StartDispatcher();
  ConnectHandoff();
  DeliveryHandoff& handoff = *dispatcher_->handoff();
  ASSERT_TRUE(Eventually([&] { return handoff.LeaseForNextTurn(fifo, clock_.Now()).has_value(); }));
  EXPECT_FALSE(handoff.LeaseForNextTurn(limited, clock_.Now()).has_value());

  constexpr int kLine = 8;
  std::vector<Delivery> ordered = Ingest(1, kLine);
  for (const Delivery& delivery : ordered) {
    ASSERT_TRUE(WaitForAttempts(delivery.id, 1));
    EXPECT_EQ(Get(delivery.id).status, DeliveryStatus::kSucceeded);
  }
  std::vector<std::string> expected;
  for (int n = 0; n < kLine; ++n) expected.push_back(R"({"n":)" + std::to_string(n) + "}");
  EXPECT_EQ(SentBodies(), expected);
  // The start-up look, the claim of the head, and one that may cross an ingest commit.
  EXPECT_LE(store.claims(), 3);
}

}  // namespace
}  // namespace webhookd::delivery
