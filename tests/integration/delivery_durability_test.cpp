// Durability (issue 3, section 3, and DESIGN.md's rules): a kill -9 under load loses no
// accepted event, counted at a real receiver per (event, configuration); a SIGTERM lets an
// in-flight delivery finish or leaves it to be sent again, never lost.
#include <atomic>
#include <cstdio>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "delivery_support.hpp"

namespace webhookd::itest {
namespace {

using std::chrono::steady_clock;

constexpr int kEventsToPost = 300;
constexpr int kKillAfterAccepted = 100;

// Leases of 4 s (request timeouts capped at 3 s, plus a 1 s margin), so that on PostgreSQL a
// restart after a kill need not wait the default 90 s for the killed process's leases.
constexpr auto kLease = 4s;

class DeliveryDurabilityTest : public DeliveryTest {
 protected:
  std::vector<std::string> ExtraArgs() const override {
    return {"--retry-schedule",         "0s,1s,1s,1s", "--request-timeout-ms", "3000",
            "--max-request-timeout-ms", "3000",        "--lease-margin-ms",    "1000"};
  }
};

// Receiver-side bookkeeping: how often each (webhook-id, target) pair arrived.
PairCounts ArrivedPairs(const HttpReceiver& receiver) {
  PairCounts counts;
  for (const ReceivedRequest& r : receiver.Requests()) {
    ++counts[{r.Header("webhook-id"), r.target}];
  }
  return counts;
}

TEST_F(DeliveryDurabilityTest, KillNineUnderLoadLosesNoAcceptedEvent) {
  HttpReceiver receiver([](const ReceivedRequest&) {
    ReceiverResponse slowish;
    slowish.delay = 5ms;  // keeps some deliveries in flight when the kill comes
    return slowish;
  });
  HttpClient admin = Admin();
  const json::object c1 =
      CreateConfig(admin, HookBody(1, "BookAppointment", receiver.Url("/c1"), "c1"));
  const json::object c2 =
      CreateConfig(admin, HookBody(1, "BookAppointment", receiver.Url("/c2"), "c2"));
  ASSERT_FALSE(HasFailure());
  const json::object body{
      {"eventName", "BookAppointment"}, {"organizationId", 1}, {"payload", Appointment(admin, 1)}};

  EventPoster poster({server_->base_url()}, admin_key_, json::serialize(body), kEventsToPost);
  ASSERT_TRUE(WaitUntil([&] { return poster.accepted_count() >= kKillAfterAccepted; }, 60s, 1ms))
      << "only " << poster.accepted_count() << " events accepted; " << poster.unexpected();
  const std::size_t received_before_kill = receiver.Count();
  ASSERT_TRUE(server_->Kill().has_value());
  poster.Join();
  ASSERT_EQ(poster.unexpected(), "");
  const std::vector<std::string> accepted = poster.accepted();
  ASSERT_LT(accepted.size(), static_cast<std::size_t>(kEventsToPost))
      << "the kill came after the last event; nothing was interrupted";

  StartServerAfterKill(kLease);
  ASSERT_FALSE(HasFatalFailure()) << "the server did not start again";
  auto missing = [&] { return MissingPairs(accepted, {"/c1", "/c2"}, ArrivedPairs(receiver)); };
  WaitUntil([&] { return missing().empty(); }, 30s, 50ms);
  const std::vector<std::string> lost = missing();
  EXPECT_TRUE(lost.empty()) << lost.size()
                            << " accepted (event, configuration) pairs never arrived, e.g. "
                            << (lost.empty() ? "" : lost.front());

  int duplicates = 0;
  for (const auto& [pair, n] : ArrivedPairs(receiver)) duplicates += n - 1;
  std::printf(
      "[ durability ] accepted %zu events before kill -9 (%zu requests received by then); "
      "after restart every pair arrived; %d duplicate deliveries (at-least-once)\n",
      accepted.size(), received_before_kill, duplicates);

  // The store agrees: every delivery succeeded, two per committed event. Committed events are
  // the accepted ones plus at most the one whose 202 the kill cut off (the client posts one
  // at a time).
  HttpClient restarted = Admin();
  std::string metrics;
  EXPECT_TRUE(WaitUntil(
      [&] {
        metrics = restarted.Get("/metrics").body;
        return MetricValue(metrics, R"(webhookd_deliveries{status="pending"})") == 0.0 &&
               MetricValue(metrics, R"(webhookd_deliveries{status="delivering"})") == 0.0;
      },
      30s, 50ms))
      << metrics;
  std::set<std::string> committed;
  for (const std::int64_t config_id : {IdOf(c1), IdOf(c2)}) {
    std::set<std::string> events_of_config;
    for (const json::value& d : DeliveriesOf(restarted, config_id)) {
      EXPECT_EQ(d.at("status"), "succeeded") << json::serialize(d);
      events_of_config.emplace(d.at("eventId").as_string());
    }
    if (committed.empty()) committed = events_of_config;
    EXPECT_EQ(events_of_config, committed) << "the configurations disagree on the events";
  }
  for (const std::string& id : accepted) EXPECT_TRUE(committed.contains(id)) << id;
  EXPECT_LE(committed.size(), accepted.size() + 1);
  EXPECT_EQ(MetricValue(metrics, R"(webhookd_deliveries{status="failed"})"), 0.0) << metrics;
}

TEST_F(DeliveryDurabilityTest, SigtermLetsAnInFlightDeliveryFinishOrLeavesItQueued) {
  HttpReceiver slow([](const ReceivedRequest&) {
    ReceiverResponse answer = Answer(200, "slow ok");
    answer.delay = 2s;
    return answer;
  });
  HttpClient admin = Admin();
  const auto [config, delivery_id] =
      OneDeliveryTo(admin, HookBody(1, "BookAppointment", slow.Url("/slow")));
  ASSERT_FALSE(HasFailure());
  ASSERT_TRUE(slow.WaitFor(1, 10s)) << "the delivery was never sent";

  const auto stopping = steady_clock::now();
  const std::optional<ProcessExit> exit = server_->Terminate(15s);
  const auto took =
      std::chrono::duration_cast<std::chrono::milliseconds>(steady_clock::now() - stopping);
  ASSERT_TRUE(exit.has_value()) << "no exit within 15 s of SIGTERM";
  EXPECT_TRUE(exit->Clean()) << exit->Describe() << "\n" << server_->ReadStderr();
  EXPECT_LT(took, 12s) << "longer than the 10 s grace period";
  const std::size_t sent_before_restart = slow.Count();

  StartServer();
  ASSERT_FALSE(HasFatalFailure()) << "the server did not start again";
  HttpClient restarted = Admin();
  const json::object delivery = WaitForStatus(restarted, delivery_id, "succeeded", 15s);
  EXPECT_EQ(delivery.at("status"), "succeeded") << json::serialize(delivery);
  const json::array attempts = Attempts(restarted, delivery_id);
  ASSERT_FALSE(attempts.empty());
  EXPECT_EQ(attempts.back().at("statusCode"), json::value(200));
  std::printf("[ shutdown ] SIGTERM exit after %lld ms; %s\n", static_cast<long long>(took.count()),
              slow.Count() == sent_before_restart
                  ? "the in-flight delivery was recorded before exiting"
                  : "the interrupted delivery was sent again after the restart");
}

TEST_F(DeliveryDurabilityTest, WaitingRetryIsSentOnTimeAfterAKill) {
  HttpReceiver receiver(Sequence({Answer(503, "busy"), Answer(200, "ok")}));
  HttpClient admin = Admin();
  const std::string delivery_id =
      FirstAttemptThenPending(admin, receiver.Url("/retry"), json::array{0, 2});
  ASSERT_FALSE(HasFailure());
  ASSERT_TRUE(GetDelivery(admin, delivery_id).at("nextAttemptAt").is_string());

  // The retry's time lives in the store, not in a timer of the killed process.
  ASSERT_TRUE(server_->Kill().has_value());
  StartServer();
  ASSERT_FALSE(HasFatalFailure()) << "the server did not start again";
  HttpClient restarted = Admin();
  EXPECT_EQ(WaitForStatus(restarted, delivery_id, "succeeded", 10s).at("status"), "succeeded");
  const std::vector<ReceivedRequest> requests = receiver.Requests();
  ASSERT_EQ(requests.size(), 2u);
  const auto gap = std::chrono::duration_cast<std::chrono::milliseconds>(requests[1].arrived -
                                                                         requests[0].arrived);
  EXPECT_GE(gap, 1500ms) << "the retry came before its time (2 s +- 20 %)";
  EXPECT_LT(gap, 5000ms);
}

// The default 90 s leases, and a stable --node-id.
class NodeRestartTest : public DeliveryTest {
 protected:
  std::vector<std::string> ExtraArgs() const override {
    std::vector<std::string> args = DeliveryTest::ExtraArgs();
    args.insert(args.end(), {"--node-id", "restart-test-node"});
    return args;
  }
};

// A node killed in the middle of a request and started again under the same --node-id sends
// that delivery again at once: its leases can only be the killed run's. (Other nodes' leases
// wait for their end; see StoreContractTest.ReleaseOwnLeases...)
TEST_F(NodeRestartTest, RestartedNodeResendsItsInterruptedDeliveryWithoutWaitingForTheLease) {
  std::atomic<bool> release{false};
  HttpReceiver receiver([&](const ReceivedRequest&) {
    // The first request stays unanswered until the server that sent it is gone.
    const auto deadline = steady_clock::now() + 20s;
    while (!release && steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
    return Answer(200, "ok");
  });
  HttpClient admin = Admin();
  const auto [config, delivery_id] =
      OneDeliveryTo(admin, HookBody(1, "BookAppointment", receiver.Url("/held")));
  ASSERT_FALSE(HasFailure());
  ASSERT_TRUE(receiver.WaitFor(1, 10s)) << "the delivery was never sent";
  ASSERT_TRUE(server_->Kill().has_value());
  release = true;

  const auto restarted_at = steady_clock::now();
  StartServer();
  ASSERT_FALSE(HasFatalFailure()) << "the server did not start again";
  ASSERT_TRUE(receiver.WaitFor(2, 20s)) << "not sent again within 20 s (the lease is 90 s)";
  const auto resent_after = std::chrono::duration_cast<std::chrono::milliseconds>(
      receiver.Requests()[1].arrived - restarted_at);
  EXPECT_LT(resent_after, 15s);
  const std::vector<ReceivedRequest> requests = receiver.Requests();
  EXPECT_EQ(requests[0].Header("webhook-id"), requests[1].Header("webhook-id"));
  HttpClient after = Admin();
  EXPECT_EQ(WaitForStatus(after, delivery_id, "succeeded", 10s).at("status"), "succeeded");
}

}  // namespace
}  // namespace webhookd::itest
