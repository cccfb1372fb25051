// Tenant limits (issue 13, item 7): configurations per organization, deliveries per ingest
// request and the ingest rate limit per API key, each refused with a problem that names it.
#include <thread>

#include "delivery_support.hpp"

namespace webhookd::itest {
namespace {

json::object BatchItem(std::int64_t organization_id, json::object payload, std::string key) {
  return {{"eventName", "BookAppointment"},
          {"organizationId", organization_id},
          {"payload", std::move(payload)},
          {"idempotencyKey", std::move(key)}};
}

std::size_t ListedCount(HttpClient& client, const std::string& path) {
  const HttpResponse r = client.Get(path);
  if (!IsJson(r, 200)) {
    ADD_FAILURE() << path << ": " << r.Summary();
    return 0;
  }
  return r.json.at("data").as_array().size();
}

class TenantLimitsTest : public DeliveryTest {
 protected:
  std::vector<std::string> ExtraArgs() const override {
    return {"--max-configs-per-org", "3", "--max-deliveries-per-request", "2"};
  }
};

TEST_F(TenantLimitsTest, AConfigurationOverTheOrganizationsLimitIsRefusedUntilOneIsDeleted) {
  HttpReceiver receiver;
  HttpClient admin = Admin();
  std::vector<json::object> created;
  for (int i = 0; i < 3; ++i) {
    created.push_back(CreateConfig(admin, HookBody(1, "BookAppointment", receiver.Url("/hook"))));
  }
  CreateConfig(admin, HookBody(2, "BookAppointment", receiver.Url("/hook")));
  ASSERT_FALSE(HasFailure());

  const std::string detail =
      "organization 1 has 3 webhook configurations (deleted ones do not count) and may have at "
      "most 3; delete one first (the server's --max-configs-per-org)";
  const HttpResponse refused =
      admin.Post("/external-events/", HookBody(1, "Notification", receiver.Url("/hook")));
  ASSERT_TRUE(IsProblem(refused, 422, "limit-exceeded"));
  EXPECT_EQ(refused.json.at("detail"), json::value(detail));
  HttpClient org1 = WithKey(CreateOrgKey(1));
  const HttpResponse by_org_key =
      org1.Post("/external-events/", HookBody(1, "BookAppointment", receiver.Url("/hook")));
  ASSERT_TRUE(IsProblem(by_org_key, 422, "limit-exceeded"));
  EXPECT_EQ(by_org_key.json.at("detail"), json::value(detail));
  EXPECT_EQ(ListedCount(admin, "/external-events/?organizationId=1&includeDeleted=true"), 3u);

  ASSERT_EQ(admin.Delete(ConfigPath(created[0])).status, 204);
  const json::object replacement =
      CreateConfig(org1, HookBody(1, "Notification", receiver.Url("/hook")));
  EXPECT_EQ(replacement.at("eventName"), json::value("Notification"));
  EXPECT_EQ(ListedCount(admin, "/external-events/?organizationId=1"), 3u);
  EXPECT_EQ(ListedCount(admin, "/external-events/?organizationId=1&includeDeleted=true"), 4u);
}

TEST_F(TenantLimitsTest, AnIngestRequestOverTheDeliveryLimitIsRefusedAndStoresNothing) {
  HttpReceiver receiver;
  HttpClient admin = Admin();
  CreateConfig(admin, HookBody(1, "BookAppointment", receiver.Url("/a")));
  CreateConfig(admin, HookBody(1, "BookAppointment", receiver.Url("/b")));
  ASSERT_FALSE(HasFailure());

  // Two events, two configurations each: 4 deliveries against a limit of 2.
  const json::object batch{{"events", json::array{BatchItem(1, Appointment(admin, 1), "first"),
                                                  BatchItem(1, Appointment(admin, 2), "second")}}};
  const HttpResponse refused = admin.Post("/events/batch", batch);
  ASSERT_TRUE(IsProblem(refused, 422, "limit-exceeded"));
  EXPECT_EQ(
      refused.json.at("detail"),
      json::value("the request's events would create at least 4 deliveries; one ingest "
                  "request may create at most 2 (the server's --max-deliveries-per-request)"));
  EXPECT_EQ(ListedCount(admin, "/deliveries"), 0u);

  // Nothing of the batch was stored: its first event's idempotency key is still unused.
  const HttpResponse first =
      PostEvent(admin, "BookAppointment", 1, Appointment(admin, 1), {{"Idempotency-Key", "first"}});
  ASSERT_TRUE(IsJson(first, 202));
  EXPECT_EQ(first.Header("idempotent-replayed"), "");
  EXPECT_EQ(first.json.at("deliveries").as_array().size(), 2u);
  EXPECT_TRUE(receiver.WaitFor(2, 10s));

  // A single event whose fan-out alone is over the limit.
  CreateConfig(admin, HookBody(1, "BookAppointment", receiver.Url("/c")));
  const HttpResponse single = PostEvent(admin, "BookAppointment", 1, Appointment(admin, 3));
  ASSERT_TRUE(IsProblem(single, 422, "limit-exceeded"));
  EXPECT_EQ(
      single.json.at("detail"),
      json::value("the request's events would create at least 3 deliveries; one ingest "
                  "request may create at most 2 (the server's --max-deliveries-per-request)"));
  const HttpResponse deliveries = admin.Get("/deliveries");
  ASSERT_TRUE(IsJson(deliveries, 200));
  ASSERT_EQ(deliveries.json.at("data").as_array().size(), 2u) << deliveries.Summary();
  for (const json::value& d : deliveries.json.at("data").as_array()) {
    EXPECT_EQ(d.at("eventId"), first.json.at("id"));
  }
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(receiver.Count(), 2u);
}

class IngestRateLimitTest : public DeliveryTest {
 protected:
  std::vector<std::string> ExtraArgs() const override {
    return {"--ingest-rate-limit", "1", "--ingest-burst", "3"};
  }
};

TEST_F(IngestRateLimitTest, AKeyOverItsRateGets429WithRetryAfterAndOtherKeysDoNot) {
  HttpClient admin = Admin();
  const json::object payload = Appointment(admin, 1);
  HttpClient org1 = WithKey(CreateOrgKey(1));
  HttpClient org2 = WithKey(CreateOrgKey(2));
  ASSERT_FALSE(HasFailure());

  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(IsJson(PostEvent(org1, "BookAppointment", 1, payload), 202)) << "event " << i;
  }
  const HttpResponse limited = PostEvent(org1, "BookAppointment", 1, payload);
  ASSERT_TRUE(IsProblem(limited, 429, "rate-limited"));
  EXPECT_EQ(limited.Header("retry-after"), "1");
  EXPECT_EQ(
      limited.json.at("detail"),
      json::value("events from this API key are limited to 1 a second, in bursts of up to "
                  "3 (the server's --ingest-rate-limit and --ingest-burst); retry after 1 s"));
  const json::object batch{{"events", json::array{BatchItem(1, payload, "b1")}}};
  const HttpResponse limited_batch = org1.Post("/events/batch", batch);
  ASSERT_TRUE(IsProblem(limited_batch, 429, "rate-limited"));
  EXPECT_EQ(limited_batch.Header("retry-after"), "1");

  // Another key has its own bucket; a batch takes one token per event.
  const json::object three{
      {"events", json::array{BatchItem(2, payload, "c1"), BatchItem(2, payload, "c2"),
                             BatchItem(2, payload, "c3")}}};
  ASSERT_TRUE(IsJson(org2.Post("/events/batch", three), 200));
  EXPECT_TRUE(IsProblem(PostEvent(org2, "BookAppointment", 2, payload), 429, "rate-limited"));

  std::this_thread::sleep_for(1100ms);
  const HttpResponse later = PostEvent(org1, "BookAppointment", 1, payload);
  ASSERT_TRUE(IsJson(later, 202)) << later.Summary();
  EXPECT_EQ(later.json.at("organizationId"), json::value(1));
}

}  // namespace
}  // namespace webhookd::itest
