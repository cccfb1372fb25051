// The event catalog over HTTP: GET /event-types and GET /event-types/{name or id}.
#include "test_support.hpp"

namespace webhookd::itest {
namespace {

class CatalogApiTest : public ServerTest {};

bool IsInferenceType(std::size_t id) { return id == 2 || id == 3 || id == 6; }

TEST_F(CatalogApiTest, ListsTheTwelveTypesInTheSeedsOrder) {
  HttpClient admin = Admin();
  const HttpResponse r = admin.Get("/event-types");
  ASSERT_TRUE(IsJson(r, 200));
  EXPECT_TRUE(r.json.at("nextCursor").is_null());
  const json::array& types = r.json.at("data").as_array();
  ASSERT_EQ(types.size(), 12u);
  for (std::size_t i = 0; i < types.size(); ++i) {
    SCOPED_TRACE(EventTypeNames()[i]);
    const json::object& t = types[i].as_object();
    EXPECT_EQ(t.at("id"), json::value(i + 1));
    EXPECT_EQ(t.at("name"), json::value(EventTypeNames()[i]));
    ASSERT_TRUE(t.at("description").is_string());
    EXPECT_GT(t.at("description").as_string().size(), 10u);
    EXPECT_EQ(t.at("isInference"), json::value(IsInferenceType(i + 1)));
    ASSERT_TRUE(t.at("schema").is_object());
    EXPECT_FALSE(t.at("schema").as_object().empty());
    ASSERT_TRUE(t.at("sample").is_object());
    EXPECT_FALSE(t.at("sample").as_object().empty());
    ASSERT_TRUE(t.at("sampleHeaders").is_object());
    EXPECT_FALSE(t.at("sampleHeaders").as_object().empty());
    for (const auto& header : t.at("sampleHeaders").as_object()) {
      EXPECT_TRUE(header.value().is_string()) << header.key();
    }
  }
}

TEST_F(CatalogApiTest, SchemasAreDraft07) {
  HttpClient admin = Admin();
  const HttpResponse r = admin.Get("/event-types");
  ASSERT_TRUE(IsJson(r, 200));
  for (const auto& t : r.json.at("data").as_array()) {
    const json::value* schema = At(t, "/schema/$schema");
    ASSERT_NE(schema, nullptr) << t.at("name");
    ASSERT_TRUE(schema->is_string());
    EXPECT_NE(schema->as_string().find("draft-07"), std::string::npos) << *schema;
  }
}

TEST_F(CatalogApiTest, SamplesUseTheSeedsFieldNames) {
  HttpClient admin = Admin();
  const auto sample_text = [&](const std::string& name) {
    const HttpResponse r = admin.Get("/event-types/" + name);
    EXPECT_TRUE(IsJson(r, 200)) << name;
    return r.is_json ? json::serialize(r.json.at("sample")) : std::string();
  };
  const std::string observations = sample_text("InferenceToObservations");
  for (const char* field : {"\"fileId\"", "\"mimeType\"", "\"useCaseName\"", "\"prompts\"",
                            "\"promptId\"", "\"expectedOutputFormat\""}) {
    EXPECT_NE(observations.find(field), std::string::npos) << field;
  }
  EXPECT_NE(sample_text("HealthRecordCounter").find("\"count\""), std::string::npos);
  EXPECT_NE(sample_text("AssessmentResponseToWellbeingScore").find("\"assessmentResponseId\""),
            std::string::npos);
  EXPECT_NE(sample_text("InferenceToKeyFindings").find("\"inputData\""), std::string::npos);
}

TEST_F(CatalogApiTest, OneTypeByNameOrById) {
  HttpClient admin = Admin();
  const HttpResponse list = admin.Get("/event-types");
  ASSERT_TRUE(IsJson(list, 200));
  for (std::size_t i = 0; i < EventTypeNames().size(); ++i) {
    const HttpResponse by_name = admin.Get("/event-types/" + EventTypeNames()[i]);
    ASSERT_TRUE(IsJson(by_name, 200)) << EventTypeNames()[i];
    EXPECT_EQ(by_name.json, list.json.at("data").as_array()[i]);
    const HttpResponse by_id = admin.Get("/event-types/" + std::to_string(i + 1));
    ASSERT_TRUE(IsJson(by_id, 200)) << i + 1;
    EXPECT_EQ(by_id.json, by_name.json);
  }
}

TEST_F(CatalogApiTest, UnknownTypesAreNotFound) {
  HttpClient admin = Admin();
  for (const char* path : {"/event-types/NoSuchEvent", "/event-types/0", "/event-types/13",
                           "/event-types/opentele", "/event-types/-1"}) {
    EXPECT_TRUE(IsProblem(admin.Get(path), 404, "not-found")) << path;
  }
}

TEST_F(CatalogApiTest, NeedsAKeyOfAnyKind) {
  HttpClient anonymous = Anonymous();
  EXPECT_TRUE(IsProblem(anonymous.Get("/event-types"), 401, "unauthorized"));
  EXPECT_TRUE(IsProblem(anonymous.Get("/event-types/OpenTele"), 401, "unauthorized"));
  const std::string key = CreateOrgKey(9);
  ASSERT_FALSE(key.empty());
  HttpClient org = WithKey(key);
  const HttpResponse r = org.Get("/event-types");
  ASSERT_TRUE(IsJson(r, 200));
  EXPECT_EQ(r.json.at("data").as_array().size(), 12u);
}

}  // namespace
}  // namespace webhookd::itest
