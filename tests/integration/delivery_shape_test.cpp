// A configuration's delivery shape, end to end: `rateLimit` spaces its deliveries out, and
// `ordering: "fifo"` sends them one at a time in ingest order, a retried one holding the rest.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <map>
#include <mutex>
#include <thread>

#include "delivery_support.hpp"

namespace webhookd::itest {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

class DeliveryShapeTest : public DeliveryTest {
 protected:
  // A FIFO configuration of organization 1 for BookAppointment at `url` with `retry_schedule`,
  // and `events` appointments (numbered from 1) posted to it in one batch.
  json::object CreateFifoLine(HttpClient& admin, const std::string& url, json::array retry_schedule,
                              int events) {
    json::object body = HookBody(1, "BookAppointment", url, "ordered");
    body["ordering"] = "fifo";
    body["retrySchedule"] = std::move(retry_schedule);
    json::object config = CreateConfig(admin, body);
    json::array batch;
    for (int i = 1; i <= events; ++i) {
      batch.push_back(json::object{{"eventName", "BookAppointment"},
                                   {"organizationId", 1},
                                   {"payload", Appointment(admin, i)}});
    }
    EXPECT_TRUE(IsJson(admin.Post("/events/batch", json::object{{"events", batch}}), 200));
    return config;
  }

  static bool AllSucceeded(HttpClient& admin, std::int64_t config_id) {
    const json::array deliveries = DeliveriesOf(admin, config_id);
    return !deliveries.empty() &&
           std::all_of(deliveries.begin(), deliveries.end(),
                       [](const json::value& d) { return d.at("status") == "succeeded"; });
  }
};

// The event's "id" (the appointment number Appointment() put there) as the receiver got it.
std::int64_t AppointmentOf(const ReceivedRequest& request) {
  return json::parse(request.body).at("id").to_number<std::int64_t>();
}

TEST_F(DeliveryShapeTest, RateLimitSpreadsDeliveriesOverTime) {
  HttpReceiver receiver;
  HttpClient admin = Admin();
  json::object body = HookBody(1, "BookAppointment", receiver.Url("/limited"), "limited");
  body["rateLimit"] = 5;
  const json::object config = CreateConfig(admin, body);
  ASSERT_EQ(config.at("rateLimit"), 5);
  const json::object payload = Appointment(admin, 1);

  constexpr int kEvents = 25;
  json::array events;
  for (int i = 0; i < kEvents; ++i) {
    events.push_back(json::object{
        {"eventName", "BookAppointment"}, {"organizationId", 1}, {"payload", payload}});
  }
  const HttpResponse batch = admin.Post("/events/batch", json::object{{"events", events}});
  ASSERT_TRUE(IsJson(batch, 200));
  for (const json::value& item : batch.json.at("data").as_array())
    ASSERT_EQ(item.at("status"), 202);
  ASSERT_TRUE(receiver.WaitFor(kEvents, 15s)) << receiver.Count();

  // A burst of 5 (one second's worth), then 5 a second: the last arrives >= 4 s after the first.
  const std::vector<ReceivedRequest> arrived = receiver.Requests();
  const auto spread = arrived.back().arrived - arrived.front().arrived;
  std::printf("[ rate limit ] %d deliveries at 5/s arrived over %lld ms\n", kEvents,
              static_cast<long long>(std::chrono::duration_cast<milliseconds>(spread).count()));
  EXPECT_GE(spread, 3500ms);
  // No second holds more than a burst plus one second's rate.
  for (const ReceivedRequest& r : arrived) {
    const auto within_a_second = std::count_if(arrived.begin(), arrived.end(), [&](const auto& o) {
      return o.arrived >= r.arrived && o.arrived < r.arrived + 1s;
    });
    EXPECT_LE(within_a_second, 10) << "at arrival " << r.index;
  }
  EXPECT_TRUE(WaitUntil([&] { return AllSucceeded(admin, IdOf(config)); }, 5s));
}

TEST_F(DeliveryShapeTest, FifoDeliversInIngestOrderEvenWhenEachFailsTwiceFirst) {
  std::mutex mu;
  std::map<std::int64_t, int> tries;  // guarded by mu
  HttpReceiver receiver([&](const ReceivedRequest& request) {
    std::lock_guard lock(mu);
    return ++tries[AppointmentOf(request)] <= 2 ? Answer(503, "not yet") : Answer(200, "ok");
  });
  HttpClient admin = Admin();
  json::object body = HookBody(1, "BookAppointment", receiver.Url("/ordered"), "ordered");
  body["ordering"] = "fifo";
  body["retrySchedule"] = json::array{0, 1, 1};
  const json::object config = CreateConfig(admin, body);
  ASSERT_EQ(config.at("ordering"), "fifo");

  constexpr int kEvents = 4;
  for (int i = 1; i <= kEvents; ++i) {
    ASSERT_TRUE(IsJson(PostEvent(admin, "BookAppointment", 1, Appointment(admin, i)), 202));
  }
  ASSERT_TRUE(receiver.WaitFor(3 * kEvents, 30s)) << receiver.Count();

  std::vector<std::int64_t> order;
  for (const ReceivedRequest& r : receiver.Requests()) order.push_back(AppointmentOf(r));
  EXPECT_TRUE(std::is_sorted(order.begin(), order.end()))
      << "arrivals went back to an earlier event: " << json::serialize(json::value_from(order));
  EXPECT_EQ(order, (std::vector<std::int64_t>{1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4}));
  EXPECT_TRUE(WaitUntil([&] { return AllSucceeded(admin, IdOf(config)); }, 5s));
}

// The deliveries behind a FIFO configuration's head wait for their turn: listed pending with no
// next attempt while the head waits a minute for its retry, and a manual retry of one of them is
// refused (409). A manual retry of the head that succeeds starts the next turn at once, and the
// rest follow in order.
TEST_F(DeliveryShapeTest, FifoDeliveriesWaitingForTheirTurnHaveNoNextAttemptUntilItComes) {
  std::atomic<bool> healthy = false;
  HttpReceiver receiver(
      [&](const ReceivedRequest&) { return healthy ? Answer(200, "ok") : Answer(503, "not yet"); });
  HttpClient admin = Admin();
  json::object body = HookBody(1, "BookAppointment", receiver.Url("/ordered"), "ordered");
  body["ordering"] = "fifo";
  body["retrySchedule"] = json::array{0, 60};
  const json::object config = CreateConfig(admin, body);
  for (int i = 1; i <= 3; ++i) {
    ASSERT_TRUE(IsJson(PostEvent(admin, "BookAppointment", 1, Appointment(admin, i)), 202));
  }
  ASSERT_TRUE(receiver.WaitFor(1, 10s));
  json::array listed;
  ASSERT_TRUE(WaitUntil(
      [&] {
        listed = DeliveriesOf(admin, IdOf(config));
        return listed.size() == 3 && listed[0].at("attemptCount") == 1;
      },
      5s));
  EXPECT_EQ(listed[0].at("status"), "pending");
  EXPECT_TRUE(listed[0].at("nextAttemptAt").is_string()) << json::serialize(listed[0]);
  for (int i = 1; i < 3; ++i) {
    EXPECT_EQ(listed[i].at("status"), "pending");
    EXPECT_TRUE(listed[i].at("nextAttemptAt").is_null()) << json::serialize(listed[i]);
  }
  const std::string second(listed[1].at("id").as_string());
  const HttpResponse refused = admin.Request("POST", "/deliveries/" + second + "/retry");
  EXPECT_TRUE(IsProblem(refused, 409, "conflict")) << refused.Summary();
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(receiver.Count(), 1u) << "a delivery behind the head was sent";

  healthy = true;
  const std::string head(listed[0].at("id").as_string());
  ASSERT_TRUE(IsJson(admin.Request("POST", "/deliveries/" + head + "/retry"), 202));
  ASSERT_TRUE(receiver.WaitFor(4, 10s)) << receiver.Count();
  std::vector<std::int64_t> order;
  for (const ReceivedRequest& r : receiver.Requests()) order.push_back(AppointmentOf(r));
  EXPECT_EQ(order, (std::vector<std::int64_t>{1, 1, 2, 3}));
  EXPECT_TRUE(WaitUntil([&] { return AllSucceeded(admin, IdOf(config)); }, 5s));
}

// Each turn of a FIFO line after the first is handed to the dispatcher by the write that records
// the turn before it: draining the line takes about one store write per delivery (its attempt's
// record), not two (the record, then a claim of the next).
TEST_F(DeliveryShapeTest, AFifoLineDrainsWithoutAClaimPerDelivery) {
  std::atomic<bool> healthy = false;
  HttpReceiver receiver(
      [&](const ReceivedRequest&) { return healthy ? Answer(200, "ok") : Answer(503, "not yet"); });
  HttpClient admin = Admin();
  constexpr int kEvents = 30;
  const json::object config =
      CreateFifoLine(admin, receiver.Url("/ordered"), json::array{0, 60}, kEvents);
  json::array listed;
  ASSERT_TRUE(WaitUntil(
      [&] {
        listed = DeliveriesOf(admin, IdOf(config));
        return listed.size() == kEvents && listed[0].at("attemptCount") == 1;
      },
      10s));
  auto store_writes = [&] {
    return MetricValue(admin.Get("/metrics").body, "webhookd_store_batch_jobs_total").value_or(-1);
  };
  const double writes_before = store_writes();

  healthy = true;
  const std::string head(listed[0].at("id").as_string());
  ASSERT_TRUE(IsJson(admin.Request("POST", "/deliveries/" + head + "/retry"), 202));
  ASSERT_TRUE(WaitUntil([&] { return AllSucceeded(admin, IdOf(config)); }, 20s));
  const double writes = store_writes() - writes_before;
  std::printf("[ fifo line ] %d deliveries drained with %.0f store writes\n", kEvents, writes);
  std::vector<std::int64_t> order;
  for (const ReceivedRequest& r : receiver.Requests()) order.push_back(AppointmentOf(r));
  ASSERT_EQ(order.size(), kEvents + 1u);
  EXPECT_TRUE(std::is_sorted(order.begin(), order.end()));
  // The manual retry, its claim, one record per delivery, and a little slack for the lease
  // sweep; a claim per delivery would need about twice as many.
  EXPECT_LE(writes, kEvents + 6);
}

// A FIFO configuration deactivated with a line behind a head waiting for its retry: when the
// head falls due, the whole line is failed at once ("configuration inactive"), not one delivery
// per claim (which took about a second each), and nothing more is sent.
TEST_F(DeliveryShapeTest, ADeactivatedFifoConfigurationsLineIsFailedAtOnce) {
  HttpReceiver receiver([](const ReceivedRequest&) { return Answer(503, "not yet"); });
  HttpClient admin = Admin();
  constexpr int kEvents = 20;
  const json::object config =
      CreateFifoLine(admin, receiver.Url("/ordered"), json::array{0, 1}, kEvents);
  ASSERT_TRUE(receiver.WaitFor(1, 10s));
  ASSERT_TRUE(IsJson(admin.Patch(ConfigPath(config), json::object{{"active", false}}), 200));

  const auto deactivated = steady_clock::now();
  json::array listed;
  const bool all_failed = WaitUntil(
      [&] {
        listed = DeliveriesOf(admin, IdOf(config));
        return listed.size() == kEvents &&
               std::all_of(listed.begin(), listed.end(),
                           [](const json::value& d) { return d.at("status") == "failed"; });
      },
      8s);
  const auto took = steady_clock::now() - deactivated;
  std::printf("[ fifo line ] %d deliveries failed %lld ms after the deactivation\n", kEvents,
              static_cast<long long>(std::chrono::duration_cast<milliseconds>(took).count()));
  ASSERT_TRUE(all_failed) << json::serialize(listed);
  for (const json::value& d : listed) {
    EXPECT_EQ(d.at("lastError"), "configuration inactive") << json::serialize(d);
  }
  EXPECT_EQ(receiver.Count(), 1u) << "only the head's first attempt was sent";
}

TEST_F(DeliveryShapeTest, RateLimitAndOrderingAreValidatedAndCanBeChanged) {
  HttpClient admin = Admin();
  json::object body = ConfigBody(1);
  body["rateLimit"] = 0;
  const HttpResponse zero = admin.Post("/external-events/", body);
  EXPECT_TRUE(IsProblem(zero, 400, "invalid-request", "/rateLimit"));
  EXPECT_EQ(zero.json.at("detail"),
            "rateLimit must be null (unlimited) or an integer from 1 to 100000 (deliveries per "
            "second)");
  body["rateLimit"] = "10";
  EXPECT_TRUE(
      IsProblem(admin.Post("/external-events/", body), 400, "invalid-request", "/rateLimit"));
  body["rateLimit"] = 10;
  body["ordering"] = "lifo";
  const HttpResponse bad_ordering = admin.Post("/external-events/", body);
  EXPECT_TRUE(IsProblem(bad_ordering, 400, "invalid-request", "/ordering"));
  EXPECT_NE(bad_ordering.json.at("detail").as_string().find("fifo"), json::string::npos);
  body.erase("ordering");
  EXPECT_TRUE(admin.Get("/external-events/?organizationId=1").json.at("data").as_array().empty())
      << "a refused configuration was stored";

  const json::object created = CreateConfig(admin, body);
  EXPECT_EQ(created.at("rateLimit"), 10);
  EXPECT_EQ(created.at("ordering"), "none");
  const HttpResponse patched =
      admin.Patch(ConfigPath(created), json::object{{"rateLimit", nullptr}, {"ordering", "fifo"}});
  ASSERT_TRUE(IsJson(patched, 200)) << patched.Summary();
  EXPECT_TRUE(patched.json.at("rateLimit").is_null());
  EXPECT_EQ(patched.json.at("ordering"), "fifo");
  const HttpResponse read = admin.Get(ConfigPath(created));
  EXPECT_TRUE(read.json.at("rateLimit").is_null());
  EXPECT_EQ(read.json.at("ordering"), "fifo");
}

}  // namespace
}  // namespace webhookd::itest
