// The webhook configuration API (/external-events/): create, read, list with filters and
// pagination, replace, patch, soft delete, secret rotation, and every validation rule.
#include <algorithm>
#include <regex>
#include <set>
#include <tuple>

#include "test_support.hpp"

namespace webhookd::itest {
namespace {

using std::chrono::system_clock;

const std::regex kGeneratedSecret("whsec_[A-Za-z0-9+/]{32}");

// A valid secret of `bytes` bytes in the Standard Webhooks format.
std::string SecretOf(std::size_t bytes, char fill = 'k') {
  static const char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const std::string raw(bytes, fill);
  std::string out;
  std::uint32_t buffer = 0;
  int bits = 0;
  for (const unsigned char c : raw) {
    buffer = (buffer << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += kAlphabet[(buffer >> bits) & 0x3F];
    }
  }
  if (bits > 0) out += kAlphabet[(buffer << (6 - bits)) & 0x3F];
  while (out.size() % 4 != 0) out += '=';
  return "whsec_" + out;
}

std::vector<std::int64_t> Ids(const json::value& list) {
  std::vector<std::int64_t> ids;
  for (const auto& item : list.at("data").as_array()) {
    ids.push_back(item.at("id").to_number<std::int64_t>());
  }
  return ids;
}

std::int64_t IdOf(const json::object& config) { return config.at("id").to_number<std::int64_t>(); }

class ConfigsTest : public ServerTest {
 protected:
  // POSTs `body` and expects a 400 invalid-request problem naming `field`.
  void ExpectCreateRejected(const json::object& body, std::string_view field) {
    HttpClient admin = Admin();
    const HttpResponse r = admin.Post("/external-events/", body);
    EXPECT_TRUE(IsProblem(r, 400, "invalid-request", field)) << "body: " << json::serialize(body);
  }

  // As ExpectCreateRejected, and the detail contains `words`; nothing is stored.
  void ExpectCreateRefusedSaying(const json::object& body, std::string_view field,
                                 std::string_view words) {
    HttpClient admin = Admin();
    const HttpResponse r = admin.Post("/external-events/", body);
    ASSERT_TRUE(IsProblem(r, 400, "invalid-request", field)) << "body: " << json::serialize(body);
    const std::string detail(r.json.at("detail").as_string());
    EXPECT_NE(detail.find(words), std::string::npos) << json::serialize(body) << ": " << detail;
    const HttpResponse list = admin.Get("/external-events/?includeDeleted=true");
    ASSERT_TRUE(IsJson(list, 200));
    EXPECT_TRUE(list.json.at("data").as_array().empty()) << list.body;
  }

  // Expects that `config` is stored exactly as given (a rejected change left nothing behind).
  void ExpectUnchanged(const json::object& config) {
    HttpClient admin = Admin();
    const HttpResponse r = admin.Get(ConfigPath(config));
    ASSERT_TRUE(IsJson(r, 200));
    EXPECT_EQ(r.json.as_object(), config);
  }
};

TEST_F(ConfigsTest, CreateReturnsTheStoredObjectWithDefaults) {
  HttpClient admin = Admin();
  const auto before = system_clock::now();
  const HttpResponse r = admin.Post("/external-events/", ConfigBody(42, "orders hook", 5));
  ASSERT_TRUE(IsJson(r, 201));
  const json::object& c = r.json.as_object();
  EXPECT_TRUE(c.at("id").is_int64() || c.at("id").is_uint64());
  EXPECT_GT(c.at("id").to_number<std::int64_t>(), 0);
  EXPECT_EQ(c.at("organizationId"), json::value(42));
  EXPECT_EQ(c.at("name"), json::value("orders hook"));
  EXPECT_EQ(c.at("url"), json::value("https://hooks.example.com/azodha"));
  EXPECT_EQ(c.at("webhookEventId"), json::value(5));
  EXPECT_EQ(c.at("eventName"), json::value("BookAppointment"));
  EXPECT_EQ(c.at("attributes"),
            json::parse(R"({"apiKey":"ak_test_123","organizationCode":"ORG-7"})"));
  EXPECT_EQ(c.at("headers"), json::parse(R"({"X-Tenant":"acme"})"));
  EXPECT_EQ(c.at("active"), json::value(true));
  EXPECT_EQ(c.at("sendOrganizationCode"), json::value(false));
  EXPECT_EQ(c.at("version"), json::value(1));
  EXPECT_EQ(c.at("isDeleted"), json::value(false));
  EXPECT_TRUE(c.at("disabledReason").is_null());
  EXPECT_TRUE(c.at("timeoutMs").is_null());
  EXPECT_TRUE(c.at("retrySchedule").is_null());
  EXPECT_TRUE(c.at("previousSecretExpiresAt").is_null());
  ASSERT_TRUE(c.at("secret").is_string());
  EXPECT_TRUE(std::regex_match(std::string(c.at("secret").as_string()), kGeneratedSecret))
      << c.at("secret");
  for (const char* stamp : {"createdAt", "updatedAt"}) {
    ASSERT_TRUE(c.at(stamp).is_string()) << stamp;
    const auto t = ParseRfc3339(c.at(stamp).as_string());
    ASSERT_TRUE(t.has_value()) << stamp << " = " << c.at(stamp);
    EXPECT_GE(*t, before - 2s) << stamp;
    EXPECT_LE(*t, system_clock::now() + 2s) << stamp;
  }

  const HttpResponse got = admin.Get(ConfigPath(c));
  ASSERT_TRUE(IsJson(got, 200));
  EXPECT_EQ(got.json.as_object(), c);
}

TEST_F(ConfigsTest, CreateKeepsOptionalFieldsGiven) {
  json::object body = ConfigBody(3, "full", 2);
  body["active"] = false;
  body["sendOrganizationCode"] = true;
  body["version"] = 4;
  body["attributes"] = {{"apiKey", "k"}, {"organizationCode", "C"}, {"region", "eu"}};
  const std::string secret = SecretOf(32);
  body["secret"] = secret;
  HttpClient admin = Admin();
  const json::object c = CreateConfig(admin, body);
  ASSERT_FALSE(c.empty());
  EXPECT_EQ(c.at("active"), json::value(false));
  EXPECT_EQ(c.at("sendOrganizationCode"), json::value(true));
  EXPECT_EQ(c.at("version"), json::value(4));
  EXPECT_EQ(c.at("attributes").at("region"), json::value("eu"));  // unknown keys are kept
  EXPECT_EQ(c.at("secret"), json::value(secret));
  EXPECT_EQ(c.at("eventName"), json::value("InferenceToObservations"));
}

TEST_F(ConfigsTest, GeneratedSecretsAreFreshForEachConfig) {
  HttpClient admin = Admin();
  std::set<std::string> secrets;
  for (int i = 0; i < 5; ++i) {
    const json::object c = CreateConfig(admin, ConfigBody(1));
    ASSERT_FALSE(c.empty());
    secrets.insert(std::string(c.at("secret").as_string()));
  }
  EXPECT_EQ(secrets.size(), 5u);
}

TEST_F(ConfigsTest, EventNameAloneIdentifiesTheEventType) {
  for (std::size_t i = 0; i < EventTypeNames().size(); ++i) {
    json::object body = ConfigBody(1);
    body.erase("webhookEventId");
    body["eventName"] = EventTypeNames()[i];
    HttpClient admin = Admin();
    const json::object c = CreateConfig(admin, body);
    ASSERT_FALSE(c.empty()) << EventTypeNames()[i];
    EXPECT_EQ(c.at("webhookEventId"), json::value(i + 1)) << EventTypeNames()[i];
    EXPECT_EQ(c.at("eventName"), json::value(EventTypeNames()[i]));
  }
}

TEST_F(ConfigsTest, EventIdIsAnAliasOfWebhookEventId) {
  json::object body = ConfigBody(1);
  body.erase("webhookEventId");
  body["eventId"] = 7;
  HttpClient admin = Admin();
  const json::object c = CreateConfig(admin, body);
  ASSERT_FALSE(c.empty());
  EXPECT_EQ(c.at("webhookEventId"), json::value(7));
  EXPECT_EQ(c.at("eventName"), json::value("HealthRecordCounter"));
}

TEST_F(ConfigsTest, MatchingEventIdAndNameAreAccepted) {
  json::object body = ConfigBody(1, "both", 12);
  body["eventName"] = "OpenTele";
  HttpClient admin = Admin();
  const json::object c = CreateConfig(admin, body);
  ASSERT_FALSE(c.empty());
  EXPECT_EQ(c.at("webhookEventId"), json::value(12));
}

TEST_F(ConfigsTest, DisagreeingEventIdAndNameAreRejected) {
  json::object body = ConfigBody(1, "both", 1);
  body["eventName"] = "OpenTele";
  HttpClient admin = Admin();
  EXPECT_TRUE(IsProblem(admin.Post("/external-events/", body), 400, "invalid-request"));
}

TEST_F(ConfigsTest, MissingEventTypeIsRejectedNamingTheField) {
  json::object body = ConfigBody(1);
  body.erase("webhookEventId");
  HttpClient admin = Admin();
  const HttpResponse r = admin.Post("/external-events/", body);
  ASSERT_TRUE(IsProblem(r, 400, "invalid-request"));
  const json::value* field = At(r.json, "/field");
  ASSERT_NE(field, nullptr) << r.body;
  EXPECT_TRUE(*field == json::value("/webhookEventId") || *field == json::value("/eventName"))
      << r.body;
}

TEST_F(ConfigsTest, WebhookEventIdOutOfRangeOrWrongTypeIsRejected) {
  for (const json::value& bad : {json::value(0), json::value(13), json::value(-1), json::value(2.5),
                                 json::value("5"), json::value(nullptr)}) {
    json::object body = ConfigBody(1);
    body["webhookEventId"] = bad;
    ExpectCreateRejected(body, "/webhookEventId");
  }
}

TEST_F(ConfigsTest, UnknownEventNameIsRejected) {
  for (const char* bad : {"NoSuchEvent", "openTele", ""}) {
    json::object body = ConfigBody(1);
    body.erase("webhookEventId");
    body["eventName"] = bad;
    ExpectCreateRejected(body, "/eventName");
  }
}

TEST_F(ConfigsTest, NameIsRequiredAndAtMost200Characters) {
  json::object missing = ConfigBody(1);
  missing.erase("name");
  ExpectCreateRejected(missing, "/name");
  json::object empty = ConfigBody(1);
  empty["name"] = "";
  ExpectCreateRejected(empty, "/name");
  json::object too_long = ConfigBody(1);
  too_long["name"] = std::string(201, 'n');
  ExpectCreateRejected(too_long, "/name");
  json::object not_string = ConfigBody(1);
  not_string["name"] = 5;
  ExpectCreateRejected(not_string, "/name");

  json::object longest = ConfigBody(1);
  longest["name"] = std::string(200, 'n');
  HttpClient admin = Admin();
  const json::object c = CreateConfig(admin, longest);
  ASSERT_FALSE(c.empty());
  EXPECT_EQ(c.at("name").as_string().size(), 200u);
}

TEST_F(ConfigsTest, UrlMustBeAnAbsoluteHttpsUrlWithoutCredentials) {
  const std::string long_tail(2048 - std::string("https://hooks.example.com/").size() + 1, 'a');
  for (const char* bad : {"http://hooks.example.com/x", "ftp://hooks.example.com/x", "not a url",
                          "/relative/path", "https://user:pass@hooks.example.com/x",
                          "https://user@hooks.example.com/x", "https://", ""}) {
    json::object body = ConfigBody(1);
    body["url"] = bad;
    ExpectCreateRejected(body, "/url");
  }
  json::object too_long = ConfigBody(1);
  too_long["url"] = "https://hooks.example.com/" + long_tail;
  ASSERT_EQ(too_long["url"].as_string().size(), 2049u);
  ExpectCreateRejected(too_long, "/url");
  json::object missing = ConfigBody(1);
  missing.erase("url");
  ExpectCreateRejected(missing, "/url");
  json::object not_string = ConfigBody(1);
  not_string["url"] = json::array{"https://hooks.example.com"};
  ExpectCreateRejected(not_string, "/url");

  json::object longest = ConfigBody(1);
  longest["url"] = "https://hooks.example.com/" + long_tail.substr(1);
  ASSERT_EQ(longest["url"].as_string().size(), 2048u);
  HttpClient admin = Admin();
  EXPECT_FALSE(CreateConfig(admin, longest).empty());
}

TEST_F(ConfigsTest, UrlPortMustBeFrom1To65535) {
  for (const char* bad : {"https://hooks.example.com:0/x", "https://hooks.example.com:99999/x",
                          "https://hooks.example.com:65536/x", "https://hooks.example.com:/x",
                          "https://hooks.example.com:00000/x"}) {
    json::object body = ConfigBody(1);
    body["url"] = bad;
    ExpectCreateRefusedSaying(body, "/url", "url port must be a number from 1 to 65535");
  }
  HttpClient admin = Admin();
  for (const char* good : {"https://hooks.example.com:1/x", "https://hooks.example.com:65535/x"}) {
    json::object body = ConfigBody(1);
    body["url"] = good;
    const json::object c = CreateConfig(admin, body);
    EXPECT_EQ(c.at("url"), json::value(good));
  }
}

TEST_F(ConfigsTest, UrlWithAFragmentOrAnEncodedHostIsRefused) {
  json::object fragment = ConfigBody(1);
  fragment["url"] = "https://hooks.example.com/x#part";
  ExpectCreateRefusedSaying(fragment, "/url", "url cannot contain a fragment");
  json::object encoded = ConfigBody(1);
  encoded["url"] = "https://hooks%2eexample.com/x";
  ExpectCreateRefusedSaying(encoded, "/url", "url host cannot contain percent-encoded characters");
  json::object empty_host = ConfigBody(1);
  empty_host["url"] = "https://:443/x";
  ExpectCreateRefusedSaying(empty_host, "/url", "url has no host");
}

TEST_F(ConfigsTest, ControlCharactersInSingleLineTextAreRefused) {
  for (const std::string& name :
       {std::string("a\0b", 3), std::string("line\nbreak"), std::string("tab\there"),
        std::string("bell\x07"), std::string("del\x7f")}) {
    json::object body = ConfigBody(1);
    body["name"] = name;
    ExpectCreateRefusedSaying(body, "/name",
                              "name cannot contain control characters (U+0000 to U+001F, U+007F)");
  }
  json::object header = ConfigBody(1);
  header["headers"] = {{"X-Tenant", "a\x01b"}};
  ExpectCreateRefusedSaying(header, "/headers/X-Tenant", "header values cannot contain control");
  json::object attribute = ConfigBody(1);
  attribute["attributes"] = {{"apiKey", "k\tk"}};
  ExpectCreateRefusedSaying(attribute, "/attributes/apiKey", "apiKey cannot contain control");

  // Other Unicode text is kept as given.
  json::object unicode = ConfigBody(1);
  unicode["name"] = "Clinique Sainte-Anne \u2013 r\u00e9ception";
  HttpClient admin = Admin();
  const json::object c = CreateConfig(admin, unicode);
  EXPECT_EQ(c.at("name"), unicode.at("name"));
}

TEST_F(ConfigsTest, ControlCharactersInAPatchedNameChangeNothing) {
  HttpClient admin = Admin();
  const json::object c = CreateConfig(admin, ConfigBody(1));
  ASSERT_FALSE(c.empty());
  const HttpResponse r = admin.Patch(ConfigPath(c), json::object{{"name", std::string("x\0", 2)}});
  EXPECT_TRUE(IsProblem(r, 400, "invalid-request", "/name"));
  ExpectUnchanged(c);
}

TEST_F(ConfigsTest, IntegersBeyond64BitsAreRefusedSayingTheRange) {
  const json::value two_to_63 = std::uint64_t{1} << 63;
  const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
      {"version", "/version", "version must be an integer from 1 to 9223372036854775807"},
      {"organizationId", "/organizationId",
       "organizationId must be an integer from 1 to 9223372036854775807"},
      {"webhookEventId", "/webhookEventId", "webhookEventId must be an integer from 1 to 1000"},
      {"eventId", "/eventId", "eventId must be an integer from 1 to 1000"},
      {"timeoutMs", "/timeoutMs", "timeoutMs must be an integer from 100 to 60000"},
  };
  for (const auto& [name, field, detail] : cases) {
    for (const json::value& bad : {two_to_63, json::value(1e20), json::value(-1e20)}) {
      json::object body = ConfigBody(1);
      body[name] = bad;
      ExpectCreateRefusedSaying(body, field, detail);
    }
  }
  json::object schedule = ConfigBody(1);
  schedule["retrySchedule"] = json::array{0, two_to_63};
  ExpectCreateRefusedSaying(schedule, "/retrySchedule/1", "from 0 to 604800 seconds");
  json::object wrong_type = ConfigBody(1);
  wrong_type["version"] = "2";
  ExpectCreateRefusedSaying(wrong_type, "/version",
                            "version must be an integer from 1 to 9223372036854775807, not string");

  HttpClient admin = Admin();
  const json::object c = CreateConfig(admin, ConfigBody(1));
  ASSERT_FALSE(c.empty());
  const HttpResponse rotate =
      admin.Post(ConfigPath(c) + "/secret/rotate", json::object{{"expiresInSeconds", two_to_63}});
  ASSERT_TRUE(IsProblem(rotate, 400, "invalid-request", "/expiresInSeconds"));
  EXPECT_EQ(rotate.json.at("detail"),
            json::value("expiresInSeconds must be an integer from 0 to 604800"));
  ExpectUnchanged(c);
  const HttpResponse key =
      admin.Post("/api-keys", json::object{{"name", "k"}, {"organizationId", two_to_63}});
  ASSERT_TRUE(IsProblem(key, 400, "invalid-request", "/organizationId"));
  EXPECT_EQ(key.json.at("detail"),
            json::value("organizationId must be an integer from 1 to 9223372036854775807"));
}

TEST_F(ConfigsTest, ApiKeyNamesCannotHoldControlCharacters) {
  HttpClient admin = Admin();
  const HttpResponse r = admin.Post(
      "/api-keys", json::object{{"name", std::string("k\0ey", 4)}, {"organizationId", 1}});
  ASSERT_TRUE(IsProblem(r, 400, "invalid-request", "/name"));
  EXPECT_EQ(r.json.at("detail"),
            json::value("name cannot contain control characters (U+0000 to U+001F, U+007F)"));
  const HttpResponse keys = admin.Get("/api-keys");
  ASSERT_TRUE(IsJson(keys, 200));
  for (const json::value& key : keys.json.at("data").as_array()) {
    EXPECT_EQ(key.at("name").as_string().find('\0'), json::string::npos) << keys.body;
  }
}

TEST_F(ConfigsTest, UnknownFieldIsRejectedByName) {
  json::object body = ConfigBody(1);
  body["colour"] = "red";
  HttpClient admin = Admin();
  const HttpResponse r = admin.Post("/external-events/", body);
  ASSERT_TRUE(IsProblem(r, 400, "invalid-request"));
  const json::value* field = At(r.json, "/field");
  const bool named = (field != nullptr && *field == json::value("/colour")) ||
                     r.json.at("detail").as_string().find("colour") != std::string::npos;
  EXPECT_TRUE(named) << r.body;
}

TEST_F(ConfigsTest, WrongTypesAreRejectedNamingTheField) {
  const std::vector<std::pair<std::string, json::value>> cases = {
      {"active", "yes"},
      {"sendOrganizationCode", 1},
      {"version", "1"},
      {"attributes", "x"},
      {"attributes", json::array{}},
      {"headers", json::array{}},
      {"organizationId", "abc"},
      {"secret", 12},
  };
  for (const auto& [name, value] : cases) {
    json::object body = ConfigBody(1);
    body[name] = value;
    ExpectCreateRejected(body, "/" + name);
  }
}

TEST_F(ConfigsTest, BodyMustBeAJsonObject) {
  HttpClient admin = Admin();
  for (const char* body : {"[]", "\"text\"", "42"}) {
    EXPECT_TRUE(IsProblem(admin.Request("POST", "/external-events/", body), 400, "invalid-request"))
        << body;
  }
}

// The README once posted `"payload": { ... }`: the answer says where the JSON goes wrong.
TEST_F(ConfigsTest, MalformedJsonSaysTheLineAndColumn) {
  HttpClient admin = Admin();
  const std::string body = "{\"organizationId\": 1,\n \"payload\": { ... }}";
  for (const char* path : {"/external-events/", "/events"}) {
    const HttpResponse r = admin.Request("POST", path, body);
    ASSERT_TRUE(IsProblem(r, 400, "invalid-request", "")) << path << ": " << r.Summary();
    EXPECT_EQ(r.json.at("detail"),
              json::value("the request body is not valid JSON: syntax error at line 2, column 15 "
                          "(byte 36)"))
        << path;
  }
  const HttpResponse cut = admin.Request("POST", "/events", R"({"organizationId": 1)");
  ASSERT_TRUE(IsProblem(cut, 400, "invalid-request", "")) << cut.Summary();
  EXPECT_EQ(
      cut.json.at("detail"),
      json::value("the request body is not valid JSON: incomplete JSON at the end (byte 20)"));
}

TEST_F(ConfigsTest, HeaderValuesMustBeStrings) {
  json::object body = ConfigBody(1);
  body["headers"] = {{"x-count", 5}};
  ExpectCreateRejected(body, "/headers/x-count");
  body["headers"] = {{"x-obj", json::object{}}};
  ExpectCreateRejected(body, "/headers/x-obj");
}

TEST_F(ConfigsTest, HopByHopAndSignatureHeadersAreRefused) {
  for (const char* name : {"connection",
                           "transfer-encoding",
                           "host",
                           "content-length",
                           "keep-alive",
                           "upgrade",
                           "te",
                           "trailer",
                           "proxy-authorization",
                           "webhook-signature",
                           "webhook-id",
                           "webhook-timestamp",
                           "expect",
                           "Expect",
                           "Proxy-Anything",
                           "content-encoding",
                           "content-type",
                           "user-agent",
                           "x-webhook-event",
                           "x-api-key",
                           "x-organization-code"}) {
    json::object body = ConfigBody(1);
    body["headers"] = {{name, "v"}};
    ExpectCreateRefusedSaying(
        body, "/headers/" + std::string(name),
        "header '" + std::string(name) + "' is set by webhookd or is hop-by-hop");
  }
  // Names compare case-insensitively.
  for (const char* name : {"Content-Length", "Webhook-Signature", "HOST"}) {
    json::object body = ConfigBody(1);
    body["headers"] = {{name, "v"}};
    ExpectCreateRejected(body, "/headers/" + std::string(name));
  }
}

TEST_F(ConfigsTest, InvalidSecretIsRejected) {
  for (const std::string& bad :
       {std::string("nope"), std::string("whsec_"), std::string("whsec_!!!not-base64!!!"),
        SecretOf(8), SecretOf(65), SecretOf(32).substr(6)}) {
    json::object body = ConfigBody(1);
    body["secret"] = bad;
    ExpectCreateRejected(body, "/secret");
  }
}

TEST_F(ConfigsTest, ValidSecretsOfEveryAllowedLengthAreKept) {
  HttpClient admin = Admin();
  for (const std::size_t bytes : {24u, 40u, 64u}) {
    json::object body = ConfigBody(1);
    body["secret"] = SecretOf(bytes);
    const json::object c = CreateConfig(admin, body);
    ASSERT_FALSE(c.empty()) << bytes;
    EXPECT_EQ(c.at("secret"), json::value(SecretOf(bytes)));
  }
}

TEST_F(ConfigsTest, AdminMustNameTheOrganization) {
  json::object body = ConfigBody(1);
  body.erase("organizationId");
  ExpectCreateRejected(body, "/organizationId");
}

TEST_F(ConfigsTest, RejectedCreatesStoreNothing) {
  json::object bad = ConfigBody(1);
  bad["url"] = "ftp://x";
  ExpectCreateRejected(bad, "/url");
  HttpClient admin = Admin();
  const HttpResponse list = admin.Get("/external-events/?includeDeleted=true");
  ASSERT_TRUE(IsJson(list, 200));
  EXPECT_TRUE(list.json.at("data").as_array().empty()) << list.body;
}

TEST_F(ConfigsTest, GetOfUnknownIdIsNotFound) {
  HttpClient admin = Admin();
  EXPECT_TRUE(IsProblem(admin.Get("/external-events/424242"), 404, "not-found"));
  const HttpResponse r = admin.Get("/external-events/abc");
  EXPECT_TRUE(IsProblem(r, 404, "not-found") || IsProblem(r, 400, "invalid-request"))
      << r.Summary();
}

TEST_F(ConfigsTest, ListAnswersWithAndWithoutTrailingSlash) {
  HttpClient admin = Admin();
  const json::object a = CreateConfig(admin, ConfigBody(1, "a"));
  const json::object b = CreateConfig(admin, ConfigBody(2, "b"));
  for (const char* path : {"/external-events/", "/external-events"}) {
    const HttpResponse r = admin.Get(path);
    ASSERT_TRUE(IsJson(r, 200)) << path;
    EXPECT_EQ(r.json.at("data"), json::value(json::array{a, b})) << path;
    EXPECT_TRUE(r.json.at("nextCursor").is_null()) << path;
  }
  // POST works without the slash too.
  EXPECT_TRUE(IsJson(admin.Post("/external-events", ConfigBody(3)), 201));
}

TEST_F(ConfigsTest, ListFiltersByOrganizationEventNameAndActive) {
  HttpClient admin = Admin();
  const auto a = IdOf(CreateConfig(admin, ConfigBody(1, "org1 book", 5)));
  json::object inactive = ConfigBody(1, "org1 tele inactive", 12);
  inactive["active"] = false;
  const auto b = IdOf(CreateConfig(admin, inactive));
  const auto c = IdOf(CreateConfig(admin, ConfigBody(2, "org2 book", 5)));

  const auto ids = [&](const std::string& query) {
    const HttpResponse r = admin.Get("/external-events/" + query);
    EXPECT_TRUE(IsJson(r, 200)) << query;
    return r.is_json ? Ids(r.json) : std::vector<std::int64_t>{};
  };
  using V = std::vector<std::int64_t>;
  EXPECT_EQ(ids(""), (V{a, b, c}));
  EXPECT_EQ(ids("?organizationId=1"), (V{a, b}));
  EXPECT_EQ(ids("?organizationId=2"), (V{c}));
  EXPECT_EQ(ids("?organizationId=3"), (V{}));
  EXPECT_EQ(ids("?eventName=BookAppointment"), (V{a, c}));
  EXPECT_EQ(ids("?eventName=OpenTele"), (V{b}));
  EXPECT_EQ(ids("?active=false"), (V{b}));
  EXPECT_EQ(ids("?active=true"), (V{a, c}));
  EXPECT_EQ(ids("?organizationId=1&eventName=BookAppointment&active=true"), (V{a}));
}

// The console's search box: q finds configurations by name or URL, combined with the other
// filters and with paging.
TEST_F(ConfigsTest, ListSearchesNamesAndUrls) {
  HttpClient admin = Admin();
  json::object front = ConfigBody(1, "Front desk", 5);
  front["url"] = "https://care.example.com/intake";
  const auto a = IdOf(CreateConfig(admin, front));
  json::object lab = ConfigBody(1, "Lab results", 5);
  lab["url"] = "https://lab.example.com/FRONT-door";
  const auto b = IdOf(CreateConfig(admin, lab));
  const auto c = IdOf(CreateConfig(admin, ConfigBody(2, "Billing", 12)));

  const auto ids = [&](const std::string& query) {
    const HttpResponse r = admin.Get("/external-events/" + query);
    EXPECT_TRUE(IsJson(r, 200)) << query << ": " << r.Summary();
    return r.is_json ? Ids(r.json) : std::vector<std::int64_t>{};
  };
  using V = std::vector<std::int64_t>;
  EXPECT_EQ(ids("?q=front"), (V{a, b}));
  EXPECT_EQ(ids("?q=FRONT%20DESK"), V{a});
  EXPECT_EQ(ids("?q=lab.example.com%2Ffront"), V{b});
  EXPECT_EQ(ids("?q=billing"), V{c});
  EXPECT_EQ(ids("?q="), (V{a, b, c}));
  EXPECT_EQ(ids("?q=front&organizationId=2"), V{});
  EXPECT_EQ(ids("?q=front&limit=1&cursor=" + std::to_string(a)), V{b});
  EXPECT_EQ(ids("?q=nothing-like-it"), V{});

  HttpClient org2 = WithKey(CreateOrgKey(2));
  const HttpResponse theirs = org2.Get("/external-events/?q=front");
  ASSERT_TRUE(IsJson(theirs, 200));
  EXPECT_TRUE(Ids(theirs.json).empty());

  const HttpResponse too_long = admin.Get("/external-events/?q=" + std::string(2049, 'x'));
  ASSERT_TRUE(IsProblem(too_long, 400, "invalid-request", "q")) << too_long.Summary();
  EXPECT_EQ(too_long.json.at("detail"), "q must be at most 2048 characters");
}

TEST_F(ConfigsTest, PaginationWalksSevenConfigsThreeAtATime) {
  HttpClient admin = Admin();
  std::vector<std::int64_t> created;
  for (int i = 0; i < 7; ++i) created.push_back(IdOf(CreateConfig(admin, ConfigBody(1))));

  std::vector<std::int64_t> seen;
  std::vector<std::size_t> page_sizes;
  std::string query = "?limit=3";
  for (int page = 0; page < 10; ++page) {
    const HttpResponse r = admin.Get("/external-events/" + query);
    ASSERT_TRUE(IsJson(r, 200));
    const auto ids = Ids(r.json);
    page_sizes.push_back(ids.size());
    seen.insert(seen.end(), ids.begin(), ids.end());
    const json::value& next = r.json.at("nextCursor");
    if (next.is_null()) break;
    ASSERT_TRUE(next.is_string()) << r.body;
    ASSERT_FALSE(next.as_string().empty());
    query = "?limit=3&cursor=" + std::string(next.as_string());
  }
  EXPECT_EQ(page_sizes, (std::vector<std::size_t>{3, 3, 1}));
  EXPECT_EQ(seen, created);
}

TEST_F(ConfigsTest, PaginationCombinesWithFilters) {
  HttpClient admin = Admin();
  std::vector<std::int64_t> org2;
  for (int i = 0; i < 5; ++i) {
    CreateConfig(admin, ConfigBody(1));
    org2.push_back(IdOf(CreateConfig(admin, ConfigBody(2))));
  }
  const HttpResponse first = admin.Get("/external-events/?organizationId=2&limit=3");
  ASSERT_TRUE(IsJson(first, 200));
  ASSERT_TRUE(first.json.at("nextCursor").is_string()) << first.body;
  const HttpResponse second = admin.Get("/external-events/?organizationId=2&limit=3&cursor=" +
                                        std::string(first.json.at("nextCursor").as_string()));
  ASSERT_TRUE(IsJson(second, 200));
  auto ids = Ids(first.json);
  const auto rest = Ids(second.json);
  ids.insert(ids.end(), rest.begin(), rest.end());
  EXPECT_EQ(ids, org2);
  EXPECT_TRUE(second.json.at("nextCursor").is_null());
}

TEST_F(ConfigsTest, LimitMustBeBetween1And250) {
  HttpClient admin = Admin();
  for (const char* bad : {"0", "251", "-1", "abc", "1.5"}) {
    const HttpResponse r = admin.Get(std::string("/external-events/?limit=") + bad);
    EXPECT_TRUE(IsProblem(r, 400, "invalid-request", "limit")) << "limit=" << bad;
  }
  EXPECT_TRUE(IsJson(admin.Get("/external-events/?limit=1"), 200));
  EXPECT_TRUE(IsJson(admin.Get("/external-events/?limit=250"), 200));
}

TEST_F(ConfigsTest, PatchChangesOnlyTheGivenFields) {
  HttpClient admin = Admin();
  const json::object c = CreateConfig(admin, ConfigBody(1, "before", 5));
  ASSERT_FALSE(c.empty());
  const HttpResponse r =
      admin.Patch(ConfigPath(c),
                  json::object{{"name", "after"}, {"active", false}, {"headers", {{"X-B", "2"}}}});
  ASSERT_TRUE(IsJson(r, 200));
  json::object expected = c;
  expected["name"] = "after";
  expected["active"] = false;
  expected["headers"] = {{"X-B", "2"}};
  expected["updatedAt"] = r.json.at("updatedAt");
  EXPECT_EQ(r.json.as_object(), expected);
  EXPECT_GE(*ParseRfc3339(r.json.at("updatedAt").as_string()),
            *ParseRfc3339(c.at("updatedAt").as_string()));
  ExpectUnchanged(r.json.as_object());

  // Changing the event type through either name updates both.
  const HttpResponse by_name = admin.Patch(ConfigPath(c), json::object{{"eventName", "OpenTele"}});
  ASSERT_TRUE(IsJson(by_name, 200));
  EXPECT_EQ(by_name.json.at("webhookEventId"), json::value(12));
  EXPECT_EQ(by_name.json.at("eventName"), json::value("OpenTele"));
}

TEST_F(ConfigsTest, PatchValidatesAndLeavesNothingHalfWritten) {
  HttpClient admin = Admin();
  const json::object c = CreateConfig(admin, ConfigBody(1));
  ASSERT_FALSE(c.empty());
  const std::vector<std::pair<json::object, std::string>> cases = {
      {{{"name", "ok"}, {"url", "http://hooks.example.com"}}, "/url"},
      {{{"name", "ok"}, {"webhookEventId", 99}}, "/webhookEventId"},
      {{{"active", "no"}}, "/active"},
      {{{"headers", {{"host", "evil"}}}}, "/headers/host"},
      {{{"secret", "bad"}}, "/secret"},
      {{{"name", ""}}, "/name"},
  };
  for (const auto& [patch, field] : cases) {
    EXPECT_TRUE(IsProblem(admin.Patch(ConfigPath(c), patch), 400, "invalid-request", field))
        << json::serialize(patch);
  }
  const HttpResponse unknown = admin.Patch(ConfigPath(c), json::object{{"colour", "red"}});
  EXPECT_TRUE(IsProblem(unknown, 400, "invalid-request"));
  ExpectUnchanged(c);
}

TEST_F(ConfigsTest, PutReplacesTheWholeConfig) {
  HttpClient admin = Admin();
  json::object body = ConfigBody(1, "old", 5);
  body["sendOrganizationCode"] = true;
  const json::object c = CreateConfig(admin, body);
  ASSERT_FALSE(c.empty());
  const json::object replacement = {{"organizationId", 1},
                                    {"name", "new"},
                                    {"url", "https://other.example.com/h"},
                                    {"eventName", "Notification"}};
  const HttpResponse r = admin.Put(ConfigPath(c), replacement);
  ASSERT_TRUE(IsJson(r, 200));
  const json::object& got = r.json.as_object();
  EXPECT_EQ(got.at("id"), c.at("id"));
  EXPECT_EQ(got.at("createdAt"), c.at("createdAt"));
  EXPECT_EQ(got.at("name"), json::value("new"));
  EXPECT_EQ(got.at("url"), json::value("https://other.example.com/h"));
  EXPECT_EQ(got.at("webhookEventId"), json::value(8));
  // Fields left out go back to their defaults.
  EXPECT_EQ(got.at("headers"), json::value(json::object{}));
  EXPECT_EQ(got.at("attributes"), json::value(json::object{}));
  EXPECT_EQ(got.at("sendOrganizationCode"), json::value(false));
  EXPECT_EQ(got.at("active"), json::value(true));
  ExpectUnchanged(got);
}

TEST_F(ConfigsTest, PutRequiresTheRequiredFields) {
  HttpClient admin = Admin();
  const json::object c = CreateConfig(admin, ConfigBody(1));
  ASSERT_FALSE(c.empty());
  json::object no_url = ConfigBody(1);
  no_url.erase("url");
  EXPECT_TRUE(IsProblem(admin.Put(ConfigPath(c), no_url), 400, "invalid-request", "/url"));
  json::object no_name = ConfigBody(1);
  no_name.erase("name");
  EXPECT_TRUE(IsProblem(admin.Put(ConfigPath(c), no_name), 400, "invalid-request", "/name"));
  ExpectUnchanged(c);
}

TEST_F(ConfigsTest, UpdatesOfUnknownIdsAreNotFound) {
  HttpClient admin = Admin();
  EXPECT_TRUE(IsProblem(admin.Put("/external-events/777", ConfigBody(1)), 404, "not-found"));
  EXPECT_TRUE(IsProblem(admin.Patch("/external-events/777", json::object{{"name", "x"}}), 404,
                        "not-found"));
  EXPECT_TRUE(IsProblem(admin.Delete("/external-events/777"), 404, "not-found"));
  EXPECT_TRUE(
      IsProblem(admin.Request("POST", "/external-events/777/secret/rotate"), 404, "not-found"));
}

TEST_F(ConfigsTest, DeleteIsSoft) {
  HttpClient admin = Admin();
  const json::object kept = CreateConfig(admin, ConfigBody(1, "kept"));
  const json::object gone = CreateConfig(admin, ConfigBody(1, "gone"));
  ASSERT_FALSE(gone.empty());

  const HttpResponse deleted = admin.Delete(ConfigPath(gone));
  EXPECT_EQ(deleted.status, 204) << deleted.Summary();
  EXPECT_TRUE(deleted.body.empty());

  const HttpResponse got = admin.Get(ConfigPath(gone));
  ASSERT_TRUE(IsJson(got, 200));
  EXPECT_EQ(got.json.at("isDeleted"), json::value(true));
  EXPECT_EQ(got.json.at("name"), json::value("gone"));

  const HttpResponse list = admin.Get("/external-events/");
  ASSERT_TRUE(IsJson(list, 200));
  EXPECT_EQ(Ids(list.json), (std::vector<std::int64_t>{IdOf(kept)}));
  const HttpResponse with_deleted = admin.Get("/external-events/?includeDeleted=true");
  ASSERT_TRUE(IsJson(with_deleted, 200));
  EXPECT_EQ(Ids(with_deleted.json), (std::vector<std::int64_t>{IdOf(kept), IdOf(gone)}));
  EXPECT_EQ(with_deleted.json.at("data").as_array()[1].at("isDeleted"), json::value(true));

  EXPECT_TRUE(
      IsProblem(admin.Patch(ConfigPath(gone), json::object{{"name", "back"}}), 404, "not-found"));
  EXPECT_TRUE(IsProblem(admin.Put(ConfigPath(gone), ConfigBody(1, "back")), 404, "not-found"));
  const HttpResponse still = admin.Get(ConfigPath(gone));
  EXPECT_EQ(still.json.at("name"), json::value("gone"));
}

TEST_F(ConfigsTest, RotateSecretKeepsThePreviousOneForADay) {
  HttpClient admin = Admin();
  const json::object c = CreateConfig(admin, ConfigBody(1));
  ASSERT_FALSE(c.empty());
  const HttpResponse r = admin.Request("POST", ConfigPath(c) + "/secret/rotate");
  ASSERT_TRUE(IsJson(r, 200));
  const json::object& rotated = r.json.as_object();
  EXPECT_EQ(rotated.at("id"), c.at("id"));
  ASSERT_TRUE(rotated.at("secret").is_string());
  EXPECT_NE(rotated.at("secret"), c.at("secret"));
  EXPECT_TRUE(std::regex_match(std::string(rotated.at("secret").as_string()), kGeneratedSecret));
  ASSERT_TRUE(rotated.at("previousSecretExpiresAt").is_string()) << r.body;
  const auto expires = ParseRfc3339(rotated.at("previousSecretExpiresAt").as_string());
  ASSERT_TRUE(expires.has_value()) << r.body;
  const auto expected = system_clock::now() + 24h;
  EXPECT_LT(std::chrono::abs(*expires - expected), 5min);

  const HttpResponse got = admin.Get(ConfigPath(c));
  ASSERT_TRUE(IsJson(got, 200));
  EXPECT_EQ(got.json.at("secret"), rotated.at("secret"));
  EXPECT_EQ(got.json.at("previousSecretExpiresAt"), rotated.at("previousSecretExpiresAt"));
  // The previous secret is kept for signing, never shown.
  EXPECT_EQ(got.body.find(std::string(c.at("secret").as_string())), std::string::npos);
}

TEST_F(ConfigsTest, RotateSecretTakesTheGracePeriodInSeconds) {
  HttpClient admin = Admin();
  const json::object c = CreateConfig(admin, ConfigBody(1));
  ASSERT_FALSE(c.empty());
  const HttpResponse r =
      admin.Post(ConfigPath(c) + "/secret/rotate", json::object{{"expiresInSeconds", 60}});
  ASSERT_TRUE(IsJson(r, 200));
  const auto expires = ParseRfc3339(r.json.at("previousSecretExpiresAt").as_string());
  ASSERT_TRUE(expires.has_value()) << r.body;
  EXPECT_LT(std::chrono::abs(*expires - (system_clock::now() + 60s)), 30s);

  const HttpResponse bad =
      admin.Post(ConfigPath(c) + "/secret/rotate", json::object{{"expiresInSeconds", "soon"}});
  EXPECT_TRUE(IsProblem(bad, 400, "invalid-request", "/expiresInSeconds"));
  const HttpResponse unknown =
      admin.Post(ConfigPath(c) + "/secret/rotate", json::object{{"later", 1}});
  EXPECT_TRUE(IsProblem(unknown, 400, "invalid-request"));
}

class InsecureUrlsTest : public ServerTest {
 protected:
  std::vector<std::string> ServeArgs() const override { return {"--allow-insecure-urls"}; }
};

TEST_F(InsecureUrlsTest, HttpUrlsAreAcceptedWithTheFlag) {
  json::object body = ConfigBody(1);
  body["url"] = "http://hooks.example.com/plain";
  HttpClient admin = Admin();
  const json::object c = CreateConfig(admin, body);
  ASSERT_FALSE(c.empty());
  EXPECT_EQ(c.at("url"), json::value("http://hooks.example.com/plain"));
  // Credentials and other schemes stay refused.
  body["url"] = "http://user:pw@hooks.example.com/plain";
  EXPECT_TRUE(IsProblem(admin.Post("/external-events/", body), 400, "invalid-request", "/url"));
  body["url"] = "ftp://hooks.example.com/plain";
  EXPECT_TRUE(IsProblem(admin.Post("/external-events/", body), 400, "invalid-request", "/url"));
}

// A server without --allow-target refuses, when they are set, the URLs the SSRF guard would
// refuse at every delivery: loopback, private and other internal address literals, localhost.
class TargetRefusedTest : public ConfigsTest {
 protected:
  std::vector<std::string> ServeArgs() const override { return {"--allow-insecure-urls"}; }
};

TEST_F(TargetRefusedTest, InternalAddressLiteralsAndLocalhostAreRefusedWithTheGuardsReason) {
  const std::string how = "; allow it with --allow-target or WEBHOOKD_ALLOW_TARGETS";
  const std::vector<std::pair<std::string, std::string>> refused = {
      {"http://127.0.0.1:9000/hook", "refused 127.0.0.1: loopback address"},
      {"https://10.0.0.5/hook", "refused 10.0.0.5: private address (RFC 1918)"},
      {"https://[::1]:8443/hook", "refused ::1: loopback address"},
      {"https://169.254.169.254/latest",
       "refused 169.254.169.254: link-local address (cloud metadata service)"},
      {"http://localhost:9000/hook", "refused 127.0.0.1: loopback address"},
      {"http://LocalHost./hook", "refused 127.0.0.1: loopback address"},
      {"http://api.localhost/hook", "refused 127.0.0.1: loopback address"},
  };
  for (const auto& [url, reason] : refused) {
    json::object body = ConfigBody(1);
    body["url"] = url;
    HttpClient admin = Admin();
    const HttpResponse r = admin.Post("/external-events/", body);
    ASSERT_TRUE(IsProblem(r, 400, "invalid-request", "/url")) << url << ": " << r.Summary();
    EXPECT_EQ(r.json.at("detail"), json::value("url would never be delivered: " + reason + how))
        << url;
  }
  HttpClient admin = Admin();
  const HttpResponse list = admin.Get("/external-events/?includeDeleted=true");
  ASSERT_TRUE(IsJson(list, 200));
  EXPECT_TRUE(list.json.at("data").as_array().empty()) << list.body;
}

TEST_F(TargetRefusedTest, PublicTargetsAreAcceptedAndAChangeToAnInternalOneIsRefused) {
  HttpClient admin = Admin();
  json::object body = ConfigBody(1);
  body["url"] = "https://93.184.215.14/hook";
  const json::object config = CreateConfig(admin, body);
  ASSERT_FALSE(config.empty());
  body["url"] = "https://hooks.localhost.example.com/hook";  // a name: judged at connect time
  EXPECT_FALSE(CreateConfig(admin, body).empty());

  const HttpResponse patched =
      admin.Request("PATCH", ConfigPath(config), R"({"url": "http://192.168.1.20/hook"})");
  ASSERT_TRUE(IsProblem(patched, 400, "invalid-request", "/url")) << patched.Summary();
  EXPECT_EQ(patched.json.at("detail"),
            json::value("url would never be delivered: refused 192.168.1.20: private address "
                        "(RFC 1918); allow it with --allow-target or WEBHOOKD_ALLOW_TARGETS"));
  ExpectUnchanged(config);
}

TEST_F(ConfigsTest, HttpUrlsNameBothWaysToAllowThem) {
  json::object body = ConfigBody(1);
  body["url"] = "http://hooks.example.com/plain";
  ExpectCreateRefusedSaying(body, "/url",
                            "url must use https:// (http:// is accepted only when the server runs "
                            "with --allow-insecure-urls or WEBHOOKD_ALLOW_INSECURE_URLS=true)");
}

class AllowedTargetTest : public ServerTest {
 protected:
  std::vector<std::string> ServeArgs() const override {
    return {"--allow-insecure-urls", "--allow-target", "127.0.0.0/8"};
  }
};

TEST_F(AllowedTargetTest, AllowListedRangesAndLocalhostAreAcceptedOthersStillRefused) {
  HttpClient admin = Admin();
  for (const char* url : {"http://127.0.0.1:9000/hook", "http://localhost:9000/hook"}) {
    json::object body = ConfigBody(1);
    body["url"] = url;
    const json::object config = CreateConfig(admin, body);
    EXPECT_EQ(config.at("url"), json::value(url));
  }
  json::object body = ConfigBody(1);
  body["url"] = "http://[::1]:9000/hook";  // not in 127.0.0.0/8
  const HttpResponse r = admin.Post("/external-events/", body);
  ASSERT_TRUE(IsProblem(r, 400, "invalid-request", "/url")) << r.Summary();
  EXPECT_NE(r.json.at("detail").as_string().find("refused ::1: loopback address"),
            std::string::npos)
      << r.Summary();
}

}  // namespace
}  // namespace webhookd::itest
