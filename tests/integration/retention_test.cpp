// Retention per organization (issue 14, section 3): payload retention erases an event's payload
// and its attempts' bodies and headers but keeps the records; an organization's own periods
// (PUT /organizations/{id}/settings) beat the server's. On both backends, on the real server.
// Tests cannot wait for days: they age events in the database directly, then restart the
// server, whose janitor makes a pass at once.
#include "delivery_support.hpp"

namespace webhookd::itest {
namespace {

constexpr std::int64_t kDayMillis = 24LL * 60 * 60 * 1000;

class RetentionTest : public DeliveryTest {
 protected:
  std::vector<std::string> ExtraArgs() const override {
    std::vector<std::string> args = DeliveryTest::ExtraArgs();
    args.insert(args.end(), retention_flags_.begin(), retention_flags_.end());
    return args;
  }

  void SetUp() override {
    retention_flags_ = {"--payload-retention", "60d", "--retention", "90d"};
    DeliveryTest::SetUp();
  }

  // Makes every event (and its deliveries) `days` older.
  void AgeEvents(int days) {
    const std::string shift = std::to_string(days * kDayMillis);
    ASSERT_TRUE(database_->Execute("UPDATE events SET created_at = created_at - " + shift).ok());
    ASSERT_TRUE(
        database_->Execute("UPDATE deliveries SET created_at = created_at - " + shift).ok());
  }

  // Posts a BookAppointment event of `organization` (no configuration: no deliveries).
  std::string PostUndelivered(HttpClient& admin, std::int64_t organization) {
    const HttpResponse accepted =
        PostEvent(admin, "BookAppointment", organization, Appointment(admin, organization));
    EXPECT_TRUE(IsJson(accepted, 202));
    return accepted.is_json ? std::string(accepted.json.at("id").as_string()) : "";
  }

  // Waits until GET /events/{id} says the payload was erased; returns the last answer.
  HttpResponse WaitForErasure(HttpClient& client, const std::string& event_id) {
    HttpResponse last;
    WaitUntil(
        [&] {
          last = client.Get("/events/" + event_id);
          const json::value* erasure = At(last.json, "/payloadErasure");
          return erasure != nullptr && !erasure->is_null();
        },
        10s, 50ms);
    return last;
  }

  std::vector<std::string> retention_flags_;
};

TEST_F(RetentionTest, PayloadRetentionErasesThePayloadAndAttemptDataButKeepsTheRecords) {
  HttpReceiver receiver([](const ReceivedRequest&) {
    return Answer(200, R"({"observations":[{"code":"8867-4","value":72}]})",
                  {{"x-receiver", "clinic-7"}});
  });
  HttpClient admin = Admin();
  const json::object config = CreateConfig(
      admin, HookBody(1, "InferenceToObservations", receiver.Url("/infer"), "inference"));
  ASSERT_FALSE(HasFailure());
  const HttpResponse accepted = PostEvent(admin, "InferenceToObservations", 1,
                                          SamplePayload(admin, "InferenceToObservations"));
  ASSERT_TRUE(IsJson(accepted, 202));
  const std::string event_id(accepted.json.at("id").as_string());
  const std::string delivery_id = AcceptedDeliveries(accepted).at(IdOf(config));
  ASSERT_EQ(WaitForStatus(admin, delivery_id, "succeeded", 10s).at("status"), "succeeded");
  const HttpResponse before = admin.Get("/events/" + event_id);
  ASSERT_TRUE(IsJson(before, 200));
  EXPECT_EQ(before.json.at("payloadErasure"), json::value(nullptr));

  ASSERT_NO_FATAL_FAILURE(AgeEvents(61));
  ASSERT_NO_FATAL_FAILURE(RestartServer());
  HttpClient after_restart = Admin();
  const HttpResponse after = WaitForErasure(after_restart, event_id);
  ASSERT_TRUE(IsJson(after, 200));
  EXPECT_EQ(after.json.at("payload"), json::value(nullptr));
  EXPECT_EQ(after.json.at("payloadErasure").at("reason"), "retention");
  EXPECT_TRUE(ParseRfc3339(after.json.at("payloadErasure").at("erasedAt").as_string()));
  // The records stay: the event, its delivery and its attempt, with times, statuses and codes.
  const json::value& delivery = after.json.at("deliveries").at(0);
  EXPECT_EQ(delivery.at("id"), json::value(delivery_id));
  EXPECT_EQ(delivery.at("status"), "succeeded");
  EXPECT_EQ(delivery.at("lastStatusCode"), json::value(200));
  EXPECT_EQ(delivery.at("attemptCount"), json::value(1));
  const json::array attempts = Attempts(after_restart, delivery_id);
  ASSERT_EQ(attempts.size(), 1u);
  EXPECT_EQ(attempts[0].at("statusCode"), json::value(200));
  EXPECT_TRUE(ParseRfc3339(attempts[0].at("attemptedAt").as_string()));
  EXPECT_EQ(attempts[0].at("responseBody"), "");
  EXPECT_EQ(attempts[0].at("responseHeaders"), json::object());
  EXPECT_EQ(attempts[0].at("requestHeaders"), json::object());

  const HttpResponse result = after_restart.Get("/events/" + event_id + "/result");
  ASSERT_TRUE(IsJson(result, 200));
  EXPECT_EQ(result.json.at("results").at(0).at("result"), json::value(nullptr));
  EXPECT_EQ(result.json.at("results").at(0).at("resultError"), "erased by payload retention");

  // Sending it again would send nothing: refused, and nothing is queued.
  EXPECT_TRUE(IsProblem(after_restart.Request("POST", "/deliveries/" + delivery_id + "/retry"), 409,
                        "conflict"));
  EXPECT_EQ(GetDelivery(after_restart, delivery_id).at("status"), "succeeded");
}

TEST_F(RetentionTest, AnOrganizationsOwnPeriodsBeatTheServerDefaults) {
  HttpClient admin = Admin();
  // Server: payloads erased after 60 days, events purged after 90; all events 40 days old.
  const std::string erased_early = PostUndelivered(admin, 1);  // payloadRetention 30d
  const std::string purged_early = PostUndelivered(admin, 2);  // retention 35d
  const std::string kept = PostUndelivered(admin, 3);          // the server's periods
  const std::string kept_longer = PostUndelivered(admin, 4);   // longer than the server's
  ASSERT_FALSE(HasFailure());
  const HttpResponse kept_before = admin.Get("/events/" + kept);
  ASSERT_TRUE(IsJson(
      admin.Put("/organizations/1/settings", json::object{{"payloadRetention", "30d"}}), 200));
  ASSERT_TRUE(
      IsJson(admin.Put("/organizations/2/settings", json::object{{"retention", "35d"}}), 200));
  ASSERT_TRUE(IsJson(admin.Put("/organizations/4/settings",
                               json::object{{"payloadRetention", "120d"}, {"retention", "150d"}}),
                     200));
  ASSERT_NO_FATAL_FAILURE(AgeEvents(40));
  ASSERT_NO_FATAL_FAILURE(RestartServer());
  HttpClient after_restart = Admin();

  const HttpResponse erased = WaitForErasure(after_restart, erased_early);
  EXPECT_EQ(erased.json.at("payload"), json::value(nullptr)) << erased.Summary();
  EXPECT_TRUE(
      WaitUntil([&] { return after_restart.Get("/events/" + purged_early).status == 404; }, 10s));
  EXPECT_TRUE(IsProblem(after_restart.Get("/events/" + purged_early), 404, "not-found"));
  const HttpResponse kept_after = after_restart.Get("/events/" + kept);
  ASSERT_TRUE(IsJson(kept_after, 200));
  EXPECT_EQ(kept_after.json.at("payload"), kept_before.json.at("payload"));
  EXPECT_EQ(kept_after.json.at("payloadErasure"), json::value(nullptr));

  // At 70 days the server's payload period has passed, but not organization 4's own.
  ASSERT_NO_FATAL_FAILURE(AgeEvents(30));
  ASSERT_NO_FATAL_FAILURE(RestartServer());
  HttpClient after_second_restart = Admin();
  EXPECT_EQ(WaitForErasure(after_second_restart, kept).json.at("payload"), json::value(nullptr));
  const HttpResponse longer = after_second_restart.Get("/events/" + kept_longer);
  ASSERT_TRUE(IsJson(longer, 200));
  EXPECT_EQ(longer.json.at("payloadErasure"), json::value(nullptr));
  EXPECT_TRUE(longer.json.at("payload").is_object());
}

TEST_F(RetentionTest, SettingsAreReadableByTheirOrganizationAndSetByAdminsOnly) {
  HttpClient admin = Admin();
  HttpClient clinic = WithKey(CreateOrgKey(1, "clinic"));
  const HttpResponse put =
      admin.Put("/organizations/1/settings",
                json::object{{"payloadRetention", "30d"}, {"retention", "365d"}});
  ASSERT_TRUE(IsJson(put, 200));
  const HttpResponse own = clinic.Get("/organizations/1/settings");
  ASSERT_TRUE(IsJson(own, 200));
  EXPECT_EQ(own.json, put.json);
  EXPECT_EQ(own.json,
            (json::value{{"organizationId", 1},
                         {"retention", "365d"},
                         {"payloadRetention", "30d"},
                         {"serverDefaults", {{"retention", "90d"}, {"payloadRetention", "60d"}}}}));
  const HttpResponse other = clinic.Get("/organizations/2/settings");
  EXPECT_TRUE(IsProblem(other, 404, "not-found"));
  EXPECT_EQ(ProblemWithoutId(other, "2"),
            ProblemWithoutId(clinic.Get("/organizations/987654321/settings"), "987654321"));
  EXPECT_TRUE(IsProblem(clinic.Put("/organizations/1/settings", json::object{{"retention", "1d"}}),
                        403, "forbidden"));
  // PUT replaces both: what it leaves out goes back to the server's default.
  ASSERT_TRUE(
      IsJson(admin.Put("/organizations/1/settings", json::object{{"retention", "400d"}}), 200));
  const HttpResponse replaced = clinic.Get("/organizations/1/settings");
  EXPECT_EQ(replaced.json.at("retention"), "400d");
  EXPECT_EQ(replaced.json.at("payloadRetention"), json::value(nullptr));
}

TEST_F(RetentionTest, BadSettingsAreRefusedNamingTheFieldAndChangeNothing) {
  HttpClient admin = Admin();
  ASSERT_TRUE(IsJson(admin.Put("/organizations/1/settings",
                               json::object{{"payloadRetention", "30d"}, {"retention", "365d"}}),
                     200));
  const HttpResponse before = admin.Get("/organizations/1/settings");
  const std::vector<std::pair<std::string, std::string>> bad = {
      {R"({"payloadRetention": "30 days"})", "/payloadRetention"},
      {R"({"payloadRetention": "0d"})", "/payloadRetention"},
      {R"({"retention": 30})", "/retention"},
      {R"({"retention": "30s"})", "/retention"},
      {R"({"retention": "365d", "purgeAfter": "1d"})", "/purgeAfter"},
  };
  for (const auto& [body, field] : bad) {
    const HttpResponse r = admin.Request("PUT", "/organizations/1/settings", body);
    EXPECT_TRUE(IsProblem(r, 400, "invalid-request", field)) << body;
  }
  EXPECT_TRUE(
      IsProblem(admin.Request("PUT", "/organizations/1/settings", "{"), 400, "invalid-request"));
  EXPECT_TRUE(IsProblem(admin.Put("/organizations/0/settings", json::object()), 404, "not-found"));
  EXPECT_EQ(admin.Get("/organizations/1/settings").body, before.body);
}

}  // namespace
}  // namespace webhookd::itest
