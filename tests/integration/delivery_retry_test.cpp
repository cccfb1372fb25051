// Delivery semantics (issue 3, sections 3 and 4): retries on the schedule with the same
// webhook-id, the attempt log, Retry-After, 410 Gone, redirects not followed, the dead letter,
// manual retry and recover.
#include <set>
#include <thread>

#include "delivery_support.hpp"
#include "webhookd/verify.hpp"

namespace webhookd::itest {
namespace {

using std::chrono::milliseconds;
using std::chrono::system_clock;

class DeliveryRetryTest : public DeliveryTest {};

milliseconds Gap(const ReceivedRequest& earlier, const ReceivedRequest& later) {
  return std::chrono::duration_cast<milliseconds>(later.arrived - earlier.arrived);
}

TEST_F(DeliveryRetryTest, RetriesWithTheSameIdUntilSuccessAndLogsEveryAttempt) {
  HttpReceiver receiver(Sequence({Answer(503, "busy"), Answer(503, "busy"), Answer(200, "done")}));
  HttpClient admin = Admin();
  json::object body = HookBody(1, "BookAppointment", receiver.Url("/flaky"));
  body["attributes"] = {{"apiKey", "ak_live_0123456789abcdef"}};
  const json::object config = CreateConfig(admin, body);
  ASSERT_FALSE(HasFailure());

  const HttpResponse accepted = PostEvent(admin, "BookAppointment", 1, Appointment(admin, 1));
  ASSERT_TRUE(IsJson(accepted, 202));
  const std::string event_id(accepted.json.at("id").as_string());
  const std::string delivery_id = AcceptedDeliveries(accepted).at(IdOf(config));

  const json::object delivery = WaitForStatus(admin, delivery_id, "succeeded", 15s);
  EXPECT_EQ(delivery.at("status"), "succeeded");
  EXPECT_EQ(delivery.at("attemptCount"), json::value(3));
  EXPECT_EQ(delivery.at("lastStatusCode"), json::value(200));
  EXPECT_EQ(delivery.at("nextAttemptAt"), json::value(nullptr));

  const std::vector<ReceivedRequest> requests = receiver.Requests();
  ASSERT_EQ(requests.size(), 3u);
  const std::string secret(config.at("secret").as_string());
  for (std::size_t i = 0; i < requests.size(); ++i) {
    const ReceivedRequest& r = requests[i];
    EXPECT_EQ(r.Header("webhook-id"), event_id) << "attempt " << i + 1;
    EXPECT_LE(std::abs(WebhookTimestamp(r) - UnixSeconds(r.arrived_wall)), 1)
        << "attempt " << i + 1 << " is signed with another attempt's time";
    EXPECT_TRUE(Verify(secret, r.Header("webhook-id"), r.Header("webhook-timestamp"),
                       r.Header("webhook-signature"), r.body)
                    .ok());
    if (i > 0) {
      // Schedule 0 s, 1 s, 1 s with +-20 % jitter.
      EXPECT_GE(Gap(requests[i - 1], r), 750ms) << "attempt " << i + 1;
      EXPECT_LT(Gap(requests[i - 1], r), 3000ms) << "attempt " << i + 1;
      EXPECT_GE(WebhookTimestamp(r), WebhookTimestamp(requests[i - 1]));
    }
  }
  EXPECT_GT(WebhookTimestamp(requests[2]), WebhookTimestamp(requests[0]))
      << "attempts 1.6 s or more apart carry the same webhook-timestamp";

  const json::array attempts = Attempts(admin, delivery_id);
  ASSERT_EQ(attempts.size(), 3u);
  const std::vector<int> codes = {503, 503, 200};
  const std::vector<std::string> bodies = {"busy", "busy", "done"};
  for (std::size_t i = 0; i < attempts.size(); ++i) {
    SCOPED_TRACE("attempt " + std::to_string(i + 1) + ": " + json::serialize(attempts[i]));
    const json::value& a = attempts[i];
    EXPECT_EQ(a.at("deliveryId"), json::value(delivery_id));
    EXPECT_EQ(a.at("statusCode"), json::value(codes[i]));
    EXPECT_EQ(a.at("trigger"), json::value("automatic"));
    EXPECT_EQ(a.at("responseBody"), json::value(bodies[i]));
    EXPECT_GE(a.at("durationMs").to_number<std::int64_t>(), 0);
    EXPECT_TRUE(ParseRfc3339(a.at("attemptedAt").as_string()).has_value());
    const json::value& sent = a.at("requestHeaders");
    EXPECT_EQ(sent.at("webhook-id"), json::value(event_id));
    EXPECT_EQ(sent.at("webhook-timestamp"), json::value(requests[i].Header("webhook-timestamp")));
    const std::string signature(sent.at("webhook-signature").as_string());
    EXPECT_TRUE(signature.starts_with("v1,") && signature.ends_with("****")) << signature;
    EXPECT_EQ(signature.find(requests[i].Header("webhook-signature").substr(3, 12)),
              std::string::npos)
        << "the signature is not masked";
    const std::string api_key(sent.at("x-api-key").as_string());
    EXPECT_EQ(api_key.find("0123456789abcdef"), std::string::npos) << api_key;
    EXPECT_TRUE(api_key.ends_with("****")) << api_key;
    EXPECT_EQ(a.at("error"), json::value(nullptr));
  }
}

TEST_F(DeliveryRetryTest, HonoursRetryAfterOn429) {
  HttpReceiver receiver(
      Sequence({Answer(429, "slow down", {{"Retry-After", "2"}}), Answer(200, "ok")}));
  HttpClient admin = Admin();
  const auto [config, delivery_id] =
      OneDeliveryTo(admin, HookBody(1, "BookAppointment", receiver.Url("/limited")));
  ASSERT_FALSE(HasFailure());
  EXPECT_EQ(WaitForStatus(admin, delivery_id, "succeeded", 15s).at("status"), "succeeded");

  const std::vector<ReceivedRequest> requests = receiver.Requests();
  ASSERT_EQ(requests.size(), 2u);
  // The schedule alone would retry after 0.8 to 1.2 s; Retry-After asks for 2 s.
  EXPECT_GE(Gap(requests[0], requests[1]), 1950ms);
  EXPECT_LT(Gap(requests[0], requests[1]), 4000ms);
  const json::array attempts = Attempts(admin, delivery_id);
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(attempts[0].at("statusCode"), json::value(429));
  const json::value* retry_after = At(attempts[0], "/responseHeaders/retry-after");
  if (retry_after == nullptr) retry_after = At(attempts[0], "/responseHeaders/Retry-After");
  ASSERT_NE(retry_after, nullptr) << json::serialize(attempts[0]);
  EXPECT_EQ(*retry_after, json::value("2"));
}

TEST_F(DeliveryRetryTest, TimeoutIsRetriedAndTheConfigurationsTimeoutApplies) {
  ReceiverResponse too_slow = Answer(200, "late");
  too_slow.delay = 2500ms;
  HttpReceiver receiver(Sequence({too_slow, Answer(200, "in time")}));
  HttpClient admin = Admin();
  json::object body = HookBody(1, "BookAppointment", receiver.Url("/slow"));
  body["timeoutMs"] = 500;  // the server's own request timeout is 3 s
  const auto [config, delivery_id] = OneDeliveryTo(admin, body);
  ASSERT_FALSE(HasFailure());
  EXPECT_EQ(WaitForStatus(admin, delivery_id, "succeeded", 10s).at("status"), "succeeded");
  const json::array attempts = Attempts(admin, delivery_id);
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(attempts[0].at("statusCode"), json::value(nullptr)) << json::serialize(attempts[0]);
  ASSERT_TRUE(attempts[0].at("error").is_string()) << json::serialize(attempts[0]);
  EXPECT_NE(attempts[0].at("error").as_string().find("imeout"), std::string::npos)
      << attempts[0].at("error");
  const std::int64_t duration = attempts[0].at("durationMs").to_number<std::int64_t>();
  EXPECT_GE(duration, 400);
  EXPECT_LT(duration, 2000) << "the configuration's 500 ms timeout was not applied";
  EXPECT_EQ(attempts[1].at("statusCode"), json::value(200));
}

TEST_F(DeliveryRetryTest, GoneDisablesTheConfiguration) {
  HttpReceiver receiver([](const ReceivedRequest&) { return Answer(410, "gone"); });
  HttpClient admin = Admin();
  const auto [config, delivery_id] =
      OneDeliveryTo(admin, HookBody(1, "BookAppointment", receiver.Url("/gone")));
  ASSERT_FALSE(HasFailure());
  const json::object delivery = WaitForStatus(admin, delivery_id, "failed", 10s);
  EXPECT_EQ(delivery.at("status"), "failed");
  EXPECT_EQ(delivery.at("attemptCount"), json::value(1)) << "410 is not retried";
  EXPECT_EQ(delivery.at("lastStatusCode"), json::value(410));

  const HttpResponse stored = admin.Get(ConfigPath(config));
  ASSERT_TRUE(IsJson(stored, 200));
  EXPECT_EQ(stored.json.at("active"), json::value(false)) << stored.Summary();
  const json::value& reason = stored.json.at("disabledReason");
  ASSERT_TRUE(reason.is_string()) << stored.Summary();
  EXPECT_NE(reason.as_string().find("410"), std::string::npos) << reason;

  const HttpResponse later = PostEvent(admin, "BookAppointment", 1, Appointment(admin, 2));
  ASSERT_TRUE(IsJson(later, 202));
  EXPECT_TRUE(later.json.at("deliveries").as_array().empty()) << later.Summary();
  EXPECT_EQ(receiver.Count(), 1u);
}

// --auto-disable-after-hours takes fractions: 0.0005 h is 1.8 s, with a retry every second.
class AutoDisableTest : public DeliveryTest {
 protected:
  std::vector<std::string> ExtraArgs() const override {
    return {"--retry-schedule", "0s,1s,1s,1s,1s,1s,1s,1s", "--auto-disable-after-hours", "0.0005"};
  }
};

TEST_F(AutoDisableTest, ConfigurationFailingForThePeriodIsDeactivatedAndGetsNoMoreEvents) {
  HttpReceiver receiver([](const ReceivedRequest&) { return Answer(500, "down"); });
  HttpClient admin = Admin();
  const auto [config, delivery_id] =
      OneDeliveryTo(admin, HookBody(1, "BookAppointment", receiver.Url("/down")));
  ASSERT_FALSE(HasFailure());
  // Failing since the first attempt; the first failure 1.8 s later disables (the third or
  // fourth attempt, unless the machine is slow), before the schedule's eight are spent.
  const json::object delivery = WaitForStatus(admin, delivery_id, "failed", 15s);
  ASSERT_EQ(delivery.at("status"), "failed");
  const std::int64_t attempts = delivery.at("attemptCount").to_number<std::int64_t>();
  EXPECT_GE(attempts, 2);
  EXPECT_LT(attempts, 8);
  EXPECT_EQ(delivery.at("lastStatusCode"), json::value(500));

  const HttpResponse stored = admin.Get(ConfigPath(config));
  ASSERT_TRUE(IsJson(stored, 200));
  EXPECT_EQ(stored.json.at("active"), json::value(false)) << stored.Summary();
  EXPECT_EQ(stored.json.at("disabledReason"), json::value("all deliveries failed for 1800 ms"));

  const HttpResponse later = PostEvent(admin, "BookAppointment", 1, Appointment(admin, 2));
  ASSERT_TRUE(IsJson(later, 202));
  EXPECT_TRUE(later.json.at("deliveries").as_array().empty()) << later.Summary();
  std::this_thread::sleep_for(1500ms);  // longer than a retry wait
  EXPECT_EQ(receiver.Count(), static_cast<std::size_t>(attempts));
  EXPECT_EQ(GetDelivery(admin, delivery_id).at("attemptCount"), json::value(attempts));

  // Turning it back on clears the reason.
  const HttpResponse reactivated = admin.Patch(ConfigPath(config), json::object{{"active", true}});
  ASSERT_TRUE(IsJson(reactivated, 200));
  EXPECT_EQ(reactivated.json.at("disabledReason"), json::value(nullptr)) << reactivated.Summary();
}

TEST_F(DeliveryRetryTest, RedirectIsAFailureAndIsNotFollowed) {
  HttpReceiver elsewhere;
  const std::string location = elsewhere.Url("/moved");
  HttpReceiver receiver([location](const ReceivedRequest&) {
    return Answer(302, "", {{"Location", location}});
  });
  HttpClient admin = Admin();
  json::object body = HookBody(1, "BookAppointment", receiver.Url("/redirecting"));
  body["retrySchedule"] = json::array{0};  // one attempt, then the dead letter
  const auto [config, delivery_id] = OneDeliveryTo(admin, body);
  ASSERT_FALSE(HasFailure());
  const json::object delivery = WaitForStatus(admin, delivery_id, "failed", 10s);
  EXPECT_EQ(delivery.at("status"), "failed");
  EXPECT_EQ(delivery.at("lastStatusCode"), json::value(302));
  const json::array attempts = Attempts(admin, delivery_id);
  ASSERT_EQ(attempts.size(), 1u);
  EXPECT_EQ(attempts[0].at("statusCode"), json::value(302));
  EXPECT_EQ(receiver.Count(), 1u);
  EXPECT_EQ(elsewhere.Count(), 0u) << "the redirect was followed";
  const HttpResponse stored = admin.Get(ConfigPath(config));
  EXPECT_EQ(stored.json.at("active"), json::value(true)) << "only 410 disables";
}

TEST_F(DeliveryRetryTest, DeadLetterCanBeRetriedManuallyAndRecovered) {
  HttpReceiver receiver([](const ReceivedRequest&) { return Answer(500, "down"); });
  HttpClient admin = Admin();
  json::object body = HookBody(1, "BookAppointment", receiver.Url("/down"));
  body["retrySchedule"] = json::array{0, 1};  // two attempts
  const json::object config = CreateConfig(admin, body);
  ASSERT_FALSE(HasFailure());
  const std::string before = FormatRfc3339(system_clock::now() - 2s);

  std::vector<std::string> deliveries;
  for (int i = 0; i < 2; ++i) {
    const HttpResponse accepted = PostEvent(admin, "BookAppointment", 1, Appointment(admin, i));
    ASSERT_TRUE(IsJson(accepted, 202));
    deliveries.push_back(AcceptedDeliveries(accepted).at(IdOf(config)));
  }
  for (const std::string& id : deliveries) {
    const json::object d = WaitForStatus(admin, id, "failed", 10s);
    EXPECT_EQ(d.at("status"), "failed");
    EXPECT_EQ(d.at("attemptCount"), json::value(2));
    EXPECT_EQ(d.at("lastStatusCode"), json::value(500));
  }
  EXPECT_EQ(receiver.Count(), 4u);
  const HttpResponse failed_list =
      admin.Get("/deliveries?status=failed&externalEventId=" + std::to_string(IdOf(config)));
  ASSERT_TRUE(IsJson(failed_list, 200));
  EXPECT_EQ(failed_list.json.at("data").as_array().size(), 2u);

  // A manual retry of a dead letter is one more attempt, recorded as manual.
  const HttpResponse retry = admin.Request("POST", "/deliveries/" + deliveries[0] + "/retry");
  ASSERT_TRUE(IsJson(retry, 202));
  const json::array attempts = WaitForAttempts(admin, deliveries[0], 3, 10s);
  ASSERT_EQ(attempts.size(), 3u);
  EXPECT_EQ(attempts[0].at("trigger"), json::value("automatic"));
  EXPECT_EQ(attempts[1].at("trigger"), json::value("automatic"));
  EXPECT_EQ(attempts[2].at("trigger"), json::value("manual"));
  EXPECT_EQ(attempts[2].at("statusCode"), json::value(500));
  EXPECT_EQ(WaitForStatus(admin, deliveries[0], "failed", 10s).at("status"), "failed");
  EXPECT_EQ(receiver.Count(), 5u);

  const std::string recover_path = ConfigPath(config) + "/recover";
  const HttpResponse none =
      admin.Post(recover_path, json::object{{"since", FormatRfc3339(system_clock::now() + 1h)}});
  ASSERT_TRUE(IsJson(none, 202));
  EXPECT_EQ(none.json.at("requeued"), json::value(0));

  receiver.SetHandler([](const ReceivedRequest&) { return Answer(200, "back"); });
  const HttpResponse recovered = admin.Post(recover_path, json::object{{"since", before}});
  ASSERT_TRUE(IsJson(recovered, 202));
  EXPECT_EQ(recovered.json.at("requeued"), json::value(2)) << recovered.Summary();
  for (const std::string& id : deliveries) {
    EXPECT_EQ(WaitForStatus(admin, id, "succeeded", 10s).at("status"), "succeeded");
    const json::array all = Attempts(admin, id);
    ASSERT_FALSE(all.empty());
    EXPECT_EQ(all.back().at("trigger"), json::value("manual"));
    EXPECT_EQ(all.back().at("statusCode"), json::value(200));
  }
  EXPECT_EQ(receiver.Count(), 7u);
}

}  // namespace
}  // namespace webhookd::itest
