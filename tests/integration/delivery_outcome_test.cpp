// What the receivers' answers become (issue 3, sections 3 and 4): inference results captured
// from the response body, invalid (non-JSON) results reported, and the SSRF guard refusing a
// loopback target at connect time when the server runs without --allow-target.
#include "delivery_support.hpp"

namespace webhookd::itest {
namespace {

class DeliveryOutcomeTest : public DeliveryTest {};

const json::value* ResultFor(const json::value& results, const std::string& delivery_id) {
  for (const json::value& r : results.at("results").as_array()) {
    if (r.at("deliveryId") == json::value(delivery_id)) return &r;
  }
  return nullptr;
}

TEST_F(DeliveryOutcomeTest, InferenceResultIsTheReceiversJsonAndNonJsonIsReportedInvalid) {
  const std::string observations =
      R"({"observations":[{"code":"8867-4","display":"Heart rate","value":72,"unit":"/min"}]})";
  HttpReceiver good([&](const ReceivedRequest&) {
    return Answer(200, observations, {{"Content-Type", "application/json"}});
  });
  HttpReceiver bad([](const ReceivedRequest&) { return Answer(200, "not json"); });
  HttpClient admin = Admin();
  const json::object good_config =
      CreateConfig(admin, HookBody(1, "InferenceToObservations", good.Url("/infer"), "good"));
  const json::object bad_config =
      CreateConfig(admin, HookBody(1, "InferenceToObservations", bad.Url("/infer"), "bad"));
  ASSERT_FALSE(HasFailure());

  const HttpResponse accepted = PostEvent(admin, "InferenceToObservations", 1,
                                          SamplePayload(admin, "InferenceToObservations"));
  ASSERT_TRUE(IsJson(accepted, 202));
  const std::string event_id(accepted.json.at("id").as_string());
  const auto deliveries = AcceptedDeliveries(accepted);
  ASSERT_EQ(deliveries.size(), 2u);
  const std::string good_delivery = deliveries.at(IdOf(good_config));
  const std::string bad_delivery = deliveries.at(IdOf(bad_config));
  // A 2xx is a delivered request even when the inference result is unusable.
  EXPECT_EQ(WaitForStatus(admin, good_delivery, "succeeded", 10s).at("status"), "succeeded");
  EXPECT_EQ(WaitForStatus(admin, bad_delivery, "succeeded", 10s).at("status"), "succeeded");

  const HttpResponse r = admin.Get("/events/" + event_id + "/result");
  ASSERT_TRUE(IsJson(r, 200));
  EXPECT_EQ(r.json.at("eventId"), json::value(event_id));
  EXPECT_EQ(r.json.at("isInference"), json::value(true));
  ASSERT_EQ(r.json.at("results").as_array().size(), 2u) << r.Summary();

  const json::value* good_result = ResultFor(r.json, good_delivery);
  ASSERT_NE(good_result, nullptr) << r.Summary();
  EXPECT_EQ(good_result->at("status"), json::value("succeeded"));
  EXPECT_EQ(good_result->at("statusCode"), json::value(200));
  EXPECT_EQ(good_result->at("result"), json::parse(observations));
  EXPECT_EQ(good_result->as_object().if_contains("resultError"), nullptr) << r.Summary();

  const json::value* bad_result = ResultFor(r.json, bad_delivery);
  ASSERT_NE(bad_result, nullptr) << r.Summary();
  EXPECT_EQ(bad_result->at("result"), json::value(nullptr));
  const json::value* result_error = bad_result->as_object().if_contains("resultError");
  ASSERT_NE(result_error, nullptr) << r.Summary();
  // Worded as the attempt records it.
  EXPECT_EQ(*result_error, json::value("invalid inference result: the response body is not JSON"));

  const json::array bad_attempts = Attempts(admin, bad_delivery);
  ASSERT_EQ(bad_attempts.size(), 1u);
  EXPECT_EQ(bad_attempts[0].at("responseBody"), json::value("not json"));
  const json::value& error = bad_attempts[0].at("error");
  ASSERT_TRUE(error.is_string()) << json::serialize(bad_attempts[0]);
  EXPECT_NE(error.as_string().find("invalid inference result"), std::string::npos) << error;
  const json::array good_attempts = Attempts(admin, good_delivery);
  ASSERT_EQ(good_attempts.size(), 1u);
  EXPECT_EQ(good_attempts[0].at("error"), json::value(nullptr));
}

// A test send judges an inference answer as a delivery does: the same rule, the same words.
TEST_F(DeliveryOutcomeTest, TestSendReportsAnInvalidInferenceResultAsTheDeliveryRecordsIt) {
  const std::string oversized =
      R"({"observations":")" + std::string(70 * 1024, 'o') + R"("})";  // JSON, over 64 KiB
  struct Case {
    std::string body;
    std::string error;
  };
  for (const Case& c :
       {Case{oversized, "invalid inference result: the response body exceeds 64 KiB"},
        Case{"not json", "invalid inference result: the response body is not JSON"}}) {
    HttpReceiver receiver([&](const ReceivedRequest&) { return Answer(200, c.body); });
    HttpClient admin = Admin();
    const json::object config =
        CreateConfig(admin, HookBody(1, "InferenceToObservations", receiver.Url("/infer")));
    ASSERT_FALSE(HasFailure());

    const HttpResponse test = admin.Request("POST", ConfigPath(config) + "/test");
    ASSERT_TRUE(IsJson(test, 200));
    EXPECT_EQ(test.json.at("success"), json::value(false)) << c.error;
    EXPECT_EQ(test.json.at("statusCode"), json::value(200));
    EXPECT_EQ(test.json.at("error"), json::value(c.error));

    const HttpResponse accepted = PostEvent(admin, "InferenceToObservations", 1,
                                            SamplePayload(admin, "InferenceToObservations"));
    ASSERT_TRUE(IsJson(accepted, 202));
    const std::string delivery_id = AcceptedDeliveries(accepted).at(IdOf(config));
    const json::array attempts = WaitForAttempts(admin, delivery_id, 1, 10s);
    ASSERT_EQ(attempts.size(), 1u);
    EXPECT_EQ(attempts[0].at("error"), test.json.at("error"));
    // The next case posts the same event type: it must not reach this configuration.
    EXPECT_EQ(admin.Delete(ConfigPath(config)).status, 204);
  }
}

TEST_F(DeliveryOutcomeTest, TestSendOfAValidInferenceResultSucceeds) {
  HttpReceiver receiver(
      [](const ReceivedRequest&) { return Answer(200, R"({"observations":[]})"); });
  HttpClient admin = Admin();
  const json::object config =
      CreateConfig(admin, HookBody(1, "InferenceToObservations", receiver.Url("/infer")));
  ASSERT_FALSE(HasFailure());
  const HttpResponse test = admin.Request("POST", ConfigPath(config) + "/test");
  ASSERT_TRUE(IsJson(test, 200));
  EXPECT_EQ(test.json.at("success"), json::value(true)) << test.Summary();
  EXPECT_EQ(test.json.at("error"), json::value(nullptr));
  EXPECT_EQ(test.json.at("responseBody"), json::value(R"({"observations":[]})"));
}

TEST_F(DeliveryOutcomeTest, ResultOfAPendingInferenceIsItsStatus) {
  HttpReceiver receiver([](const ReceivedRequest&) { return Answer(503, "later"); });
  HttpClient admin = Admin();
  json::object body = HookBody(1, "InferenceToKeyFindings", receiver.Url("/infer"));
  body["retrySchedule"] = json::array{0, 600};  // stays pending for the whole test
  const json::object config = CreateConfig(admin, body);
  ASSERT_FALSE(HasFailure());

  const HttpResponse accepted =
      PostEvent(admin, "InferenceToKeyFindings", 1, SamplePayload(admin, "InferenceToKeyFindings"));
  ASSERT_TRUE(IsJson(accepted, 202));
  const std::string delivery_id = AcceptedDeliveries(accepted).at(IdOf(config));
  ASSERT_EQ(WaitForAttempts(admin, delivery_id, 1, 10s).size(), 1u);
  EXPECT_EQ(WaitForStatus(admin, delivery_id, "pending", 10s).at("status"), "pending");

  const HttpResponse r =
      admin.Get("/events/" + std::string(accepted.json.at("id").as_string()) + "/result");
  ASSERT_TRUE(IsJson(r, 200));
  const json::value* result = ResultFor(r.json, delivery_id);
  ASSERT_NE(result, nullptr) << r.Summary();
  EXPECT_EQ(result->at("status"), json::value("pending"));
  EXPECT_EQ(result->at("result"), json::value(nullptr));
}

// A JSON document of exactly `size` bytes: {"observations":"xxx..."}.
std::string JsonOfSize(std::size_t size) {
  const std::string open = R"({"observations":")";
  const std::string close = R"("})";
  return open + std::string(size - open.size() - close.size(), 'x') + close;
}

// The receiver's answer is kept up to 64 KiB (docs/delivery.md): exactly 64 KiB whole; one byte
// more cut to the first 65536 bytes, which for an inference event is an invalid result.
TEST_F(DeliveryOutcomeTest, ResponseBodiesAreCutAt64KiB) {
  constexpr std::size_t kCap = 64 * 1024;
  const std::string fits = JsonOfSize(kCap);
  const std::string too_long = JsonOfSize(kCap + 1);
  HttpReceiver receiver([&](const ReceivedRequest& request) {
    return Answer(200, request.target == "/fits" ? fits : too_long);
  });
  HttpClient admin = Admin();
  const json::object fits_config =
      CreateConfig(admin, HookBody(1, "InferenceToObservations", receiver.Url("/fits"), "fits"));
  const json::object long_config =
      CreateConfig(admin, HookBody(1, "InferenceToObservations", receiver.Url("/long"), "long"));
  ASSERT_FALSE(HasFailure());

  const HttpResponse accepted = PostEvent(admin, "InferenceToObservations", 1,
                                          SamplePayload(admin, "InferenceToObservations"));
  ASSERT_TRUE(IsJson(accepted, 202));
  const auto deliveries = AcceptedDeliveries(accepted);
  ASSERT_EQ(deliveries.size(), 2u);
  const std::string fits_delivery = deliveries.at(IdOf(fits_config));
  const std::string long_delivery = deliveries.at(IdOf(long_config));
  EXPECT_EQ(WaitForStatus(admin, fits_delivery, "succeeded", 10s).at("status"), "succeeded");
  EXPECT_EQ(WaitForStatus(admin, long_delivery, "succeeded", 10s).at("status"), "succeeded");

  const json::array fits_attempts = Attempts(admin, fits_delivery);
  ASSERT_EQ(fits_attempts.size(), 1u);
  EXPECT_EQ(fits_attempts[0].at("responseBody"), json::value(fits));
  EXPECT_EQ(fits_attempts[0].at("error"), json::value(nullptr));
  const json::array long_attempts = Attempts(admin, long_delivery);
  ASSERT_EQ(long_attempts.size(), 1u);
  EXPECT_EQ(long_attempts[0].at("responseBody"), json::value(too_long.substr(0, kCap)));
  EXPECT_EQ(long_attempts[0].at("error"),
            json::value("invalid inference result: the response body exceeds 64 KiB"));

  const HttpResponse r =
      admin.Get("/events/" + std::string(accepted.json.at("id").as_string()) + "/result");
  ASSERT_TRUE(IsJson(r, 200));
  const json::value* fits_result = ResultFor(r.json, fits_delivery);
  const json::value* long_result = ResultFor(r.json, long_delivery);
  ASSERT_TRUE(fits_result != nullptr && long_result != nullptr) << r.Summary();
  EXPECT_EQ(fits_result->at("result"), json::parse(fits));
  EXPECT_EQ(long_result->at("result"), json::value(nullptr));
  EXPECT_EQ(long_result->at("resultError"),
            json::value("invalid inference result: the response body exceeds 64 KiB"))
      << r.Summary();

  // A test send reports the same first 64 KiB.
  const HttpResponse test_send = admin.Request("POST", ConfigPath(long_config) + "/test");
  ASSERT_TRUE(IsJson(test_send, 200));
  EXPECT_EQ(test_send.json.at("responseBody"), json::value(too_long.substr(0, kCap)));
  EXPECT_EQ(receiver.Count(), 3u);
  EXPECT_TRUE(server_->Running());
}

// The cap counts bytes and may cut a UTF-8 character: the attempt log and a test send stay JSON,
// the cut character shown as U+FFFD (docs/delivery.md).
TEST_F(DeliveryOutcomeTest, ACharacterCutByTheCapIsShownAsAReplacementCharacter) {
  constexpr std::size_t kCap = 64 * 1024;
  const std::string e_acute = "\xC3\xA9";
  std::string body = "x";  // one byte, so that the cap falls inside a two-byte character
  while (body.size() <= kCap) body += e_acute;
  HttpReceiver receiver([&](const ReceivedRequest&) { return Answer(200, body); });
  HttpClient admin = Admin();
  const auto [config, delivery_id] =
      OneDeliveryTo(admin, HookBody(1, "BookAppointment", receiver.Url("/utf8")));
  ASSERT_FALSE(HasFailure());
  EXPECT_EQ(WaitForStatus(admin, delivery_id, "succeeded", 10s).at("status"), "succeeded");
  const std::string shown = body.substr(0, kCap - 1) + "\xEF\xBF\xBD";

  const json::array attempts = Attempts(admin, delivery_id);
  ASSERT_EQ(attempts.size(), 1u);
  EXPECT_EQ(attempts[0].at("responseBody"), json::value(shown));
  const HttpResponse test_send = admin.Request("POST", ConfigPath(config) + "/test");
  ASSERT_TRUE(IsJson(test_send, 200));
  EXPECT_EQ(test_send.json.at("responseBody"), json::value(shown));
}

// The guard at connect time, for targets that were allowed when the configuration was set (a
// name that resolves to loopback later, or a server restarted without --allow-target).
class DeliverySsrfTest : public DeliveryTest {
 protected:
  std::vector<std::string> ServeArgs() const override {
    if (allow_loopback_) return LoopbackDeliveryArgs({"--retry-schedule", "0s,1s"});
    return {"--allow-insecure-urls", "--retry-schedule", "0s,1s"};
  }

  bool allow_loopback_ = true;
};

TEST_F(DeliverySsrfTest, RefusesLoopbackTargetsAndSaysWhy) {
  HttpReceiver receiver;
  HttpClient creator = Admin();
  ASSERT_FALSE(
      CreateConfig(creator, HookBody(1, "BookAppointment", receiver.Url("/internal"))).empty());
  allow_loopback_ = false;
  ASSERT_NO_FATAL_FAILURE(RestartServer());
  HttpClient admin = Admin();
  const HttpResponse accepted =
      PostEvent(admin, "BookAppointment", 1, SamplePayload(admin, "BookAppointment"));
  ASSERT_TRUE(IsJson(accepted, 202));
  const auto deliveries = AcceptedDeliveries(accepted);
  ASSERT_EQ(deliveries.size(), 1u) << accepted.Summary();
  const std::string delivery_id = deliveries.begin()->second;
  ASSERT_FALSE(HasFailure());
  const json::array attempts = WaitForAttempts(admin, delivery_id, 1, 10s);
  ASSERT_GE(attempts.size(), 1u);
  EXPECT_EQ(attempts[0].at("statusCode"), json::value(nullptr));
  const json::value& error = attempts[0].at("error");
  ASSERT_TRUE(error.is_string()) << json::serialize(attempts[0]);
  EXPECT_NE(error.as_string().find("127.0.0.1"), std::string::npos) << error;
  EXPECT_NE(error.as_string().find("loopback"), std::string::npos) << error;

  const json::object delivery = GetDelivery(admin, delivery_id);
  EXPECT_NE(delivery.at("status"), json::value("succeeded"));
  ASSERT_TRUE(delivery.at("lastError").is_string()) << json::serialize(delivery);
  EXPECT_NE(delivery.at("lastError").as_string().find("loopback"), std::string::npos);
  EXPECT_EQ(receiver.Count(), 0u) << "the guard let a loopback connection through";
}

// Found by fuzz/delivery_outcome_fuzz: a header byte that is not UTF-8 (here Latin-1 "é") made
// the recorded headers invalid JSON: PostgreSQL refused to store the attempt, and SQLite's was
// served as a string that is not UTF-8.
TEST_F(DeliveryOutcomeTest, ResponseHeadersThatAreNotUtf8AreRecordedWithReplacementCharacters) {
  HttpReceiver receiver([](const ReceivedRequest&) {
    return Answer(200, "ok", {{"X-Legacy", "caf\xe9"}});
  });
  HttpClient admin = Admin();
  const auto [config, delivery_id] =
      OneDeliveryTo(admin, HookBody(1, "BookAppointment", receiver.Url("/legacy")));
  ASSERT_FALSE(HasFailure());
  EXPECT_EQ(WaitForStatus(admin, delivery_id, "succeeded", 10s).at("status"), "succeeded");
  const json::array attempts = WaitForAttempts(admin, delivery_id, 1, 10s);
  ASSERT_EQ(attempts.size(), 1u);
  const json::value* legacy = At(attempts[0], "/responseHeaders/x-legacy");
  ASSERT_NE(legacy, nullptr) << json::serialize(attempts[0]);
  EXPECT_EQ(*legacy, json::value("caf\uFFFD")) << json::serialize(attempts[0]);
}

}  // namespace
}  // namespace webhookd::itest
