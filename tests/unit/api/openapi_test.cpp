// docs/openapi.yaml against the router: every route the server answers is documented, every
// documented operation is answered, path parameters are declared, and the documented security
// (public or bearer) is what the server enforces.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <filesystem>
#include <regex>
#include <set>

#include "api/api.hpp"
#include "core/clock.hpp"
#include "dispatch_and_wait.hpp"
#include "store/open_store.hpp"

namespace webhookd::api {
namespace {

namespace json = boost::json;

constexpr std::array<std::string_view, 7> kOperationKeys = {"get",     "put",  "post", "delete",
                                                            "options", "head", "patch"};

std::string Lowercase(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string Uppercase(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

class OpenApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "openapi_test_XXXXXX");
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    Result<std::unique_ptr<Store>> store = OpenStore("sqlite:" + dir_ + "/webhookd.db", clock_);
    ASSERT_TRUE(store.ok()) << store.error().message;
    store_ = std::move(store).value();
    // ApiContext holds atomics: built in place, never moved.
    context_.reset(new ApiContext{*store_, catalog_, clock_, {}, nullptr, {}});
    router_ = BuildRouter(*context_);
    document_ = OpenApiDocument(catalog_);
  }

  void TearDown() override {
    router_.reset();
    context_.reset();
    store_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  const json::object& Paths() const { return document_.at("paths").as_object(); }

  // A parameter object, following a "$ref" into components.
  const json::object& Resolve(const json::value& parameter) const {
    const json::object& object = parameter.as_object();
    const json::value* ref = object.if_contains("$ref");
    if (ref == nullptr) return object;
    const std::string text(ref->as_string());
    const std::string prefix = "#/components/parameters/";
    EXPECT_EQ(text.rfind(prefix, 0), 0u) << text;
    return document_.at("components").at("parameters").at(text.substr(prefix.size())).as_object();
  }

  std::set<std::string> PathParameters(const json::object& path_item,
                                       const json::object& operation) const {
    std::set<std::string> names;
    for (const json::object* holder : {&path_item, &operation}) {
      const json::value* parameters = holder->if_contains("parameters");
      if (parameters == nullptr) continue;
      for (const json::value& p : parameters->as_array()) {
        const json::object& parameter = Resolve(p);
        if (parameter.at("in") == "path")
          names.insert(std::string(parameter.at("name").as_string()));
      }
    }
    return names;
  }

  SystemClock clock_;
  std::string dir_;
  std::unique_ptr<Store> store_;
  Catalog catalog_;
  std::unique_ptr<ApiContext> context_;
  std::unique_ptr<Router> router_;
  json::object document_;
};

TEST_F(OpenApiTest, DocumentIsOpenApi31WithBearerSecurity) {
  EXPECT_EQ(document_.at("openapi"), "3.1.0");
  const json::object& bearer =
      document_.at("components").at("securitySchemes").at("bearer").as_object();
  EXPECT_EQ(bearer.at("type"), "http");
  EXPECT_EQ(bearer.at("scheme"), "bearer");
  const json::array& problem_required =
      document_.at("components").at("schemas").at("Problem").at("required").as_array();
  EXPECT_EQ(problem_required, json::parse(R"(["type","title","status","detail"])"));
}

TEST_F(OpenApiTest, EveryRouteIsDocumented) {
  const auto routes = router_->Routes();
  ASSERT_GT(routes.size(), 20u);
  for (const auto& [method, pattern] : routes) {
    const json::value* path_item = Paths().if_contains(pattern);
    ASSERT_NE(path_item, nullptr) << pattern << " is served but not in docs/openapi.yaml";
    EXPECT_TRUE(path_item->as_object().contains(Lowercase(method)))
        << method << " " << pattern << " is served but not documented";
  }
}

TEST_F(OpenApiTest, EveryDocumentedOperationIsServed) {
  std::set<std::pair<std::string, std::string>> served;
  for (const auto& route : router_->Routes()) served.insert(route);
  int operations = 0;
  for (const auto& [pattern, item] : Paths()) {
    for (const auto& [key, operation] : item.as_object()) {
      if (std::find(kOperationKeys.begin(), kOperationKeys.end(), key) == kOperationKeys.end()) {
        continue;
      }
      ++operations;
      if (key == "head") continue;  // the router answers HEAD for every GET
      EXPECT_TRUE(served.contains({Uppercase(std::string(key)), std::string(pattern)}))
          << Uppercase(std::string(key)) << " " << std::string_view(pattern)
          << " is documented but not served";
    }
  }
  EXPECT_EQ(operations, static_cast<int>(served.size()));
}

TEST_F(OpenApiTest, PathTemplatesDeclareTheirParameters) {
  static const std::regex kTemplate(R"(\{([^}]+)\})");
  for (const auto& [pattern, item] : Paths()) {
    const std::string path(pattern);
    std::set<std::string> in_template;
    for (auto it = std::sregex_iterator(path.begin(), path.end(), kTemplate);
         it != std::sregex_iterator(); ++it) {
      in_template.insert((*it)[1]);
    }
    for (const auto& [key, operation] : item.as_object()) {
      if (!operation.is_object() || !operation.as_object().contains("responses")) continue;
      EXPECT_EQ(PathParameters(item.as_object(), operation.as_object()), in_template)
          << key << " " << path;
    }
  }
}

// A route without a key answers 401 exactly when the document says it needs the bearer key.
TEST_F(OpenApiTest, DocumentedSecurityMatchesTheServer) {
  for (const auto& [method, pattern] : router_->Routes()) {
    const json::object& operation =
        Paths().at(pattern).as_object().at(Lowercase(method)).as_object();
    const json::value* security = operation.if_contains("security");
    const bool documented_public = security != nullptr && security->as_array().empty();
    Request request;
    request.method = method;
    request.path = std::regex_replace(pattern, std::regex(R"(\{[^}]+\})"), "1");
    const Response response = DispatchAndWait(*router_, request);
    EXPECT_EQ(response.status == 401, !documented_public) << method << " " << pattern;
    if (!documented_public) {
      EXPECT_TRUE(operation.at("responses").as_object().contains("401"))
          << method << " " << pattern;
    }
  }
}

TEST_F(OpenApiTest, ServedAtOpenApiJsonWithoutAKey) {
  Request request;
  request.method = "GET";
  request.path = "/openapi.json";
  const Response response = DispatchAndWait(*router_, request);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.content_type, "application/json");
  EXPECT_EQ(json::parse(response.body), json::value(document_));
  request.method = "HEAD";
  EXPECT_EQ(DispatchAndWait(*router_, request).status, 200);
}

// Issue 11 m: each event type's payload schema is in the served document, chosen by eventName,
// and follows the catalog as it changes.
TEST_F(OpenApiTest, ServesEachEventTypesPayloadSchemaFromTheCurrentCatalog) {
  const json::object& schemas = document_.at("components").at("schemas").as_object();
  for (const EventType& type : catalog_.types()) {
    const json::value* payload = schemas.if_contains(type.name + "Payload");
    ASSERT_NE(payload, nullptr) << type.name;
    json::object expected = json::parse(type.schema_json).as_object();
    expected.erase("$schema");
    EXPECT_EQ(*payload, json::value(expected)) << type.name;
  }
  const json::array& rules = schemas.at("EventCreate").at("allOf").as_array();
  ASSERT_EQ(rules.size(), 12u);
  EXPECT_EQ(rules[4].at("then").at("properties").at("payload").at("$ref"),
            "#/components/schemas/BookAppointmentPayload");
  EXPECT_EQ(schemas.at("EventName").at("enum").as_array().size(), 12u);

  EventType added;
  added.id = 13;
  added.name = "VitalSignRecorded";
  added.schema_json = R"({"type":"object","required":["value"]})";
  added.sample_json = R"({"value":1})";
  added.sample_headers_json = "{}";
  Result<EventType> prepared = Catalog::Prepare(added);
  ASSERT_TRUE(prepared.ok()) << prepared.error().message;
  catalog_.Install(*prepared);
  const json::object now = OpenApiDocument(catalog_);
  EXPECT_EQ(now.at("components").at("schemas").at("VitalSignRecordedPayload"),
            json::parse(added.schema_json));
  EXPECT_EQ(now.at("components").at("schemas").at("EventName").at("enum").as_array().back(),
            "VitalSignRecorded");
}

}  // namespace
}  // namespace webhookd::api
