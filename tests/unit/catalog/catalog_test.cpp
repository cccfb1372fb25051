#include "catalog/catalog.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace webhookd {
namespace {

constexpr std::array<std::string_view, 12> kSeedOrder = {
    "AppointmentToCareTaskActivityLog",
    "InferenceToObservations",
    "InferenceToKeyFindings",
    "AssessmentResponseToWellbeingScore",
    "BookAppointment",
    "InferenceToCareTasks",
    "HealthRecordCounter",
    "Notification",
    "HealthProgramActivated",
    "UploadedFileAndTest",
    "SurveyAssessment",
    "OpenTele",
};

const Catalog& catalog() { return Catalog::Builtin(); }

const EventType& Type(std::string_view name) {
  const EventType* type = catalog().Find(name);
  EXPECT_NE(type, nullptr) << name;
  return *type;
}

boost::json::value Sample(std::string_view name) {
  return boost::json::parse(Type(name).sample_json);
}

Status Check(std::string_view name, const boost::json::value& payload) {
  return catalog().Validate(Type(name), payload);
}

// Expects `payload` to be rejected for `name` at `field` with exactly `message`.
void ExpectRejected(std::string_view name, const boost::json::value& payload,
                    const std::string& field, const std::string& message) {
  const Status status = Check(name, payload);
  ASSERT_FALSE(status.ok()) << name << " accepted " << boost::json::serialize(payload);
  EXPECT_EQ(status.error().kind, ErrorKind::kInvalid);
  EXPECT_EQ(status.error().field, field);
  EXPECT_EQ(status.error().message, message);
}

TEST(CatalogTest, HoldsTheSeedsTwelveTypesInTheSeedsOrder) {
  const std::vector<EventType>& types = catalog().types();
  ASSERT_EQ(types.size(), kSeedOrder.size());
  for (std::size_t i = 0; i < types.size(); ++i) {
    EXPECT_EQ(types[i].id, static_cast<int>(i) + 1);
    EXPECT_EQ(types[i].name, kSeedOrder[i]);
    EXPECT_FALSE(types[i].description.empty()) << types[i].name;
  }
}

TEST(CatalogTest, DescriptionsAreTheSeeds) {
  EXPECT_EQ(Type("HealthRecordCounter").description,
            "Provides a count of health records for a patient.");
  EXPECT_EQ(
      Type("InferenceToObservations").description,
      "Parses uploaded PDF data, sends it to an LLM for inference, and returns observations.");
  EXPECT_EQ(Type("BookAppointment").description, "Triggers when a new appointment is booked.");
}

TEST(CatalogTest, FindsByIdAndByName) {
  ASSERT_NE(catalog().Find(5), nullptr);
  EXPECT_EQ(catalog().Find(5)->name, "BookAppointment");
  ASSERT_NE(catalog().Find("OpenTele"), nullptr);
  EXPECT_EQ(catalog().Find("OpenTele")->id, 12);
  for (int id = 1; id <= 12; ++id) {
    const EventType* by_id = catalog().Find(id);
    ASSERT_NE(by_id, nullptr) << id;
    EXPECT_EQ(catalog().Find(std::string_view(by_id->name)), by_id);
  }
}

TEST(CatalogTest, UnknownIdsAndNamesAreNotFound) {
  EXPECT_EQ(catalog().Find(0), nullptr);
  EXPECT_EQ(catalog().Find(13), nullptr);
  EXPECT_EQ(catalog().Find(-1), nullptr);
  EXPECT_EQ(catalog().Find("NoSuchEvent"), nullptr);
  EXPECT_EQ(catalog().Find("bookappointment"), nullptr);  // case-sensitive
  EXPECT_EQ(catalog().Find(""), nullptr);
}

TEST(CatalogTest, BuiltinIsOneInstance) { EXPECT_EQ(&Catalog::Builtin(), &Catalog::Builtin()); }

TEST(CatalogTest, OnlyTheThreeInferenceTypesAreInference) {
  std::set<std::string> inference;
  for (const EventType& type : catalog().types()) {
    if (type.is_inference) inference.insert(type.name);
  }
  EXPECT_EQ(inference, (std::set<std::string>{"InferenceToObservations", "InferenceToKeyFindings",
                                              "InferenceToCareTasks"}));
}

TEST(CatalogTest, EverySchemaIsADraft07ObjectSchema) {
  for (const EventType& type : catalog().types()) {
    SCOPED_TRACE(type.name);
    const boost::json::value schema = boost::json::parse(type.schema_json);
    EXPECT_EQ(schema.at("type"), "object");
    EXPECT_EQ(schema.at("$schema"), "http://json-schema.org/draft-07/schema#");
    EXPECT_FALSE(schema.at("required").as_array().empty());
  }
}

TEST(CatalogTest, EverySampleValidatesAgainstItsOwnSchema) {
  for (const EventType& type : catalog().types()) {
    const Status status = catalog().Validate(type, boost::json::parse(type.sample_json));
    EXPECT_TRUE(status.ok()) << type.name << ": " << status.error().field << ": "
                             << status.error().message;
  }
}

TEST(CatalogTest, SchemasUseTheSeedsFieldNames) {
  struct Expected {
    std::string_view type;
    std::string_view pointer;  // into the schema
  };
  const Expected expected[] = {
      {"InferenceToObservations", "/properties/fileId"},
      {"InferenceToObservations", "/properties/useCaseName"},
      {"InferenceToObservations", "/properties/model"},
      {"InferenceToObservations", "/properties/data"},
      {"InferenceToObservations", "/properties/prompts/items/properties/promptId"},
      {"InferenceToObservations", "/properties/prompts/items/properties/text"},
      {"InferenceToObservations", "/properties/prompts/items/properties/expectedOutputFormat"},
      {"InferenceToKeyFindings", "/properties/inputData"},
      {"InferenceToKeyFindings", "/properties/data/properties/carePlanId"},
      {"AssessmentResponseToWellbeingScore", "/properties/eventEntity"},
      {"AssessmentResponseToWellbeingScore", "/properties/assessmentResponseId"},
      {"BookAppointment", "/properties/locationType"},
      {"BookAppointment", "/properties/patient/properties/patientMobileNumber"},
      {"BookAppointment", "/properties/appointmentType/properties/durationInMinutes"},
      {"BookAppointment", "/properties/resources"},
      {"InferenceToCareTasks", "/properties/data/properties/keyFindings"},
      {"HealthRecordCounter", "/properties/count"},
      {"Notification", "/properties/data/properties/appointment/properties/openTeleRoom"},
      {"Notification", "/properties/data/properties/patientName"},
      {"HealthProgramActivated", "/properties/data/properties/duration"},
      {"HealthProgramActivated", "/properties/data/properties/providers"},
      {"UploadedFileAndTest", "/properties/data/properties/file/properties/cloudId"},
      {"SurveyAssessment",
       "/properties/data/properties/assessment/properties/assessmentQuestionnaireObject"},
      {"SurveyAssessment",
       "/properties/data/properties/assessment/properties/assessmentResponseObject"},
      {"SurveyAssessment",
       "/properties/data/properties/assessment/properties/assignedServiceProviders"},
      {"OpenTele", "/properties/data/properties/openTeleRoom"},
  };
  for (const Expected& e : expected) {
    const boost::json::value schema = boost::json::parse(Type(e.type).schema_json);
    boost::system::error_code ec;
    EXPECT_NE(schema.find_pointer(e.pointer, ec), nullptr) << e.type << " " << e.pointer;
  }
  const boost::json::value observations =
      boost::json::parse(Type("InferenceToObservations").schema_json);
  EXPECT_EQ(observations.at_pointer("/properties/mimeType/enum"),
            boost::json::parse(R"(["application/pdf"])"));
  EXPECT_EQ(observations.at_pointer("/properties/event/const"), "InferenceToObservations");
}

TEST(CatalogTest, EverySampleHeadersHasTheStandardWebhooksHeaders) {
  const std::set<std::string> with_api_key = {"InferenceToObservations", "InferenceToKeyFindings",
                                              "BookAppointment",         "InferenceToCareTasks",
                                              "UploadedFileAndTest",     "SurveyAssessment"};
  for (const EventType& type : catalog().types()) {
    SCOPED_TRACE(type.name);
    const boost::json::object headers = boost::json::parse(type.sample_headers_json).as_object();
    EXPECT_EQ(headers.at("content-type"), "application/json");
    EXPECT_EQ(headers.at("x-webhook-event"), type.name.c_str());

    const std::string id(headers.at("webhook-id").as_string());
    EXPECT_EQ(id.size(), 4u + 26u);
    EXPECT_TRUE(id.starts_with("evt_"));
    EXPECT_EQ(id.find_first_not_of("0123456789ABCDEFGHJKMNPQRSTVWXYZ", 4), std::string::npos);

    const std::string timestamp(headers.at("webhook-timestamp").as_string());
    EXPECT_FALSE(timestamp.empty());
    EXPECT_EQ(timestamp.find_first_not_of("0123456789"), std::string::npos);

    const std::string signature(headers.at("webhook-signature").as_string());
    EXPECT_TRUE(signature.starts_with("v1,"));
    EXPECT_EQ(signature.size(), 3u + 44u);  // base64 of an HMAC-SHA256

    const bool expects_key = with_api_key.contains(type.name);
    EXPECT_EQ(headers.contains("x-api-key"), expects_key);
    EXPECT_EQ(headers.contains("x-organization-code"), expects_key);
  }
}

TEST(CatalogValidateTest, MissingRequiredPropertyIsReportedAtItsObject) {
  boost::json::value payload = Sample("InferenceToObservations");
  payload.as_object().erase("fileId");
  ExpectRejected("InferenceToObservations", payload, "", "missing required property 'fileId'");
}

std::vector<std::pair<std::string, std::string>> ErrorsOf(const Status& status) {
  std::vector<std::pair<std::string, std::string>> out;
  if (status.ok()) return out;
  for (const FieldError& e : status.error().errors) out.emplace_back(e.field, e.message);
  return out;
}

// Every failure at once, in the order the schema is checked, without valijson's summaries of
// enclosing objects; the first one is also field and message.
TEST(CatalogValidateTest, EveryFailingLocationIsListedTheFirstBeingField) {
  const boost::json::value payload = boost::json::parse(
      R"({"id": true, "date": "June 20", "patient": {"firstName": 3}, "extra": 1})");
  const Status status = Check("BookAppointment", payload);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().field, "/date");
  EXPECT_EQ(status.error().message,
            "must match pattern ^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$");
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"/date", "must match pattern ^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"},
      {"/id", "expected type integer or string, got boolean"},
      {"/patient/firstName", "expected type string, got integer"},
      {"/patient", "missing required property 'lastName'"},
      {"/patient", "missing required property 'patientId'"},
      {"", "missing required property 'appointmentType'"},
      {"", "missing required property 'attributes'"},
      {"", "missing required property 'endTime'"},
      {"", "missing required property 'locationType'"},
      {"", "missing required property 'participants'"},
      {"", "missing required property 'resources'"},
      {"", "missing required property 'startTime'"},
      {"", "missing required property 'status'"},
  };
  EXPECT_EQ(ErrorsOf(status), expected);
}

TEST(CatalogValidateTest, AtMostTwentyFailuresAreListed) {
  boost::json::value payload = Sample("InferenceToObservations");
  boost::json::array prompts;
  for (int i = 0; i < 30; ++i) prompts.push_back(boost::json::object{});
  payload.at("prompts") = std::move(prompts);
  const Status status = Check("InferenceToObservations", payload);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().errors.size(), 20u);
  EXPECT_EQ(status.error().errors.front().field, status.error().field);
}

TEST(CatalogValidateTest, MissingNestedPropertyPointsIntoTheArray) {
  boost::json::value payload = Sample("InferenceToObservations");
  payload.at("prompts").at(0).as_object().erase("promptId");
  ExpectRejected("InferenceToObservations", payload, "/prompts/0",
                 "missing required property 'promptId'");
}

TEST(CatalogValidateTest, WrongTypeNamesTheExpectedAndTheActualType) {
  boost::json::value payload = Sample("HealthRecordCounter");
  payload.at("count") = "37";
  ExpectRejected("HealthRecordCounter", payload, "/count", "expected type integer, got string");
}

TEST(CatalogValidateTest, DeepWrongTypeIsReportedAtTheDeepestValue) {
  boost::json::value payload = Sample("SurveyAssessment");
  payload.at_pointer("/data/assessment/assignedServiceProviders/0/id") = true;
  ExpectRejected("SurveyAssessment", payload, "/data/assessment/assignedServiceProviders/0/id",
                 "expected type integer or string, got boolean");
}

TEST(CatalogValidateTest, NegativeCountBreaksTheMinimum) {
  boost::json::value payload = Sample("HealthRecordCounter");
  payload.at("count") = -1;
  ExpectRejected("HealthRecordCounter", payload, "/count", "must be >= 0");
}

TEST(CatalogValidateTest, UnsupportedMimeTypeListsTheAllowedOnes) {
  boost::json::value payload = Sample("InferenceToObservations");
  payload.at("mimeType") = "image/png";
  ExpectRejected("InferenceToObservations", payload, "/mimeType",
                 R"(must be one of ["application/pdf"])");
}

TEST(CatalogValidateTest, WrongEventMetadataNamesTheConstant) {
  boost::json::value payload = Sample("SurveyAssessment");
  payload.at("eventSubType") = "ASSESSMENT_STARTED";
  ExpectRejected("SurveyAssessment", payload, "/eventSubType",
                 R"(must equal "ASSESSMENT_COMPLETED")");
}

TEST(CatalogValidateTest, MalformedDateNamesThePattern) {
  boost::json::value payload = Sample("BookAppointment");
  payload.at("date") = "20/06/2024";
  const Status status = Check("BookAppointment", payload);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().field, "/date");
  EXPECT_TRUE(status.error().message.starts_with("must match pattern ^[0-9]{4}-"))
      << status.error().message;
}

TEST(CatalogValidateTest, EmptyPromptsBreakMinItems) {
  boost::json::value payload = Sample("InferenceToKeyFindings");
  payload.at("prompts").as_array().clear();
  ExpectRejected("InferenceToKeyFindings", payload, "/prompts", "must have at least 1 items");
}

TEST(CatalogValidateTest, NonObjectPayloadIsRejectedAtTheRoot) {
  ExpectRejected("HealthRecordCounter", boost::json::parse("[1, 2]"), "",
                 "expected type object, got array");
  ExpectRejected("HealthRecordCounter", boost::json::parse("null"), "",
                 "expected type object, got null");
}

TEST(CatalogValidateTest, AdditionalPropertiesAreAllowed) {
  boost::json::value payload = Sample("HealthRecordCounter");
  payload.as_object()["recordTypes"] = boost::json::parse(R"(["LAB", "IMAGING"])");
  EXPECT_TRUE(Check("HealthRecordCounter", payload).ok());
}

TEST(CatalogValidateTest, AnotherTypesSampleIsRejected) {
  // valijson checks "properties" before "required", so the first failure is eventName.
  ExpectRejected("HealthRecordCounter", Sample("OpenTele"), "/eventName",
                 R"(must equal "HealthRecordCounter")");
}

// A type the catalog did not prepare has no compiled schema to validate with.
TEST(CatalogValidateTest, TypeFromOutsideTheCatalogIsAnInternalError) {
  EventType stranger = Type("OpenTele");
  stranger.name = "NotOpenTele";
  stranger.compiled = nullptr;
  const Status status = catalog().Validate(stranger, Sample("OpenTele"));
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().kind, ErrorKind::kInternal);
}

TEST(CatalogValidateTest, ConcurrentValidationGivesTheSameResults) {
  std::vector<std::pair<const EventType*, boost::json::value>> cases;
  // types() answers copies; Find's pointers are the catalog's own, valid for its lifetime.
  for (const EventType& copy : catalog().types()) {
    const EventType* type = catalog().Find(copy.id);
    cases.emplace_back(type, boost::json::parse(type->sample_json));
    boost::json::value broken = boost::json::parse(type->sample_json);
    const boost::json::value schema = boost::json::parse(type->schema_json);
    broken.as_object().erase(schema.at("required").at(0).as_string());
    cases.emplace_back(type, std::move(broken));
    cases.emplace_back(type, boost::json::value(42));
  }
  auto run_all = [&cases] {
    std::vector<std::string> outcomes;
    for (const auto& [type, payload] : cases) {
      const Status status = catalog().Validate(*type, payload);
      outcomes.push_back(status.ok() ? "ok" : status.error().field + "|" + status.error().message);
    }
    return outcomes;
  };
  const std::vector<std::string> expected = run_all();
  EXPECT_EQ(std::count(expected.begin(), expected.end(), "ok"), 12);

  constexpr int kThreads = 4;
  constexpr int kRounds = 25;
  std::vector<std::vector<std::vector<std::string>>> seen(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&seen, &run_all, t] {
      for (int round = 0; round < kRounds; ++round) seen[t].push_back(run_all());
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (const auto& rounds : seen) {
    ASSERT_EQ(rounds.size(), static_cast<std::size_t>(kRounds));
    for (const auto& outcomes : rounds) EXPECT_EQ(outcomes, expected);
  }
}

TEST(ValidateAgainstSchemaTest, EscapesSlashAndTildeInPointers) {
  const boost::json::value schema = boost::json::parse(R"({
    "type": "object",
    "properties": {
      "a/b": {"type": "integer"},
      "m~n": {"type": "object", "required": ["x"]},
      "[odd]": {"type": "string"}
    }
  })");
  Status status = ValidateAgainstSchema(schema, boost::json::parse(R"({"a/b": "one"})"));
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().field, "/a~1b");
  EXPECT_EQ(status.error().message, "expected type integer, got string");

  status = ValidateAgainstSchema(schema, boost::json::parse(R"({"m~n": {}})"));
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().field, "/m~0n");
  EXPECT_EQ(status.error().message, "missing required property 'x'");

  status = ValidateAgainstSchema(schema, boost::json::parse(R"({"[odd]": 1})"));
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().field, "/[odd]");
}

TEST(ValidateAgainstSchemaTest, FollowsLocalReferencesForMessages) {
  const boost::json::value schema = boost::json::parse(R"({
    "type": "object",
    "definitions": {"size": {"type": "integer", "maximum": 10}},
    "properties": {"sizes": {"type": "array", "items": {"$ref": "#/definitions/size"}}}
  })");
  const Status status =
      ValidateAgainstSchema(schema, boost::json::parse(R"({"sizes": [1, 2, 11]})"));
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().field, "/sizes/2");
  EXPECT_EQ(status.error().message, "must be <= 10");
}

TEST(ValidateAgainstSchemaTest, UnknownPropertyPointsAtTheProperty) {
  const boost::json::value schema = boost::json::parse(
      R"({"type": "object", "properties": {"a": {}}, "additionalProperties": false})");
  const Status status = ValidateAgainstSchema(schema, boost::json::parse(R"({"a": 1, "zz": 2})"));
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().field, "/zz");
  EXPECT_EQ(status.error().message, "unknown property 'zz'");
}

TEST(ValidateAgainstSchemaTest, InvalidSchemasAreRejectedNotFatal) {
  Status status = ValidateAgainstSchema(boost::json::parse(R"({"pattern": "(unclosed"})"),
                                        boost::json::value("x"));
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().kind, ErrorKind::kInvalid);
  EXPECT_EQ(status.error().message, "invalid regular expression in pattern: (unclosed");

  status =
      ValidateAgainstSchema(boost::json::parse(R"({"type": "color"})"), boost::json::value("x"));
  ASSERT_FALSE(status.ok());
  EXPECT_TRUE(status.error().message.starts_with("invalid JSON Schema: "))
      << status.error().message;

  status = ValidateAgainstSchema(boost::json::value(3), boost::json::value("x"));
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().message, "a JSON Schema must be an object or a boolean");
}

}  // namespace
}  // namespace webhookd

namespace webhookd {
namespace {

EventType Definition(int id, int version, std::string schema, std::string sample) {
  EventType type;
  type.id = id;
  type.name = "VitalSignRecorded";
  type.version = version;
  type.schema_json = std::move(schema);
  type.sample_json = std::move(sample);
  type.sample_headers_json = "{}";
  return type;
}

TEST(CatalogVersionsTest, PrepareNamesTheFailingPartOfADefinition) {
  Result<EventType> bad_pattern = Catalog::Prepare(
      Definition(13, 1, R"({"properties":{"unit":{"type":"string","pattern":"([a-z"}}})", "{}"));
  ASSERT_FALSE(bad_pattern.ok());
  EXPECT_EQ(bad_pattern.error().field, "/schema");
  EXPECT_EQ(bad_pattern.error().message, "invalid regular expression in pattern: ([a-z");

  Result<EventType> bad_sample = Catalog::Prepare(Definition(
      13, 1, R"({"properties":{"value":{"type":"integer","minimum":0}}})", R"({"value":-1})"));
  ASSERT_FALSE(bad_sample.ok());
  EXPECT_EQ(bad_sample.error().field, "/sample/value");
  EXPECT_EQ(bad_sample.error().message, "sample does not match the schema: must be >= 0");
}

TEST(CatalogVersionsTest, TheNewestVersionValidatesAndOlderOnesStayReadable) {
  Catalog catalog;
  Result<EventType> first =
      Catalog::Prepare(Definition(13, 1, R"({"required":["value"]})", R"({"value":1})"));
  ASSERT_TRUE(first.ok()) << first.error().message;
  catalog.Install(*first);
  const EventType* v1 = catalog.Find("VitalSignRecorded");
  ASSERT_NE(v1, nullptr);
  EXPECT_EQ(v1->id, 13);
  EXPECT_EQ(catalog.types().size(), 13u);

  Result<EventType> second = Catalog::Prepare(
      Definition(13, 2, R"({"required":["value","unit"]})", R"({"value":1,"unit":"bpm"})"));
  ASSERT_TRUE(second.ok()) << second.error().message;
  catalog.Install(*second);
  catalog.Install(*first);  // installing a known version again changes nothing
  const EventType* current = catalog.Find(13);
  ASSERT_NE(current, nullptr);
  EXPECT_EQ(current->version, 2);
  EXPECT_FALSE(catalog.Validate(*current, boost::json::parse(R"({"value":1})")).ok());
  EXPECT_TRUE(catalog.Validate(*v1, boost::json::parse(R"({"value":1})")).ok());  // still valid
  ASSERT_EQ(catalog.Versions(13).size(), 2u);
  EXPECT_EQ(catalog.FindVersion(13, 1), v1);

  catalog.SetArchived(13, true);
  EXPECT_TRUE(catalog.Find(13)->archived);
  EXPECT_EQ(catalog.Find(13)->version, 2);
  EXPECT_FALSE(Catalog::Builtin().Find(13));
}

}  // namespace
}  // namespace webhookd
