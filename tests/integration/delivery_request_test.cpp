// What a receiver gets (issue 3, section 2): fan-out to exactly the matching configurations,
// every delivery header, the organizationCode injection, the Standard Webhooks signature
// checked with the public verify library, and the synchronous test send.
#include <set>

#include "delivery_support.hpp"
#include "webhookd/verify.hpp"

namespace webhookd::itest {
namespace {

using std::chrono::system_clock;

class DeliveryRequestTest : public DeliveryTest {};

// Checks the headers every delivery carries, whatever its configuration.
void ExpectCommonHeaders(const ReceivedRequest& r, const std::string& event_id,
                         std::string_view event_name) {
  SCOPED_TRACE("request to " + r.target);
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.Header("content-type"), "application/json");
  const std::string agent = r.Header("user-agent");
  EXPECT_TRUE(agent.starts_with("webhookd/") && agent.size() > 9) << agent;
  EXPECT_EQ(r.Header("webhook-id"), event_id);
  EXPECT_EQ(r.Header("x-webhook-event"), event_name);
  const std::int64_t timestamp = WebhookTimestamp(r);
  EXPECT_LE(std::abs(timestamp - UnixSeconds(r.arrived_wall)), 5)
      << "webhook-timestamp " << r.Header("webhook-timestamp") << " is not the attempt's time";
  EXPECT_TRUE(r.Header("webhook-signature").starts_with("v1,")) << r.Header("webhook-signature");
}

VerifyResult VerifyRequest(const std::string& secret, const ReceivedRequest& r,
                           std::string_view body) {
  return Verify(secret, r.Header("webhook-id"), r.Header("webhook-timestamp"),
                r.Header("webhook-signature"), body);
}

TEST_F(DeliveryRequestTest, FansOutToExactlyTheMatchingConfigurationsWithSignedRequests) {
  HttpReceiver receiver([](const ReceivedRequest&) { return Answer(200, "ok"); });
  HttpClient admin = Admin();

  json::object plain_body = HookBody(1, "BookAppointment", receiver.Url("/plain"), "plain");
  plain_body["attributes"] = {{"organizationCode", "ORG-PLAIN"}};
  const json::object plain = CreateConfig(admin, plain_body);

  json::object coded_body = HookBody(1, "BookAppointment", receiver.Url("/coded"), "coded");
  coded_body["sendOrganizationCode"] = true;
  coded_body["attributes"] = {{"apiKey", "ak_test_123"}, {"organizationCode", "ORG-7"}};
  coded_body["headers"] = {{"X-Tenant", "acme"}};
  const json::object coded = CreateConfig(admin, coded_body);

  const json::object other_type =
      CreateConfig(admin, HookBody(1, "Notification", receiver.Url("/other-type"), "other"));
  const json::object other_org =
      CreateConfig(admin, HookBody(2, "BookAppointment", receiver.Url("/other-org"), "org2"));
  json::object inactive_body =
      HookBody(1, "BookAppointment", receiver.Url("/inactive"), "inactive");
  inactive_body["active"] = false;
  const json::object inactive = CreateConfig(admin, inactive_body);
  const json::object deleted =
      CreateConfig(admin, HookBody(1, "BookAppointment", receiver.Url("/deleted"), "deleted"));
  ASSERT_EQ(admin.Delete(ConfigPath(deleted)).status, 204);
  ASSERT_FALSE(HasFailure());

  const json::object payload = Appointment(admin, 58241);
  const HttpResponse accepted = PostEvent(admin, "BookAppointment", 1, payload);
  ASSERT_TRUE(IsJson(accepted, 202));
  const std::string event_id(accepted.json.at("id").as_string());
  EXPECT_TRUE(event_id.starts_with("evt_")) << event_id;
  const auto deliveries = AcceptedDeliveries(accepted);
  ASSERT_EQ(deliveries.size(), 2u) << accepted.Summary();
  ASSERT_TRUE(deliveries.contains(IdOf(plain)) && deliveries.contains(IdOf(coded)))
      << accepted.Summary();

  for (const auto& [config_id, delivery_id] : deliveries) {
    EXPECT_EQ(WaitForStatus(admin, delivery_id, "succeeded", 10s).at("status"), "succeeded")
        << "delivery to configuration " << config_id;
  }
  // Both deliveries are finished, so a wrong one would have arrived by now as well.
  const std::vector<ReceivedRequest> requests = receiver.Requests();
  std::multiset<std::string> targets;
  for (const ReceivedRequest& r : requests) targets.insert(r.target);
  EXPECT_EQ(targets, (std::multiset<std::string>{"/coded", "/plain"}));
  for (const json::object* config : {&other_type, &other_org, &inactive, &deleted}) {
    EXPECT_TRUE(DeliveriesOf(admin, IdOf(*config)).empty()) << config->at("name");
  }
  ASSERT_EQ(requests.size(), 2u);

  const std::string plain_secret(plain.at("secret").as_string());
  const std::string coded_secret(coded.at("secret").as_string());
  for (const ReceivedRequest& r : requests) {
    ExpectCommonHeaders(r, event_id, "BookAppointment");
    const bool is_coded = r.target == "/coded";
    const std::string& secret = is_coded ? coded_secret : plain_secret;
    const std::string& other_secret = is_coded ? plain_secret : coded_secret;
    EXPECT_TRUE(VerifyRequest(secret, r, r.body).ok()) << VerifyRequest(secret, r, r.body).message;
    EXPECT_EQ(VerifyRequest(other_secret, r, r.body).status, VerifyStatus::kNoMatchingSignature);
    std::string tampered = r.body;
    const std::size_t appointment_id = tampered.find("58241");
    ASSERT_NE(appointment_id, std::string::npos) << r.body;
    tampered[appointment_id] = '7';
    EXPECT_EQ(VerifyRequest(secret, r, tampered).status, VerifyStatus::kNoMatchingSignature);

    json::object expected_body = payload;
    if (is_coded) {
      expected_body["organizationCode"] = "ORG-7";
      EXPECT_EQ(r.Header("x-api-key"), "ak_test_123");
      EXPECT_EQ(r.Header("x-organization-code"), "ORG-7");
      EXPECT_EQ(r.Header("x-tenant"), "acme");
    } else {
      EXPECT_EQ(r.Header("x-organization-code"), "ORG-PLAIN");
      EXPECT_FALSE(r.headers.contains("x-api-key"));
      EXPECT_FALSE(r.headers.contains("x-tenant"));
    }
    EXPECT_EQ(json::parse(r.body), json::value(expected_body)) << r.target << ": " << r.body;
  }
}

// The payload is stored and sent as the client wrote it (spacing, escapes, number spelling),
// not parsed and written anew: the receiver gets the bytes the producer signed off on.
TEST_F(DeliveryRequestTest, DeliversThePayloadTextAsTheClientWroteIt) {
  HttpReceiver receiver([](const ReceivedRequest&) { return Answer(200, "ok"); });
  HttpClient admin = Admin();
  const json::object config =
      CreateConfig(admin, HookBody(1, "BookAppointment", receiver.Url("/raw"), "raw"));
  std::string payload_text = "{\n";
  const json::object payload = Appointment(admin, 58241);
  for (const auto& member : payload) {
    if (payload_text.size() > 2) payload_text += ",\n";
    payload_text += "    " + json::serialize(json::string(member.key())) + " :  ";
    payload_text += json::serialize(member.value());
  }
  payload_text += "\n  }";
  // "\u0041" is "A" written with an escape; serializing would turn it into "A".
  payload_text.insert(payload_text.size() - 4, R"(,"notes":"\u0041 \/ b")");
  const std::string body =
      R"({"eventName": "BookAppointment", "organizationId": 1, "payload": )" + payload_text + "\n}";
  const HttpResponse accepted = admin.Request("POST", "/events", body);
  ASSERT_TRUE(IsJson(accepted, 202)) << accepted.Summary();
  const auto deliveries = AcceptedDeliveries(accepted);
  ASSERT_EQ(deliveries.size(), 1u) << accepted.Summary();
  EXPECT_EQ(WaitForStatus(admin, deliveries.begin()->second, "succeeded", 10s).at("status"),
            "succeeded");
  const std::vector<ReceivedRequest> requests = receiver.Requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].body, payload_text);
  const std::string secret(config.at("secret").as_string());
  EXPECT_TRUE(VerifyRequest(secret, requests[0], requests[0].body).ok());
}

TEST_F(DeliveryRequestTest, SignsWithBothSecretsDuringARotationsGracePeriod) {
  HttpReceiver receiver;
  HttpClient admin = Admin();
  const json::object config =
      CreateConfig(admin, HookBody(1, "BookAppointment", receiver.Url("/rotating")));
  ASSERT_FALSE(HasFailure());
  const std::string old_secret(config.at("secret").as_string());

  const HttpResponse rotated =
      admin.Post(ConfigPath(config) + "/secret/rotate", json::object{{"expiresInSeconds", 3600}});
  ASSERT_TRUE(IsJson(rotated, 200));
  const std::string new_secret(rotated.json.at("secret").as_string());
  ASSERT_NE(new_secret, old_secret);

  const HttpResponse during = PostEvent(admin, "BookAppointment", 1, Appointment(admin, 1));
  ASSERT_TRUE(IsJson(during, 202));
  ASSERT_TRUE(receiver.WaitFor(1, 10s));
  const ReceivedRequest both = receiver.Requests().back();
  const std::string signatures = both.Header("webhook-signature");
  ASSERT_NE(signatures.find(' '), std::string::npos) << "one signature only: " << signatures;
  EXPECT_TRUE(signatures.starts_with("v1,") && signatures.find(" v1,") != std::string::npos)
      << signatures;
  EXPECT_TRUE(VerifyRequest(new_secret, both, both.body).ok()) << signatures;
  EXPECT_TRUE(VerifyRequest(old_secret, both, both.body).ok()) << signatures;

  // Without a grace period the old secret stops signing at once.
  const HttpResponse cut =
      admin.Post(ConfigPath(config) + "/secret/rotate", json::object{{"expiresInSeconds", 0}});
  ASSERT_TRUE(IsJson(cut, 200));
  const std::string newest(cut.json.at("secret").as_string());
  const HttpResponse after = PostEvent(admin, "BookAppointment", 1, Appointment(admin, 2));
  ASSERT_TRUE(IsJson(after, 202));
  ASSERT_TRUE(receiver.WaitFor(2, 10s));
  const ReceivedRequest one = receiver.Requests().back();
  EXPECT_EQ(one.Header("webhook-id"), after.json.at("id").as_string());
  EXPECT_EQ(one.Header("webhook-signature").find(' '), std::string::npos)
      << one.Header("webhook-signature");
  EXPECT_TRUE(VerifyRequest(newest, one, one.body).ok());
  EXPECT_EQ(VerifyRequest(new_secret, one, one.body).status, VerifyStatus::kNoMatchingSignature);
}

TEST_F(DeliveryRequestTest, TestSendDeliversTheSampleSynchronouslyAndReportsTheAnswer) {
  HttpReceiver receiver([](const ReceivedRequest&) {
    return Answer(200, "thanks", {{"X-Receiver", "r1"}});
  });
  HttpClient admin = Admin();
  const json::object config =
      CreateConfig(admin, HookBody(3, "BookAppointment", receiver.Url("/test-hook")));
  ASSERT_FALSE(HasFailure());

  const HttpResponse r = admin.Request("POST", ConfigPath(config) + "/test");
  ASSERT_TRUE(IsJson(r, 200));
  // Synchronous: the receiver has the request by the time the reply comes.
  ASSERT_EQ(receiver.Count(), 1u);
  EXPECT_EQ(r.json.at("success"), json::value(true)) << r.Summary();
  EXPECT_EQ(r.json.at("statusCode"), json::value(200));
  EXPECT_EQ(r.json.at("responseBody"), json::value("thanks"));
  EXPECT_EQ(r.json.at("eventName"), json::value("BookAppointment"));
  EXPECT_EQ(r.json.at("error"), json::value(nullptr));
  const json::value* receiver_header = At(r.json, "/responseHeaders/x-receiver");
  const json::value* receiver_header_cased = At(r.json, "/responseHeaders/X-Receiver");
  EXPECT_TRUE((receiver_header != nullptr && *receiver_header == "r1") ||
              (receiver_header_cased != nullptr && *receiver_header_cased == "r1"))
      << r.Summary();

  const ReceivedRequest got = receiver.Requests().front();
  EXPECT_EQ(got.target, "/test-hook");
  EXPECT_EQ(json::parse(got.body), json::value(SamplePayload(admin, "BookAppointment")));
  EXPECT_FALSE(got.Header("webhook-id").empty());
  ExpectCommonHeaders(got, got.Header("webhook-id"), "BookAppointment");
  const std::string secret(config.at("secret").as_string());
  EXPECT_TRUE(VerifyRequest(secret, got, got.body).ok())
      << VerifyRequest(secret, got, got.body).message;
  // A test send is not a delivery: nothing is queued or recorded for the configuration.
  EXPECT_TRUE(DeliveriesOf(admin, IdOf(config)).empty());

  receiver.SetHandler([](const ReceivedRequest&) { return Answer(500, "broken"); });
  const HttpResponse failed = admin.Request("POST", ConfigPath(config) + "/test");
  ASSERT_TRUE(IsJson(failed, 200));
  EXPECT_EQ(failed.json.at("success"), json::value(false)) << failed.Summary();
  EXPECT_EQ(failed.json.at("statusCode"), json::value(500));
  EXPECT_EQ(failed.json.at("responseBody"), json::value("broken"));
  EXPECT_EQ(receiver.Count(), 2u);
}

}  // namespace
}  // namespace webhookd::itest
