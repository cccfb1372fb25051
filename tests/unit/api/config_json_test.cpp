#include "api/config_json.hpp"

#include <gtest/gtest.h>

namespace webhookd::api {
namespace {

Status Apply(std::string_view json, WriteMode mode, WebhookConfig& config, bool insecure = false) {
  return ApplyConfigJson(boost::json::parse(json).as_object(), mode, ConfigRules{insecure},
                         Catalog::Builtin(), config);
}

std::string FieldOf(std::string_view json, WriteMode mode = WriteMode::kCreate) {
  WebhookConfig config;
  const Status s = Apply(json, mode, config);
  EXPECT_FALSE(s.ok()) << json;
  return s.ok() ? "<ok>" : s.error().field;
}

constexpr const char* kValid =
    R"({"name":"n","url":"https://example.com/hook","eventName":"BookAppointment"})";

TEST(WebhookUrl, AcceptsHttpsAndRefusesTheRest) {
  EXPECT_TRUE(ValidateWebhookUrl("https://example.com/x?y=1", false).ok());
  EXPECT_FALSE(ValidateWebhookUrl("http://example.com/x", false).ok());
  EXPECT_TRUE(ValidateWebhookUrl("http://example.com/x", true).ok());
  EXPECT_FALSE(ValidateWebhookUrl("ftp://example.com/x", true).ok());
  EXPECT_FALSE(ValidateWebhookUrl("https://user:pw@example.com/", false).ok());
  EXPECT_FALSE(ValidateWebhookUrl("/relative", false).ok());
  EXPECT_FALSE(ValidateWebhookUrl("https:///nohost", false).ok());
  EXPECT_FALSE(ValidateWebhookUrl("https://example.com/" + std::string(2100, 'a'), false).ok());
  EXPECT_EQ(ValidateWebhookUrl("http://example.com/x", false).error().field, "/url");
}

TEST(WebhookUrl, PortIsFrom1To65535) {
  EXPECT_TRUE(ValidateWebhookUrl("https://example.com:1/x", false).ok());
  EXPECT_TRUE(ValidateWebhookUrl("https://example.com:65535/x", false).ok());
  for (const char* bad :
       {"https://example.com:0/x", "https://example.com:65536/x", "https://example.com:99999/x",
        "https://example.com:/x", "https://example.com:99999999999999999999/x"}) {
    const Status s = ValidateWebhookUrl(bad, false);
    ASSERT_FALSE(s.ok()) << bad;
    EXPECT_EQ(s.error().field, "/url");
    EXPECT_EQ(s.error().message, "url port must be a number from 1 to 65535") << bad;
  }
}

TEST(WebhookUrl, RefusesFragmentsAndEncodedHostsByName) {
  EXPECT_EQ(ValidateWebhookUrl("https://example.com/x#frag", false).error().message,
            "url cannot contain a fragment (#...): it is never sent to a receiver");
  EXPECT_EQ(ValidateWebhookUrl("https://exa%6dple.com/x", false).error().message,
            "url host cannot contain percent-encoded characters");
  EXPECT_EQ(ValidateWebhookUrl("https://:443/x", false).error().message, "url has no host");
  EXPECT_EQ(ValidateWebhookUrl("https://@example.com/x", false).error().message,
            "url cannot contain credentials (user:password@)");
}

TEST(ConfigJson, CreateFillsEveryField) {
  WebhookConfig config;
  ASSERT_TRUE(Apply(R"({"name":"Obs","url":"https://a.example/h","webhookEventId":2,
      "attributes":{"apiKey":"k","organizationCode":"ORG","extra":1},
      "headers":{"X-Tenant":"t"},"active":false,"sendOrganizationCode":true,"version":3,
      "timeoutMs":2500,"retrySchedule":[0,5,60]})",
                    WriteMode::kCreate, config)
                  .ok());
  EXPECT_EQ(config.name, "Obs");
  EXPECT_EQ(config.event_type_id, 2);
  EXPECT_EQ(boost::json::parse(config.attributes_json).at("organizationCode"), "ORG");
  EXPECT_EQ(boost::json::parse(config.headers_json).at("X-Tenant"), "t");
  EXPECT_FALSE(config.active);
  EXPECT_TRUE(config.send_organization_code);
  EXPECT_EQ(config.version, 3);
  EXPECT_EQ(config.timeout_ms, 2500);
  EXPECT_EQ(config.retry_schedule_json, "[0,5,60]");
}

TEST(ConfigJson, EventIdAliasAndNameMustAgree) {
  WebhookConfig config;
  ASSERT_TRUE(
      Apply(R"({"name":"n","url":"https://a.example","eventId":12})", WriteMode::kCreate, config)
          .ok());
  EXPECT_EQ(config.event_type_id, 12);
  EXPECT_EQ(FieldOf(R"({"name":"n","url":"https://a.example","webhookEventId":1,
      "eventName":"OpenTele"})"),
            "/eventName");
  EXPECT_EQ(FieldOf(R"({"name":"n","url":"https://a.example","webhookEventId":13})"),
            "/webhookEventId");
  EXPECT_EQ(FieldOf(R"({"name":"n","url":"https://a.example","eventName":"Nope"})"), "/eventName");
}

TEST(ConfigJson, EachMistakeNamesItsField) {
  EXPECT_EQ(FieldOf(R"({"url":"https://a.example","webhookEventId":1})"), "/name");
  EXPECT_EQ(FieldOf(R"({"name":"n","webhookEventId":1})"), "/url");
  EXPECT_EQ(FieldOf(R"({"name":"n","url":"https://a.example"})"), "/webhookEventId");
  EXPECT_EQ(FieldOf(R"({"name":5,"url":"https://a.example","webhookEventId":1})"), "/name");
  EXPECT_EQ(FieldOf(R"({"name":"n","url":"https://a.example","webhookEventId":1,"colour":1})"),
            "/colour");
  EXPECT_EQ(FieldOf(R"({"name":"n","url":"https://a.example","webhookEventId":1,
      "headers":{"Transfer-Encoding":"chunked"}})"),
            "/headers/Transfer-Encoding");
  EXPECT_EQ(FieldOf(R"({"name":"n","url":"https://a.example","webhookEventId":1,
      "headers":{"webhook-signature":"x"}})"),
            "/headers/webhook-signature");
  EXPECT_EQ(FieldOf(R"({"name":"n","url":"https://a.example","webhookEventId":1,
      "headers":{"a/b":"x"}})"),
            "/headers/a~1b");
  EXPECT_EQ(FieldOf(R"({"name":"n","url":"https://a.example","webhookEventId":1,
      "headers":{"X-A":1}})"),
            "/headers/X-A");
  EXPECT_EQ(FieldOf(R"({"name":"n","url":"https://a.example","webhookEventId":1,
      "secret":"whsec_short"})"),
            "/secret");
  EXPECT_EQ(FieldOf(R"({"name":"n","url":"https://a.example","webhookEventId":1,
      "attributes":{"apiKey":7}})"),
            "/attributes/apiKey");
  EXPECT_EQ(FieldOf(R"({"name":"n","url":"https://a.example","webhookEventId":1,
      "retrySchedule":[1,-2]})"),
            "/retrySchedule/1");
  EXPECT_EQ(FieldOf(R"({"name":"n","url":"https://a.example","webhookEventId":1,"timeoutMs":5})"),
            "/timeoutMs");
  EXPECT_EQ(FieldOf(std::string(R"({"name":")") + std::string(201, 'x') +
                    R"(","url":"https://a.example","webhookEventId":1})"),
            "/name");
}

TEST(ConfigJson, PatchChangesOnlyGivenFields) {
  WebhookConfig config;
  ASSERT_TRUE(Apply(kValid, WriteMode::kCreate, config).ok());
  ASSERT_TRUE(Apply(R"({"active":false})", WriteMode::kPatch, config).ok());
  EXPECT_FALSE(config.active);
  EXPECT_EQ(config.name, "n");
  EXPECT_EQ(config.url, "https://example.com/hook");
  EXPECT_EQ(config.event_type_id, 5);
}

TEST(ConfigJson, RepresentationCarriesBothEventIdAndName) {
  WebhookConfig config;
  ASSERT_TRUE(Apply(kValid, WriteMode::kCreate, config).ok());
  config.id = 9;
  const boost::json::object json = ConfigToJson(config, Catalog::Builtin());
  EXPECT_EQ(json.at("webhookEventId"), 5);
  EXPECT_EQ(json.at("eventName"), "BookAppointment");
  EXPECT_TRUE(json.at("disabledReason").is_null());
  EXPECT_TRUE(json.at("retrySchedule").is_null());
  EXPECT_EQ(json.at("url"), "https://example.com/hook");
}

}  // namespace
}  // namespace webhookd::api

namespace webhookd::api {
namespace {

std::string TargetVerdict(std::string_view url, const delivery::SsrfGuard& guard) {
  const Status s = CheckUrlTarget(url, guard);
  if (s.ok()) return "ok";
  EXPECT_EQ(s.error().field, "/url");
  return s.error().message;
}

TEST(CheckUrlTargetTest, RefusesAddressLiteralsAndLocalhostThatTheGuardRefuses) {
  const delivery::SsrfGuard guard;
  EXPECT_EQ(TargetVerdict("https://10.1.2.3/x", guard),
            "url would never be delivered: refused 10.1.2.3: private address (RFC 1918); allow "
            "it with --allow-target or WEBHOOKD_ALLOW_TARGETS");
  EXPECT_EQ(TargetVerdict("https://[fd00::1]/x", guard)
                .rfind("url would never be delivered: "
                       "refused fd00::1: ",
                       0),
            0u);
  EXPECT_EQ(TargetVerdict("https://LOCALHOST:8443/x", guard),
            "url would never be delivered: refused 127.0.0.1: loopback address; allow it with "
            "--allow-target or WEBHOOKD_ALLOW_TARGETS");
  EXPECT_EQ(TargetVerdict("https://93.184.215.14/x", guard), "ok");
  EXPECT_EQ(TargetVerdict("https://example.com/x", guard), "ok");  // names: at connect time
  EXPECT_EQ(TargetVerdict("https://notlocalhost/x", guard), "ok");
}

TEST(CheckUrlTargetTest, LocalhostIsAcceptedWhenEitherLoopbackAddressIsAllowed) {
  const Result<delivery::SsrfGuard> v6 = delivery::SsrfGuard::WithAllowList({"::1/128"});
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(TargetVerdict("http://localhost:9000/x", *v6), "ok");
  EXPECT_NE(TargetVerdict("http://127.0.0.1:9000/x", *v6), "ok");
  EXPECT_EQ(TargetVerdict("http://127.0.0.1:9000/x", delivery::SsrfGuard::Disabled()), "ok");
}

}  // namespace
}  // namespace webhookd::api
