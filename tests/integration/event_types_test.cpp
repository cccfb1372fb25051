// Event types as data (issue 11, docs/event-types.md): types created, changed (new versions) and
// archived through the API, used for configurations, ingestion and delivery, on both backends.
#include "delivery_support.hpp"

namespace webhookd::itest {
namespace {

// A small type: a vital sign with an integer value and an optional unit.
json::object VitalSignSchema() {
  return json::parse(R"({
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "required": ["eventName", "patientId", "value"],
    "properties": {
      "eventName": {"const": "VitalSignRecorded"},
      "patientId": {"type": ["integer", "string"]},
      "value": {"type": "integer", "minimum": 0},
      "unit": {"type": "string", "pattern": "^[a-zA-Z/%]+$"}
    }})")
      .as_object();
}

json::object VitalSign(std::int64_t value) {
  return {{"eventName", "VitalSignRecorded"}, {"patientId", 90417}, {"value", value}};
}

json::object NewTypeBody() {
  return {{"name", "VitalSignRecorded"},
          {"description", "A vital sign was recorded for a patient."},
          {"schema", VitalSignSchema()},
          {"sample", VitalSign(72)}};
}

class EventTypesTest : public DeliveryTest {
 protected:
  json::object CreateType(HttpClient& admin, const json::object& body) {
    const HttpResponse created = admin.Post("/event-types", body);
    EXPECT_TRUE(IsJson(created, 201)) << created.Summary();
    return created.is_json ? created.json.as_object() : json::object{};
  }

  // A configuration of organization 1 for `event_name` at `url`.
  json::object Subscribe(HttpClient& admin, std::string_view event_name, const std::string& url) {
    return CreateConfig(admin, HookBody(1, event_name, url));
  }

  // The version an accepted event recorded (GET /events/{id}).
  static json::value RecordedVersion(HttpClient& admin, const HttpResponse& accepted) {
    const HttpResponse event =
        admin.Get("/events/" + std::string(accepted.json.at("id").as_string()));
    EXPECT_TRUE(IsJson(event, 200));
    return event.is_json ? event.json.at("eventTypeVersion") : json::value();
  }
};

TEST_F(EventTypesTest, ANewTypeIsSubscribedValidatedAndDeliveredUnderItsName) {
  HttpClient admin = Admin();
  const json::object type = CreateType(admin, NewTypeBody());
  ASSERT_FALSE(type.empty());
  EXPECT_EQ(type.at("id"), json::value(13));  // the next free number above the 12 built-in
  EXPECT_EQ(type.at("version"), json::value(1));
  EXPECT_EQ(type.at("builtin"), json::value(false));
  EXPECT_EQ(type.at("archived"), json::value(false));
  EXPECT_EQ(type.at("isInference"), json::value(false));
  EXPECT_EQ(type.at("schema"), json::value(VitalSignSchema()));
  ASSERT_NE(At(type, "/sampleHeaders/x-webhook-event"), nullptr);
  EXPECT_EQ(*At(type, "/sampleHeaders/x-webhook-event"), json::value("VitalSignRecorded"));

  const HttpResponse listed = admin.Get("/event-types");
  ASSERT_TRUE(IsJson(listed, 200));
  ASSERT_EQ(listed.json.at("data").as_array().size(), 13u);
  EXPECT_EQ(listed.json.at("data").as_array()[12], json::value(type));
  const HttpResponse by_id = admin.Get("/event-types/13");
  ASSERT_TRUE(IsJson(by_id, 200));
  EXPECT_EQ(by_id.json, json::value(type));

  HttpReceiver receiver;
  const json::object config = Subscribe(admin, "VitalSignRecorded", receiver.Url("/vitals"));
  ASSERT_FALSE(config.empty());
  EXPECT_EQ(config.at("webhookEventId"), json::value(13));

  const HttpResponse invalid = PostEvent(admin, "VitalSignRecorded", 1, VitalSign(-5));
  EXPECT_TRUE(IsProblem(invalid, 400, "invalid-request", "/payload/value"));
  EXPECT_NE(invalid.json.at("detail").as_string().find("VitalSignRecorded schema: must be >= 0"),
            std::string::npos)
      << invalid.Summary();
  json::object bad_unit = VitalSign(80);
  bad_unit["unit"] = "beats per minute";
  EXPECT_TRUE(IsProblem(PostEvent(admin, "VitalSignRecorded", 1, bad_unit), 400, "invalid-request",
                        "/payload/unit"));

  const HttpResponse accepted = PostEvent(admin, "VitalSignRecorded", 1, VitalSign(80));
  ASSERT_TRUE(IsJson(accepted, 202));
  EXPECT_EQ(accepted.json.at("eventName"), json::value("VitalSignRecorded"));
  const std::string delivery_id = AcceptedDeliveries(accepted).at(IdOf(config));
  WaitForStatus(admin, delivery_id, "succeeded", 10s);
  ASSERT_EQ(receiver.Count(), 1u);
  const ReceivedRequest request = receiver.Requests()[0];
  EXPECT_EQ(request.Header("x-webhook-event"), "VitalSignRecorded");
  EXPECT_EQ(json::parse(request.body), json::value(VitalSign(80)));
  EXPECT_EQ(RecordedVersion(admin, accepted), json::value(1));
}

TEST_F(EventTypesTest, AChangedSchemaIsANewVersionThatNewEventsMustPass) {
  HttpClient admin = Admin();
  ASSERT_FALSE(CreateType(admin, NewTypeBody()).empty());
  json::object schema = VitalSignSchema();
  schema["required"].as_array().push_back("unit");
  json::object sample = VitalSign(72);
  sample["unit"] = "bpm";

  // The stored sample must pass the new schema.
  const HttpResponse sample_fails =
      admin.Patch("/event-types/VitalSignRecorded", json::object{{"schema", schema}});
  EXPECT_TRUE(IsProblem(sample_fails, 400, "invalid-request", "/sample"));
  EXPECT_NE(sample_fails.json.at("detail").as_string().find("missing required property 'unit'"),
            std::string::npos)
      << sample_fails.Summary();

  const HttpResponse changed = admin.Patch("/event-types/VitalSignRecorded",
                                           json::object{{"schema", schema}, {"sample", sample}});
  ASSERT_TRUE(IsJson(changed, 200));
  EXPECT_EQ(changed.json.at("version"), json::value(2));
  EXPECT_EQ(changed.json.at("schema"), json::value(schema));
  EXPECT_EQ(changed.json.at("description"),
            json::value("A vital sign was recorded for a patient."));
  // Nothing new: no new version.
  const HttpResponse same =
      admin.Patch("/event-types/VitalSignRecorded", json::object{{"schema", schema}});
  ASSERT_TRUE(IsJson(same, 200));
  EXPECT_EQ(same.json.at("version"), json::value(2));

  const HttpResponse versions = admin.Get("/event-types/VitalSignRecorded/versions");
  ASSERT_TRUE(IsJson(versions, 200));
  ASSERT_EQ(versions.json.at("data").as_array().size(), 2u);
  EXPECT_EQ(*At(versions.json, "/data/0/version"), json::value(1));
  EXPECT_EQ(*At(versions.json, "/data/0/schema"), json::value(VitalSignSchema()));
  const HttpResponse first = admin.Get("/event-types/VitalSignRecorded/versions/1");
  ASSERT_TRUE(IsJson(first, 200));
  EXPECT_EQ(first.json.at("sample"), json::value(VitalSign(72)));
  EXPECT_TRUE(IsProblem(admin.Get("/event-types/VitalSignRecorded/versions/3"), 404, "not-found"));

  EXPECT_TRUE(IsProblem(PostEvent(admin, "VitalSignRecorded", 1, VitalSign(70)), 400,
                        "invalid-request", "/payload"));
  const HttpResponse accepted = PostEvent(admin, "VitalSignRecorded", 1, sample);
  ASSERT_TRUE(IsJson(accepted, 202));
  EXPECT_EQ(RecordedVersion(admin, accepted), json::value(2));

  // PUT replaces the definition; the identity may be repeated, not changed.
  json::object replaced = NewTypeBody();
  replaced["description"] = "Replaced.";
  const HttpResponse put = admin.Put("/event-types/VitalSignRecorded", replaced);
  ASSERT_TRUE(IsJson(put, 200));
  EXPECT_EQ(put.json.at("version"), json::value(3));
  EXPECT_EQ(put.json.at("schema"), json::value(VitalSignSchema()));
  replaced["isInference"] = true;
  EXPECT_TRUE(IsProblem(admin.Put("/event-types/VitalSignRecorded", replaced), 400,
                        "invalid-request", "/isInference"));
}

TEST_F(EventTypesTest, BuiltInTypesGetNewVersionsButCannotBeDeleted) {
  HttpClient admin = Admin();
  const HttpResponse deleted = admin.Delete("/event-types/BookAppointment");
  EXPECT_TRUE(IsProblem(deleted, 409, "conflict"));
  EXPECT_NE(deleted.json.at("detail").as_string().find("built-in"), std::string::npos);

  const HttpResponse before = admin.Get("/event-types/HealthRecordCounter");
  ASSERT_TRUE(IsJson(before, 200));
  EXPECT_EQ(before.json.at("version"), json::value(1));
  EXPECT_EQ(before.json.at("builtin"), json::value(true));
  const HttpResponse changed = admin.Patch("/event-types/HealthRecordCounter",
                                           json::object{{"description", "Counts records."}});
  ASSERT_TRUE(IsJson(changed, 200));
  EXPECT_EQ(changed.json.at("version"), json::value(2));
  EXPECT_EQ(changed.json.at("builtin"), json::value(true));
  EXPECT_EQ(changed.json.at("schema"), before.json.at("schema"));
  EXPECT_EQ(changed.json.at("sampleHeaders"), before.json.at("sampleHeaders"));
  const HttpResponse accepted =
      PostEvent(admin, "HealthRecordCounter", 1, before.json.at("sample"));
  ASSERT_TRUE(IsJson(accepted, 202));
  EXPECT_EQ(RecordedVersion(admin, accepted), json::value(2));
}

TEST_F(EventTypesTest, BadDefinitionsAreRefusedNamingTheFieldAndStoreNothing) {
  HttpClient admin = Admin();
  json::object body = NewTypeBody();
  body["name"] = "vital sign";
  EXPECT_TRUE(IsProblem(admin.Post("/event-types", body), 400, "invalid-request", "/name"));

  body = NewTypeBody();
  body["schema"].as_object()["properties"].as_object()["value"] = json::object{{"type", 5}};
  const HttpResponse bad_schema = admin.Post("/event-types", body);
  EXPECT_TRUE(IsProblem(bad_schema, 400, "invalid-request"));
  ASSERT_NE(At(bad_schema.json, "/field"), nullptr) << bad_schema.Summary();
  EXPECT_TRUE(bad_schema.json.at("field").as_string().starts_with("/schema"));

  body = NewTypeBody();
  body["schema"].as_object()["properties"].as_object()["unit"].as_object()["pattern"] = "([a-z";
  const HttpResponse bad_pattern = admin.Post("/event-types", body);
  EXPECT_TRUE(IsProblem(bad_pattern, 400, "invalid-request", "/schema"));
  EXPECT_NE(bad_pattern.json.at("detail").as_string().find("invalid regular expression"),
            std::string::npos);

  body = NewTypeBody();
  body["sample"] = VitalSign(-1);
  const HttpResponse bad_sample = admin.Post("/event-types", body);
  EXPECT_TRUE(IsProblem(bad_sample, 400, "invalid-request", "/sample/value"));
  EXPECT_NE(bad_sample.json.at("detail").as_string().find("sample does not match the schema"),
            std::string::npos);

  body = NewTypeBody();
  body["name"] = "BookAppointment";
  EXPECT_TRUE(IsProblem(admin.Post("/event-types", body), 409, "conflict"));
  body = NewTypeBody();
  body["webhookEventId"] = 5;
  EXPECT_TRUE(IsProblem(admin.Post("/event-types", body), 409, "conflict"));
  body = NewTypeBody();
  body.erase("schema");
  EXPECT_TRUE(IsProblem(admin.Post("/event-types", body), 400, "invalid-request", "/schema"));

  const HttpResponse listed = admin.Get("/event-types");
  ASSERT_TRUE(IsJson(listed, 200));
  EXPECT_EQ(listed.json.at("data").as_array().size(), 12u);
}

TEST_F(EventTypesTest, AnArchivedTypeTakesNothingNewButAcceptedDeliveriesGoOut) {
  HttpClient admin = Admin();
  json::object body = NewTypeBody();
  body["webhookEventId"] = 40;
  ASSERT_EQ(CreateType(admin, body).at("id"), json::value(40));
  HttpReceiver receiver(Sequence({Answer(503), Answer(200)}));
  const json::object config = Subscribe(admin, "VitalSignRecorded", receiver.Url("/vitals"));
  const HttpResponse accepted = PostEvent(admin, "VitalSignRecorded", 1, VitalSign(80));
  ASSERT_TRUE(IsJson(accepted, 202));
  const std::string delivery_id = AcceptedDeliveries(accepted).at(IdOf(config));
  WaitForAttempts(admin, delivery_id, 1, 10s);  // failed once, retried in 1 s

  const HttpResponse archived = admin.Delete("/event-types/VitalSignRecorded");
  ASSERT_EQ(archived.status, 204) << archived.Summary();
  const HttpResponse shown = admin.Get("/event-types/VitalSignRecorded");
  ASSERT_TRUE(IsJson(shown, 200));
  EXPECT_EQ(shown.json.at("archived"), json::value(true));

  const HttpResponse refused_event = PostEvent(admin, "VitalSignRecorded", 1, VitalSign(81));
  EXPECT_TRUE(IsProblem(refused_event, 400, "invalid-request", "/eventName"));
  EXPECT_NE(refused_event.json.at("detail").as_string().find("VitalSignRecorded is archived"),
            std::string::npos)
      << refused_event.Summary();
  const HttpResponse refused_config =
      admin.Post("/external-events/", HookBody(1, "VitalSignRecorded", receiver.Url("/more")));
  EXPECT_TRUE(IsProblem(refused_config, 400, "invalid-request", "/eventName"));
  json::object by_id = HookBody(1, "VitalSignRecorded", receiver.Url("/more"));
  by_id.erase("eventName");
  by_id["webhookEventId"] = 40;
  EXPECT_TRUE(
      IsProblem(admin.Post("/external-events/", by_id), 400, "invalid-request", "/webhookEventId"));
  EXPECT_TRUE(IsProblem(admin.Delete("/event-types/VitalSignRecorded"), 409, "conflict"));

  const json::object delivered = WaitForStatus(admin, delivery_id, "succeeded", 10s);
  EXPECT_EQ(delivered.at("status"), json::value("succeeded"));
  ASSERT_EQ(receiver.Count(), 2u);
  EXPECT_EQ(receiver.Requests()[1].Header("x-webhook-event"), "VitalSignRecorded");
}

TEST_F(EventTypesTest, OrganizationKeysReadTheCatalogButCannotChangeIt) {
  HttpClient admin = Admin();
  ASSERT_FALSE(CreateType(admin, NewTypeBody()).empty());
  HttpClient org = WithKey(CreateOrgKey(1));
  EXPECT_TRUE(IsJson(org.Get("/event-types/VitalSignRecorded"), 200));
  EXPECT_TRUE(IsJson(org.Get("/event-types/VitalSignRecorded/versions/1"), 200));
  json::object other = NewTypeBody();
  other["name"] = "Other";
  EXPECT_TRUE(IsProblem(org.Post("/event-types", other), 403, "forbidden"));
  EXPECT_TRUE(
      IsProblem(org.Patch("/event-types/VitalSignRecorded", json::object{{"description", "mine"}}),
                403, "forbidden"));
  EXPECT_TRUE(
      IsProblem(org.Put("/event-types/VitalSignRecorded", NewTypeBody()), 403, "forbidden"));
  EXPECT_TRUE(IsProblem(org.Delete("/event-types/VitalSignRecorded"), 403, "forbidden"));

  const HttpResponse unchanged = admin.Get("/event-types/VitalSignRecorded");
  ASSERT_TRUE(IsJson(unchanged, 200));
  EXPECT_EQ(unchanged.json.at("version"), json::value(1));
  EXPECT_EQ(unchanged.json.at("archived"), json::value(false));
  EXPECT_EQ(admin.Get("/event-types").json.at("data").as_array().size(), 13u);
}

TEST_F(EventTypesTest, ARestartKeepsTypesVersionsArchivesAndRecordedVersions) {
  HttpClient admin = Admin();
  ASSERT_FALSE(CreateType(admin, NewTypeBody()).empty());
  json::object archived_body = NewTypeBody();
  archived_body["name"] = "Retired";
  archived_body["schema"].as_object().erase("properties");
  ASSERT_FALSE(CreateType(admin, archived_body).empty());
  ASSERT_EQ(admin.Delete("/event-types/Retired").status, 204);
  ASSERT_TRUE(IsJson(
      admin.Patch("/event-types/VitalSignRecorded", json::object{{"description", "Second."}}),
      200));
  ASSERT_TRUE(IsJson(
      admin.Patch("/event-types/Notification", json::object{{"description", "Changed built-in."}}),
      200));
  const HttpResponse accepted = PostEvent(admin, "VitalSignRecorded", 1, VitalSign(60));
  ASSERT_TRUE(IsJson(accepted, 202));
  const HttpResponse before = admin.Get("/event-types");
  ASSERT_TRUE(IsJson(before, 200));

  RestartServer();
  HttpClient again = Admin();
  const HttpResponse after = again.Get("/event-types");
  ASSERT_TRUE(IsJson(after, 200));
  EXPECT_EQ(after.json, before.json);
  const HttpResponse versions = again.Get("/event-types/VitalSignRecorded/versions");
  ASSERT_TRUE(IsJson(versions, 200));
  EXPECT_EQ(versions.json.at("data").as_array().size(), 2u);
  EXPECT_EQ(RecordedVersion(again, accepted), json::value(2));
  EXPECT_TRUE(IsProblem(PostEvent(again, "Retired", 1, json::object{}), 400, "invalid-request",
                        "/eventName"));
  EXPECT_TRUE(IsJson(PostEvent(again, "VitalSignRecorded", 1, VitalSign(61)), 202));
}

}  // namespace
}  // namespace webhookd::itest
