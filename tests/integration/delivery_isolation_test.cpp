// Isolation: a configuration whose receiver accepts connections and never answers must not
// delay any other configuration's deliveries, whether on another host or on the same one, and
// it holds at most its in-flight cap of requests.
#include <algorithm>
#include <cstdio>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "delivery_support.hpp"

namespace webhookd::itest {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr int kPerConfigCap = 4;
constexpr int kEventsEach = 30;

class DeliveryIsolationTest : public DeliveryTest {
 protected:
  std::vector<std::string> ExtraArgs() const override {
    return {"--retry-schedule",       "0s,1s",
            "--request-timeout-ms",   "5000",
            "--per-config-in-flight", std::to_string(kPerConfigCap),
            "--per-origin-in-flight", std::to_string(2 * kPerConfigCap)};
  }
};

TEST_F(DeliveryIsolationTest, BlackHoleEndpointDoesNotDelayAHealthyOne) {
  // Holds each request far longer than the server's 5 s timeout (cut short when it stops).
  HttpReceiver black_hole([](const ReceivedRequest&) {
    ReceiverResponse never;
    never.delay = std::chrono::minutes(2);
    return never;
  });
  HttpReceiver healthy;
  HttpClient admin = Admin();
  const json::object hole_config =
      CreateConfig(admin, HookBody(1, "BookAppointment", black_hole.Url("/hole"), "hole"));
  const json::object healthy_config =
      CreateConfig(admin, HookBody(2, "BookAppointment", healthy.Url("/ok"), "healthy"));
  ASSERT_FALSE(HasFailure());
  const json::object payload = Appointment(admin, 1);

  // Interleaved, the black hole's event first each time, so it is always ahead in the queue.
  std::map<std::string, steady_clock::time_point> healthy_accepted_at;
  for (int i = 0; i < kEventsEach; ++i) {
    const HttpResponse hole = PostEvent(admin, "BookAppointment", 1, payload);
    const HttpResponse ok = PostEvent(admin, "BookAppointment", 2, payload);
    ASSERT_TRUE(IsJson(hole, 202));
    ASSERT_TRUE(IsJson(ok, 202));
    healthy_accepted_at[std::string(ok.json.at("id").as_string())] = steady_clock::now();
  }

  ASSERT_TRUE(healthy.WaitFor(kEventsEach, 5s))
      << "only " << healthy.Count() << " of " << kEventsEach
      << " healthy deliveries arrived within 5 s of the last event (the black hole's timeout "
         "is 5 s)";
  // Latency from each healthy event's 202 to its arrival: far below the black hole's timeout.
  std::set<std::string> received;
  milliseconds worst{0};
  for (const ReceivedRequest& r : healthy.Requests()) {
    const std::string id = r.Header("webhook-id");
    received.insert(id);
    const auto accepted_at = healthy_accepted_at.find(id);
    if (accepted_at == healthy_accepted_at.end()) continue;
    worst =
        std::max(worst, std::chrono::duration_cast<milliseconds>(r.arrived - accepted_at->second));
  }
  std::set<std::string> posted;
  for (const auto& [id, at] : healthy_accepted_at) posted.insert(id);
  EXPECT_EQ(received, posted);
  std::printf("[ isolation ] slowest healthy delivery arrived %lld ms after its 202\n",
              static_cast<long long>(worst.count()));
  EXPECT_LT(worst, 2500ms);

  // The black hole never had more than its cap in flight: a further request can only start
  // when a slot frees, at the earliest when the first request times out 5 s after it arrived.
  // And it gets its cap: the other configuration did not take its slots.
  ASSERT_TRUE(black_hole.WaitFor(kPerConfigCap, 5s)) << black_hole.Count();
  const std::vector<ReceivedRequest> hole_requests = black_hole.Requests();
  const auto first_timeout = hole_requests.front().arrived + 4500ms;
  const auto before_first_timeout =
      std::count_if(hole_requests.begin(), hole_requests.end(),
                    [&](const ReceivedRequest& r) { return r.arrived < first_timeout; });
  EXPECT_EQ(before_first_timeout, kPerConfigCap);

  // None of its deliveries is done: they wait, in flight or pending, for their turn.
  const json::array hole_deliveries = DeliveriesOf(admin, IdOf(hole_config));
  ASSERT_EQ(hole_deliveries.size(), static_cast<std::size_t>(kEventsEach));
  for (const json::value& d : hole_deliveries) {
    const json::value& status = d.at("status");
    EXPECT_TRUE(status == "pending" || status == "delivering") << json::serialize(d);
  }
  const json::array healthy_deliveries = DeliveriesOf(admin, IdOf(healthy_config));
  ASSERT_EQ(healthy_deliveries.size(), static_cast<std::size_t>(kEventsEach));
  EXPECT_TRUE(WaitUntil(
      [&] {
        for (const json::value& d : DeliveriesOf(admin, IdOf(healthy_config))) {
          if (d.at("status") != "succeeded") return false;
        }
        return true;
      },
      5s));
}

// The case per-host isolation got wrong: two routes of one receiving host, one never answering.
// The host's 8 slots are shared: the black hole, alone there first, takes 8 / (1 + 1) = 4 of
// them, and the healthy route gets its share of the rest at once.
TEST_F(DeliveryIsolationTest, BlackHoleRouteDoesNotDelayAnotherRouteOfTheSameHost) {
  HttpReceiver host([](const ReceivedRequest& request) {
    ReceiverResponse answer;
    if (request.target == "/hole") answer.delay = std::chrono::minutes(2);
    return answer;
  });
  HttpClient admin = Admin();
  CreateConfig(admin, HookBody(1, "BookAppointment", host.Url("/hole"), "hole"));
  CreateConfig(admin, HookBody(2, "BookAppointment", host.Url("/ok"), "healthy"));
  ASSERT_FALSE(HasFailure());
  const json::object payload = Appointment(admin, 1);

  for (int i = 0; i < kEventsEach; ++i) {  // the black hole's events first: it is busy alone
    ASSERT_TRUE(IsJson(PostEvent(admin, "BookAppointment", 1, payload), 202));
  }
  ASSERT_TRUE(WaitUntil(
      [&] {
        const std::vector<ReceivedRequest> requests = host.Requests();
        return std::count_if(requests.begin(), requests.end(), [](const ReceivedRequest& r) {
                 return r.target == "/hole";
               }) == kPerConfigCap;
      },
      5s));
  std::set<std::string> posted;
  const auto first_healthy_post = steady_clock::now();
  for (int i = 0; i < kEventsEach; ++i) {
    const HttpResponse ok = PostEvent(admin, "BookAppointment", 2, payload);
    ASSERT_TRUE(IsJson(ok, 202));
    posted.insert(std::string(ok.json.at("id").as_string()));
  }

  std::set<std::string> received;
  ASSERT_TRUE(WaitUntil(
      [&] {
        received.clear();
        for (const ReceivedRequest& r : host.Requests()) {
          if (r.target == "/ok") received.insert(r.Header("webhook-id"));
        }
        return received.size() == posted.size();
      },
      4s))
      << "only " << received.size() << " of " << posted.size()
      << " healthy deliveries arrived within 4 s (the black hole's requests time out after 5 s)";
  EXPECT_EQ(received, posted);
  std::printf("[ isolation ] %zu healthy deliveries on the black hole's host in %lld ms\n",
              received.size(),
              static_cast<long long>(
                  std::chrono::duration_cast<milliseconds>(steady_clock::now() - first_healthy_post)
                      .count()));
  // The black hole never got more than its share: a further request of it could only start
  // when one of its first ones timed out, 5 s after it arrived.
  std::vector<ReceivedRequest> hole;
  for (const ReceivedRequest& r : host.Requests()) {
    if (r.target == "/hole") hole.push_back(r);
  }
  ASSERT_FALSE(hole.empty());
  const auto first_timeout = hole.front().arrived + 4500ms;
  EXPECT_EQ(std::count_if(hole.begin(), hole.end(),
                          [&](const ReceivedRequest& r) { return r.arrived < first_timeout; }),
            kPerConfigCap);
}

// CPU time (user + system, in clock ticks) a process has used, from /proc/<pid>/stat.
std::int64_t CpuTicks(int pid) {
  const std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));
  std::vector<std::string> values{std::istream_iterator<std::string>(fields), {}};
  if (values.size() < 13) return -1;
  return std::stoll(values[11]) + std::stoll(values[12]);
}

class DeliveryIdleTest : public DeliveryTest {};

TEST_F(DeliveryIdleTest, IdleServerWithAWaitingRetryDoesNotBusyPoll) {
  HttpReceiver receiver([](const ReceivedRequest&) { return Answer(503, "later"); });
  HttpClient admin = Admin();
  ASSERT_FALSE(FirstAttemptThenPending(admin, receiver.Url("/later"), json::array{0, 600}).empty());

  const std::int64_t before = CpuTicks(server_->pid());
  std::this_thread::sleep_for(1500ms);  // the measurement itself: the server left alone
  const std::int64_t used = CpuTicks(server_->pid()) - before;
  ASSERT_GE(before, 0);
  // A busy loop would burn ~150 ticks (100 Hz) in 1.5 s; an idle server next to nothing.
  EXPECT_LT(used, 10) << "an idle server with one retry due in 10 minutes used " << used
                      << " CPU ticks in 1.5 s";
  EXPECT_EQ(receiver.Count(), 1u);
}

}  // namespace
}  // namespace webhookd::itest
