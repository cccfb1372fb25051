#include "delivery/request_builder.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <functional>
#include <vector>

#include "crypto/secret.hpp"

namespace webhookd::delivery {
namespace {

namespace json = boost::json;

constexpr UnixMillis kNow = 1'700'000'123'456;
constexpr std::string_view kPayload = R"({"patientId":"p-1","value":42})";

WebhookConfig Config() {
  WebhookConfig config;
  config.id = 7;
  config.url = "https://receiver.example/hooks";
  config.secret = crypto::GenerateSecret();
  return config;
}

MessageToSend Message(std::string_view payload = kPayload) {
  return {"evt_01HXYZ", "InferenceToObservations", payload, kNow};
}

HttpRequest Build(const WebhookConfig& config, const MessageToSend& message = Message()) {
  Result<HttpRequest> request = BuildDeliveryRequest(config, message, RequestSettings{});
  EXPECT_TRUE(request.ok()) << request.error().message;
  return request.ok() ? *request : HttpRequest{};
}

std::string Sign(std::string_view secret, std::string_view id, std::string_view timestamp,
                 std::string_view body) {
  Result<std::string> key = crypto::DecodeSecret(secret);
  EXPECT_TRUE(key.ok());
  return crypto::SignV1(key.ok() ? *key : "", id, timestamp, body);
}

TEST(RequestBuilderTest, ExactHeadersInOrder) {
  WebhookConfig config = Config();
  config.attributes_json = R"({"apiKey":"ak_live_123456789","organizationCode":"ORG-9"})";
  HttpRequest request = Build(config);

  EXPECT_EQ(request.url, "https://receiver.example/hooks");
  EXPECT_EQ(request.body, kPayload);  // sendOrganizationCode is false
  const std::string timestamp = "1700000123";
  HttpHeaders expected = {
      {"content-type", "application/json"},
      {"user-agent", DefaultUserAgent()},
      {"webhook-id", "evt_01HXYZ"},
      {"webhook-timestamp", timestamp},
      {"webhook-signature", Sign(config.secret, "evt_01HXYZ", timestamp, kPayload)},
      {"x-webhook-event", "InferenceToObservations"},
      {"x-api-key", "ak_live_123456789"},
      {"x-organization-code", "ORG-9"},
  };
  EXPECT_EQ(request.headers, expected);
  EXPECT_TRUE(DefaultUserAgent().starts_with("webhookd/"));
  EXPECT_GT(DefaultUserAgent().size(), std::string_view("webhookd/").size());
}

TEST(RequestBuilderTest, OmitsAbsentAttributeHeadersAndUsesSettings) {
  WebhookConfig config = Config();
  RequestSettings settings{"webhookd/test", 1'234, 5'678};
  Result<HttpRequest> request = BuildDeliveryRequest(config, Message(), settings);
  ASSERT_TRUE(request.ok());
  EXPECT_FALSE(FindHeader(request->headers, "x-api-key").has_value());
  EXPECT_FALSE(FindHeader(request->headers, "x-organization-code").has_value());
  EXPECT_EQ(FindHeader(request->headers, "user-agent"), "webhookd/test");
  EXPECT_EQ(request->connect_timeout_ms, 1'234);
  EXPECT_EQ(request->timeout_ms, 5'678);
}

// The published Standard Webhooks test vector: a receiver's library must accept our header.
TEST(RequestBuilderTest, SignatureMatchesStandardWebhooksVector) {
  WebhookConfig config = Config();
  config.secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  HttpRequest request = Build(
      config, {"msg_p5jXN8AQM9LWM0D4loKWxJek", "X", R"({"test": 2432232314})", 1'614'265'330'000});
  EXPECT_EQ(FindHeader(request.headers, "webhook-timestamp"), "1614265330");
  EXPECT_EQ(FindHeader(request.headers, "webhook-signature"),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

TEST(RequestBuilderTest, BothSignaturesDuringRotationOnlyOneAfter) {
  WebhookConfig config = Config();
  config.previous_secret = crypto::GenerateSecret();
  config.previous_secret_expires_at = kNow + 1;
  HttpRequest rotating = Build(config);
  const std::string timestamp = "1700000123";
  EXPECT_EQ(FindHeader(rotating.headers, "webhook-signature"),
            Sign(config.secret, "evt_01HXYZ", timestamp, kPayload) + " " +
                Sign(config.previous_secret, "evt_01HXYZ", timestamp, kPayload));

  config.previous_secret_expires_at = kNow;  // expired exactly now
  HttpRequest rotated = Build(config);
  EXPECT_EQ(FindHeader(rotated.headers, "webhook-signature"),
            Sign(config.secret, "evt_01HXYZ", timestamp, kPayload));
}

TEST(RequestBuilderTest, InvalidSecretIsAnError) {
  WebhookConfig config = Config();
  config.secret = "not-a-secret";
  Result<HttpRequest> request = BuildDeliveryRequest(config, Message(), RequestSettings{});
  ASSERT_FALSE(request.ok());
  EXPECT_EQ(request.error().kind, ErrorKind::kInvalid);
  EXPECT_TRUE(request.error().message.starts_with("the configuration's secret: "))
      << request.error().message;
  EXPECT_EQ(request.error().message.find("not-a-secret"), std::string::npos);
}

TEST(RequestBuilderTest, InjectsOrganizationCodeIntoTheSignedBody) {
  WebhookConfig config = Config();
  config.send_organization_code = true;
  config.attributes_json = R"({"organizationCode":"ORG-9"})";
  HttpRequest request = Build(config);

  json::value body = json::parse(request.body);
  EXPECT_EQ(body, json::parse(R"({"patientId":"p-1","value":42,"organizationCode":"ORG-9"})"));
  EXPECT_EQ(FindHeader(request.headers, "webhook-signature"),
            Sign(config.secret, "evt_01HXYZ", "1700000123", request.body));
}

TEST(RequestBuilderTest, NoOrganizationCodeWithoutTheAttribute) {
  WebhookConfig config = Config();
  config.send_organization_code = true;
  EXPECT_EQ(Build(config).body, kPayload);
}

TEST(RequestBuilderTest, ConfiguredHeadersAddAndReplaceButNeverTouchSignedOnes) {
  WebhookConfig config = Config();
  config.attributes_json = R"({"apiKey":"ak_live_123456789"})";
  config.headers_json =
      R"({"X-Tenant":"north","User-Agent":"custom/1","Webhook-Signature":"v1,forged",)"
      R"("Content-Type":"text/plain","x-api-key":"override-key-123"})";
  HttpRequest request = Build(config);
  EXPECT_EQ(FindHeader(request.headers, "user-agent"), "custom/1");
  EXPECT_EQ(FindHeader(request.headers, "x-api-key"), "override-key-123");
  EXPECT_EQ(FindHeader(request.headers, "content-type"), "application/json");
  EXPECT_EQ(FindHeader(request.headers, "webhook-signature"),
            Sign(config.secret, "evt_01HXYZ", "1700000123", kPayload));
  EXPECT_EQ(request.headers.back(), (std::pair<std::string, std::string>{"X-Tenant", "north"}));
  EXPECT_EQ(request.headers.size(), 8u);
}

void ExpectSameRequest(const HttpRequest& actual, const HttpRequest& expected) {
  EXPECT_EQ(actual.url, expected.url);
  EXPECT_EQ(actual.headers, expected.headers);
  EXPECT_EQ(actual.body, expected.body);
  EXPECT_EQ(actual.connect_timeout_ms, expected.connect_timeout_ms);
  EXPECT_EQ(actual.timeout_ms, expected.timeout_ms);
}

// The dispatcher prepares a configuration once and sends many messages with it: each request
// must be the one built from scratch for that message, also when the previous secret expires
// between two sends.
TEST(PreparedConfigTest, ReusedFormGivesTheRequestsBuiltFromScratch) {
  WebhookConfig config = Config();
  config.previous_secret = crypto::GenerateSecret();
  config.previous_secret_expires_at = kNow + 2'000;
  config.send_organization_code = true;
  config.attributes_json = R"({"apiKey":"ak_live_123456789","organizationCode":"ORG-9"})";
  config.headers_json = R"({"X-Tenant":"north","User-Agent":"custom/1"})";
  const RequestSettings settings{"webhookd/test", 1'234, 5'678};
  const PreparedConfig prepared(config, settings);

  const std::vector<MessageToSend> messages = {
      {"evt_1", "BookAppointment", kPayload, kNow},
      {"evt_2", "Notification", R"({"other":true})", kNow + 1'999},
      {"evt_3", "BookAppointment", "[1,2]", kNow + 2'000},  // previous secret expired
      {"evt_4", "OpenTele", kPayload, kNow + 90'000},
  };
  for (const MessageToSend& message : messages) {
    SCOPED_TRACE(std::string(message.event_id));
    Result<HttpRequest> reused = BuildDeliveryRequest(prepared, message);
    Result<HttpRequest> fresh = BuildDeliveryRequest(config, message, settings);
    ASSERT_TRUE(reused.ok() && fresh.ok());
    ExpectSameRequest(*reused, *fresh);
    EXPECT_EQ(FindHeader(reused->headers, "x-webhook-event"), message.event_name);
  }
}

TEST(PreparedConfigTest, ConfiguredEventHeaderIsKeptForEveryMessage) {
  WebhookConfig config = Config();
  config.headers_json = R"({"X-Webhook-Event":""})";
  const PreparedConfig prepared(config, RequestSettings{});
  for (std::string_view name : {"BookAppointment", "OpenTele"}) {
    Result<HttpRequest> request = BuildDeliveryRequest(prepared, {"evt_1", name, kPayload, kNow});
    ASSERT_TRUE(request.ok());
    EXPECT_EQ(FindHeader(request->headers, "x-webhook-event"), "");
  }
}

TEST(PreparedConfigTest, UnusableSecretsAreReportedPerSendAsUnprepared) {
  WebhookConfig config = Config();
  config.previous_secret = "whsec_!!!";
  config.previous_secret_expires_at = kNow + 1;
  const PreparedConfig prepared(config, RequestSettings{});
  Result<HttpRequest> rotating = BuildDeliveryRequest(prepared, Message());
  ASSERT_FALSE(rotating.ok());
  EXPECT_EQ(rotating.error().message,
            "the configuration's previous secret: secret after \"whsec_\" is not valid base64");
  // Once the previous secret has expired it no longer matters.
  EXPECT_TRUE(BuildDeliveryRequest(prepared, {"evt_1", "X", kPayload, kNow + 1}).ok());
}

TEST(PreparedConfigTest, IsForNoticesEveryChangeThatShapesTheRequest) {
  const WebhookConfig config = Config();
  const RequestSettings settings;
  const PreparedConfig prepared(config, settings);
  EXPECT_TRUE(prepared.IsFor(config, settings));

  std::vector<std::function<void(WebhookConfig&)>> config_changes = {
      [](WebhookConfig& c) { c.url += "/v2"; },
      [](WebhookConfig& c) { c.secret = crypto::GenerateSecret(); },
      [](WebhookConfig& c) { c.previous_secret = crypto::GenerateSecret(); },
      [](WebhookConfig& c) { c.previous_secret_expires_at = kNow; },
      [](WebhookConfig& c) { c.attributes_json = R"({"apiKey":"ak_live_123456789"})"; },
      [](WebhookConfig& c) { c.headers_json = R"({"X-Tenant":"north"})"; },
      [](WebhookConfig& c) { c.send_organization_code = true; },
  };
  for (std::size_t i = 0; i < config_changes.size(); ++i) {
    WebhookConfig changed = config;
    config_changes[i](changed);
    EXPECT_FALSE(prepared.IsFor(changed, settings)) << "change #" << i;
  }
  EXPECT_FALSE(prepared.IsFor(config, {"other/1", 5'000, 15'000}));
  EXPECT_FALSE(prepared.IsFor(config, {DefaultUserAgent(), 1, 15'000}));
  EXPECT_FALSE(prepared.IsFor(config, {DefaultUserAgent(), 5'000, 1}));
  WebhookConfig unrelated = config;
  unrelated.name = "renamed";
  unrelated.rate_limit = 3;
  EXPECT_TRUE(prepared.IsFor(unrelated, settings));
}

TEST(MaskSecretsTest, MasksKeysAndSignatures) {
  HttpHeaders headers = {
      {"content-type", "application/json"},
      {"webhook-id", "evt_01HXYZ"},
      {"webhook-signature",
       "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= "
       "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4="},
      {"x-api-key", "ak_live_123456789"},
      {"Authorization", "Bearer abcdefghijklmnop"},
      {"X-Session-Token", "short"},
      {"x-tenant", "north"},
  };
  HttpHeaders expected = {
      {"content-type", "application/json"},
      {"webhook-id", "evt_01HXYZ"},
      {"webhook-signature", "v1,g0hM**** v1,K5oZ****"},
      {"x-api-key", "ak_l****"},
      {"Authorization", "Bear****"},
      {"X-Session-Token", "****"},
      {"x-tenant", "north"},
  };
  EXPECT_EQ(MaskSecrets(headers), expected);
}

TEST(HeadersToJsonTest, ObjectWithRepeatedNamesJoined) {
  HttpHeaders headers = {{"set-cookie", "a=1"}, {"x-one", "1"}, {"set-cookie", "b=2"}};
  EXPECT_EQ(json::parse(HeadersToJson(headers)),
            json::parse(R"({"set-cookie":"a=1, b=2","x-one":"1"})"));
  EXPECT_EQ(HeadersToJson({}), "{}");
}

// Distinct names are written out directly; the text must be what serializing the object gives,
// escapes included, in the headers' order.
TEST(HeadersToJsonTest, DistinctNamesGiveTheObjectsTextExactly) {
  const HttpHeaders headers = {
      {"content-type", "application/json"},
      {"x-quote", "say \"hi\"\\ now"},
      {"x-controls", std::string("tab\tnew\nline\rbell\x07"
                                 "back\bfeed\fvtab\x0b"
                                 "\x1f"
                                 "del\x7f"
                                 " nul") +
                         std::string(1, '\0')},
      {"X-Case", "\xc3\xa9t\xc3\xa9 \xf0\x9f\x98\x80"},
      {"x-case", "differs only in case"},
      {"", "empty name"},
  };
  json::object object;
  for (const auto& [name, value] : headers) object.emplace(name, value);
  EXPECT_EQ(HeadersToJson(headers), json::serialize(object));

  HttpHeaders many;
  for (int i = 0; i < 40; ++i) many.emplace_back("x-h" + std::to_string(i), std::to_string(i));
  json::object many_object;
  for (const auto& [name, value] : many) many_object.emplace(name, value);
  EXPECT_EQ(HeadersToJson(many), json::serialize(many_object));
}

// Found by fuzz/delivery_outcome_fuzz: a receiver's header bytes that are not UTF-8 (Latin-1
// text, binary) made the recorded headers invalid JSON, which PostgreSQL refuses to store.
TEST(HeadersToJsonTest, BytesThatAreNotUtf8BecomeReplacementCharacters) {
  HttpHeaders headers = {{"x-caf\xe9", "caf\xe9"}, {"locati\xff\xffon", "https://example.org/"}};
  boost::system::error_code ec;
  const json::value parsed = json::parse(HeadersToJson(headers), ec);
  ASSERT_FALSE(ec) << HeadersToJson(headers);
  EXPECT_EQ(parsed, json::parse(R"({"x-caf\ufffd": "caf\ufffd",
                                    "locati\ufffd\ufffdon": "https://example.org/"})"));
}

// The dispatcher records RecordedHeadersForm::Render(sent) where it recorded
// HeadersToJson(MaskSecrets(sent)): the same text, for every kind of configuration.
TEST(RecordedHeadersFormTest, RendersWhatMaskingAndWritingEveryHeaderGives) {
  std::vector<WebhookConfig> configs;
  configs.push_back(Config());
  WebhookConfig with_everything = Config();
  with_everything.attributes_json =
      R"({"apiKey":"ak_live_123456789","organizationCode":"ORG-\u00e9\"9"})";
  with_everything.headers_json =
      R"({"Authorization":"Bearer abcdefghijklmnop","x-tenant":"n\u00f6rth","X-Short-Token":"t"})";
  with_everything.previous_secret = crypto::GenerateSecret();
  with_everything.previous_secret_expires_at = kNow + 60'000;
  configs.push_back(with_everything);
  WebhookConfig event_header_configured = Config();
  event_header_configured.headers_json = R"({"X-Webhook-Event":"Fixed","x-extra":"1"})";
  configs.push_back(event_header_configured);
  WebhookConfig no_secret = Config();
  no_secret.secret = "not a secret";  // the request fails; the form is still made
  configs.push_back(no_secret);

  for (const WebhookConfig& config : configs) {
    SCOPED_TRACE(config.headers_json + " " + config.attributes_json);
    const PreparedConfig prepared(config, RequestSettings{});
    const RecordedHeadersForm form(prepared);
    for (const MessageToSend& message :
         {Message(), MessageToSend{"evt_\"quoted\"", "Caf\xe9", kPayload, kNow + 1'000}}) {
      Result<HttpRequest> request = BuildDeliveryRequest(prepared, message);
      if (config.secret == no_secret.secret) {
        EXPECT_FALSE(request.ok());
        continue;
      }
      ASSERT_TRUE(request.ok()) << request.error().message;
      EXPECT_EQ(form.Render(request->headers), HeadersToJson(MaskSecrets(request->headers)));
    }
  }
  const PreparedConfig prepared(with_everything, RequestSettings{});
  Result<HttpRequest> request = BuildDeliveryRequest(prepared, Message());
  ASSERT_TRUE(request.ok());
  const json::value recorded = json::parse(RecordedHeadersForm(prepared).Render(request->headers));
  EXPECT_EQ(recorded.at("Authorization"), "Bear****");
  EXPECT_EQ(recorded.at("x-api-key"), "ak_l****");
  EXPECT_EQ(recorded.at("X-Short-Token"), "****");
  EXPECT_EQ(recorded.at("webhook-id"), "evt_01HXYZ");
  EXPECT_EQ(std::count(request->headers[kWebhookSignatureHeader].second.begin(),
                       request->headers[kWebhookSignatureHeader].second.end(), ' '),
            1);  // two signatures while the previous secret signs
  EXPECT_EQ(json::value_to<std::string>(recorded.at("webhook-signature")).size(),
            std::string("v1,xxxx**** v1,xxxx****").size());
}

// Headers other than what the configuration was prepared for are written whole.
TEST(RecordedHeadersFormTest, OtherHeadersAreWrittenWhole) {
  const PreparedConfig prepared(Config(), RequestSettings{});
  const RecordedHeadersForm form(prepared);
  const HttpHeaders other = {{"x-api-key", "ak_live_123456789"}, {"x-one", "1"}};
  EXPECT_EQ(form.Render(other), HeadersToJson(MaskSecrets(other)));
}

}  // namespace
}  // namespace webhookd::delivery
