// GET /stats (issue 12): the console's overview, read from the real server on both backends.
#include "delivery_support.hpp"

namespace webhookd::itest {
namespace {

class StatsTest : public DeliveryTest {
 protected:
  // The sum of one status over every bucket of a /stats answer.
  static std::int64_t Total(const json::value& stats, std::string_view status) {
    std::int64_t total = 0;
    for (const json::value& bucket : stats.at("buckets").as_array()) {
      total += bucket.at(status).to_number<std::int64_t>();
    }
    return total;
  }

  static json::value Stats(HttpClient& client, const std::string& query = "") {
    const HttpResponse r = client.Get("/stats" + query);
    EXPECT_TRUE(IsJson(r, 200)) << r.Summary();
    return r.json;
  }

  // Posts the catalog's sample of `event_name` for organization `org`; the accepted event.
  static json::object PostSample(HttpClient& client, std::string_view event_name,
                                 std::int64_t org) {
    const HttpResponse r = PostEvent(client, event_name, org, SamplePayload(client, event_name));
    EXPECT_TRUE(IsJson(r, 202)) << r.Summary();
    return r.json.is_object() ? r.json.as_object() : json::object{};
  }
};

TEST_F(StatsTest, CountsTheWindowsDeliveriesByOutcomeWithLatencyAndFailures) {
  HttpReceiver ok;
  HttpReceiver failing([](const ReceivedRequest&) { return Answer(500, "down"); });
  HttpClient admin = Admin();
  const json::object good = CreateConfig(admin, HookBody(1, "BookAppointment", ok.Url(), "good"));
  const std::string good_deliveries[] = {
      AcceptedDeliveries(PostEvent(admin, "BookAppointment", 1, Appointment(admin, 1)))
          .at(IdOf(good)),
      AcceptedDeliveries(PostEvent(admin, "BookAppointment", 1, Appointment(admin, 2)))
          .at(IdOf(good))};
  for (const std::string& id : good_deliveries) {
    ASSERT_EQ(WaitForStatus(admin, id, "succeeded", 10s).at("status"), "succeeded");
  }
  json::object bad_body = HookBody(1, "Notification", failing.Url(), "bad");
  bad_body["retrySchedule"] = json::array{0, 3600};
  const json::object bad = CreateConfig(admin, bad_body);
  PostSample(admin, "Notification", 1);
  ASSERT_TRUE(WaitUntil(
      [&] {
        const json::array deliveries = DeliveriesOf(admin, IdOf(bad));
        return deliveries.size() == 1 && deliveries[0].at("attemptCount") == json::value(1) &&
               deliveries[0].at("status") == "pending";
      },
      10s));

  const json::value stats = Stats(admin);
  EXPECT_EQ(Total(stats, "succeeded"), 2);
  EXPECT_EQ(Total(stats, "pending"), 1);
  EXPECT_EQ(Total(stats, "failed"), 0);
  EXPECT_EQ(stats.at("bucketSeconds"), json::value(60));
  EXPECT_GE(stats.at("buckets").as_array().size(), 60u) << "an hour of minutes, empty ones too";
  EXPECT_EQ(*At(stats, "/open/pending"), json::value(1));
  EXPECT_EQ(*At(stats, "/open/delivering"), json::value(0));
  EXPECT_EQ(*At(stats, "/latencyMs/samples"), json::value(2));
  const std::int64_t p50 = At(stats, "/latencyMs/p50")->to_number<std::int64_t>();
  const std::int64_t p99 = At(stats, "/latencyMs/p99")->to_number<std::int64_t>();
  EXPECT_GE(p50, 0);
  EXPECT_LE(p50, p99);
  EXPECT_LT(p99, 10000);
  const json::array& top = stats.at("topFailing").as_array();
  ASSERT_EQ(top.size(), 1u) << stats;
  EXPECT_EQ(top[0], json::parse(R"({"externalEventId":)" + std::to_string(IdOf(bad)) +
                                R"(,"name":"bad","failed":0,"retrying":1})"));
  EXPECT_TRUE(stats.at("disabled").as_array().empty());
}

TEST_F(StatsTest, DeliveriesCreatedBeforeTheWindowDoNotCount) {
  HttpReceiver ok;
  HttpClient admin = Admin();
  const json::object config = CreateConfig(admin, HookBody(1, "BookAppointment", ok.Url()));
  const std::string delivery =
      AcceptedDeliveries(PostEvent(admin, "BookAppointment", 1, Appointment(admin, 1)))
          .at(IdOf(config));
  ASSERT_EQ(WaitForStatus(admin, delivery, "succeeded", 10s).at("status"), "succeeded");
  std::this_thread::sleep_for(1100ms);
  const std::string since = FormatRfc3339(std::chrono::system_clock::now());

  const json::value stats = Stats(admin, "?since=" + since);
  EXPECT_EQ(Total(stats, "succeeded"), 0) << stats;
  EXPECT_EQ(*At(stats, "/latencyMs/samples"), json::value(0));
  EXPECT_TRUE(At(stats, "/latencyMs/p50")->is_null());
  EXPECT_EQ(stats.at("since"), json::value(since.substr(0, 19) + ".000Z"));
  EXPECT_EQ(Total(Stats(admin), "succeeded"), 1) << "the default window, the last hour";
}

TEST_F(StatsTest, ListsConfigurationsDeactivatedByGoneWithTheReason) {
  HttpReceiver gone([](const ReceivedRequest&) { return Answer(410, "gone"); });
  HttpClient admin = Admin();
  const auto [config, delivery] =
      OneDeliveryTo(admin, HookBody(1, "BookAppointment", gone.Url(), "gone hook"));
  ASSERT_FALSE(HasFailure());
  ASSERT_EQ(WaitForStatus(admin, delivery, "failed", 10s).at("status"), "failed");

  const json::value stats = Stats(admin);
  EXPECT_EQ(Total(stats, "failed"), 1);
  const json::array& disabled = stats.at("disabled").as_array();
  ASSERT_EQ(disabled.size(), 1u) << stats;
  EXPECT_EQ(disabled[0].at("externalEventId"), json::value(IdOf(config)));
  EXPECT_EQ(disabled[0].at("name"), "gone hook");
  EXPECT_NE(std::string(disabled[0].at("disabledReason").as_string()).find("410"),
            std::string::npos)
      << disabled[0];
  const json::array& top = stats.at("topFailing").as_array();
  ASSERT_EQ(top.size(), 1u);
  EXPECT_EQ(top[0].at("failed"), json::value(1));
}

TEST_F(StatsTest, AnOrganizationKeySeesOnlyItsOwnOrganization) {
  HttpReceiver ok;
  HttpClient admin = Admin();
  const json::object config = CreateConfig(admin, HookBody(1, "BookAppointment", ok.Url()));
  const std::string delivery =
      AcceptedDeliveries(PostEvent(admin, "BookAppointment", 1, Appointment(admin, 1)))
          .at(IdOf(config));
  ASSERT_EQ(WaitForStatus(admin, delivery, "succeeded", 10s).at("status"), "succeeded");
  HttpClient org1 = WithKey(CreateOrgKey(1));
  HttpClient org2 = WithKey(CreateOrgKey(2));

  EXPECT_EQ(Total(Stats(org1), "succeeded"), 1);
  EXPECT_EQ(Total(Stats(org2), "succeeded"), 0);
  EXPECT_EQ(*At(Stats(org2), "/latencyMs/samples"), json::value(0));
  EXPECT_EQ(Total(Stats(admin, "?organizationId=1"), "succeeded"), 1);
  EXPECT_EQ(Total(Stats(admin, "?organizationId=2"), "succeeded"), 0);
  EXPECT_TRUE(IsProblem(org2.Get("/stats?organizationId=1"), 403, "forbidden"));
}

TEST_F(StatsTest, RefusesAWindowItCannotAnswerCheaply) {
  HttpClient admin = Admin();
  const auto now = std::chrono::system_clock::now();
  const std::string eight_days_ago = FormatRfc3339(now - std::chrono::hours(24 * 8));
  const std::string two_days_ago = FormatRfc3339(now - std::chrono::hours(48));
  const std::string tomorrow = FormatRfc3339(now + std::chrono::hours(24));
  struct Case {
    std::string query, field, words;
  };
  for (const Case& c : std::vector<Case>{
           {"since=yesterday", "since", "since must be an RFC 3339 time"},
           {"since=" + eight_days_ago, "since", "within the last 7 days"},
           {"since=" + tomorrow, "since", "within the last 7 days"},
           {"bucket=30", "bucket", "bucket"},
           {"bucket=abc", "bucket", "bucket"},
           {"since=" + two_days_ago, "bucket", "at most 1440: choose a longer bucket"},
           {"organizationId=0", "organizationId", "organizationId"}}) {
    const HttpResponse r = admin.Get("/stats?" + c.query);
    ASSERT_TRUE(IsProblem(r, 400, "invalid-request", c.field)) << c.query << ": " << r.Summary();
    EXPECT_NE(std::string(r.json.at("detail").as_string()).find(c.words), std::string::npos)
        << c.query << ": " << r.json;
  }
  const json::value day = Stats(admin, "?since=" + two_days_ago + "&bucket=3600");
  EXPECT_EQ(day.at("buckets").as_array().size(), 49u);
  EXPECT_TRUE(IsProblem(Anonymous().Get("/stats"), 401, "unauthorized"));
}

}  // namespace
}  // namespace webhookd::itest
