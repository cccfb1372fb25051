// The audit log (issue 14, section 2): who changed what and who read patient data, seen through
// GET /audit-log on the real server, on both backends.
#include <set>

#include "delivery_support.hpp"

namespace webhookd::itest {
namespace {

constexpr std::int64_t kClinic = 1;
constexpr std::int64_t kOtherClinic = 2;

class AuditLogTest : public DeliveryTest {
 protected:
  void SetUp() override {
    DeliveryTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    receiver_ = std::make_unique<HttpReceiver>(
        [](const ReceivedRequest&) { return Answer(200, R"({"observations":[]})"); });
  }

  // The id of the active key named `name` (GET /api-keys as admin); 0 if there is none.
  std::int64_t KeyId(std::string_view name) {
    const HttpResponse keys = Admin().Get("/api-keys");
    EXPECT_TRUE(IsJson(keys, 200));
    for (const json::value& key : keys.json.at("data").as_array()) {
      if (key.at("name") == json::value(name)) return key.at("id").to_number<std::int64_t>();
    }
    ADD_FAILURE() << "no key named " << name;
    return 0;
  }

  // Posts a BookAppointment event of `organization` to a fresh configuration and waits for its
  // delivery to succeed; returns the event's id, and the configuration's in `config_id`.
  std::string DeliveredEvent(HttpClient& admin, std::int64_t organization,
                             std::int64_t* config_id = nullptr) {
    const json::object config =
        CreateConfig(admin, HookBody(organization, "BookAppointment", receiver_->Url("/hook")));
    if (config_id != nullptr && !config.empty()) *config_id = IdOf(config);
    const HttpResponse accepted =
        PostEvent(admin, "BookAppointment", organization, Appointment(admin, organization));
    EXPECT_TRUE(IsJson(accepted, 202));
    if (HasFailure()) return "";
    const std::string delivery_id = AcceptedDeliveries(accepted).at(IdOf(config));
    EXPECT_EQ(WaitForStatus(admin, delivery_id, "succeeded", 10s).at("status"), "succeeded");
    return std::string(accepted.json.at("id").as_string());
  }

  // Every entry GET /audit-log{query} shows `client`, following nextCursor.
  static json::array Entries(HttpClient& client, const std::string& query = "") {
    json::array all;
    std::string cursor;
    do {
      std::string path = "/audit-log?limit=2" + query;
      if (!cursor.empty()) path += "&cursor=" + cursor;
      const HttpResponse page = client.Get(path);
      EXPECT_TRUE(IsJson(page, 200)) << path;
      if (!page.is_json) break;
      for (const json::value& entry : page.json.at("data").as_array()) all.push_back(entry);
      const json::value& next = page.json.at("nextCursor");
      cursor = next.is_null() ? "" : std::string(next.as_string());
    } while (!cursor.empty());
    return all;
  }

  std::unique_ptr<HttpReceiver> receiver_;
};

TEST_F(AuditLogTest, AReadOfAPayloadIsRecordedWithTheKeyItsOrganizationAndTheAddress) {
  HttpClient admin = Admin();
  const std::string event_id = DeliveredEvent(admin, kClinic);
  ASSERT_FALSE(HasFailure());
  const std::string key = CreateOrgKey(kClinic, "front desk reader");
  const std::int64_t key_id = KeyId("front desk reader");
  HttpClient reader = WithKey(key);
  ASSERT_TRUE(IsJson(reader.Get("/events/" + event_id), 200));

  const json::array entries = Entries(admin, "&objectId=" + event_id);
  ASSERT_EQ(entries.size(), 1u) << json::serialize(entries);
  const json::value& entry = entries[0];
  EXPECT_EQ(entry.at("method"), "GET");
  EXPECT_EQ(entry.at("route"), "/events/{id}");
  EXPECT_EQ(entry.at("objectId"), json::value(event_id));
  EXPECT_EQ(entry.at("keyId"), json::value(key_id));
  EXPECT_EQ(entry.at("keyName"), "front desk reader");
  EXPECT_EQ(entry.at("organizationId"), json::value(kClinic));
  EXPECT_EQ(entry.at("address"), "127.0.0.1");
  EXPECT_EQ(entry.at("status"), json::value(200));
  EXPECT_TRUE(ParseRfc3339(entry.at("at").as_string()).has_value()) << entry;

  const json::array everything = Entries(admin);
  const std::string all_text = json::serialize(everything);
  EXPECT_EQ(all_text.find(key), std::string::npos) << "the key itself is in the audit log";
  for (const json::value& e : everything) {
    EXPECT_NE(e.at("route"), "/events") << "ingestion was recorded: " << e;
  }
}

TEST_F(AuditLogTest, ChangesAndOtherReadsOfPatientDataAreRecordedReadsOfListsAreNot) {
  HttpClient admin = Admin();
  std::int64_t config_id = 0;
  const std::string event_id = DeliveredEvent(admin, kClinic, &config_id);
  ASSERT_FALSE(HasFailure());
  const HttpResponse deliveries = admin.Get("/deliveries?eventId=" + event_id);
  ASSERT_TRUE(IsJson(deliveries, 200));
  const std::string delivery_id(deliveries.json.at("data").at(0).at("id").as_string());
  ASSERT_TRUE(IsJson(admin.Get("/events/" + event_id + "/result"), 200));
  ASSERT_TRUE(IsJson(admin.Get("/deliveries/" + delivery_id + "/attempts"), 200));
  ASSERT_TRUE(IsJson(admin.Request("POST", "/deliveries/" + delivery_id + "/retry"), 202));
  ASSERT_TRUE(IsJson(
      admin.Put("/organizations/1/settings", json::object{{"payloadRetention", "30d"}}), 200));
  ASSERT_TRUE(IsJson(admin.Get("/external-events/"), 200));

  std::set<std::string> recorded;
  for (const json::value& e : Entries(admin)) {
    recorded.insert(std::string(e.at("method").as_string()) + " " +
                    std::string(e.at("route").as_string()) + " " +
                    (e.at("objectId").is_null() ? "-" : std::string(e.at("objectId").as_string())));
    EXPECT_EQ(e.at("organizationId"), json::value(kClinic)) << e;
  }
  for (const std::string& expected : std::vector<std::string>{
           "POST /external-events " + std::to_string(config_id),
           "GET /events/{id}/result " + event_id,
           "GET /deliveries/{id}/attempts " + delivery_id,
           "POST /deliveries/{id}/retry " + delivery_id,
           "PUT /organizations/{id}/settings 1",
       }) {
    EXPECT_TRUE(recorded.contains(expected)) << expected << " is not in the audit log";
  }
  EXPECT_EQ(recorded.size(), 5u) << "lists or ingestion were recorded";
}

TEST_F(AuditLogTest, AnOrganizationKeySeesOnlyItsOrganizationsEntries) {
  HttpClient admin = Admin();
  const std::string clinic_event = DeliveredEvent(admin, kClinic);
  const std::string other_event = DeliveredEvent(admin, kOtherClinic);
  ASSERT_FALSE(HasFailure());
  HttpClient clinic = WithKey(CreateOrgKey(kClinic, "clinic"));
  HttpClient other = WithKey(CreateOrgKey(kOtherClinic, "other clinic"));
  ASSERT_TRUE(IsJson(clinic.Get("/events/" + clinic_event), 200));
  ASSERT_TRUE(IsJson(other.Get("/events/" + other_event), 200));
  ASSERT_TRUE(IsProblem(clinic.Get("/events/" + other_event), 404, "not-found"));

  const json::array seen = Entries(clinic);
  ASSERT_FALSE(seen.empty());
  bool saw_own_read = false;
  for (const json::value& e : seen) {
    EXPECT_EQ(e.at("organizationId"), json::value(kClinic)) << e;
    saw_own_read = saw_own_read || e.at("objectId") == json::value(clinic_event);
  }
  EXPECT_TRUE(saw_own_read);
  EXPECT_TRUE(Entries(clinic, "&organizationId=2").empty());
  // Its own attempt at the other clinic's event is recorded, as its own, refused.
  const json::array attempt = Entries(clinic, "&objectId=" + other_event);
  ASSERT_EQ(attempt.size(), 1u) << json::serialize(attempt);
  EXPECT_EQ(attempt[0].at("status"), json::value(404));
  EXPECT_EQ(attempt[0].at("keyName"), "clinic");

  std::set<std::int64_t> organizations;
  for (const json::value& e : Entries(admin)) {
    if (!e.at("organizationId").is_null()) {
      organizations.insert(e.at("organizationId").to_number<std::int64_t>());
    }
  }
  EXPECT_EQ(organizations, (std::set<std::int64_t>{kClinic, kOtherClinic}));
}

TEST_F(AuditLogTest, NoRouteChangesOrDeletesEntries) {
  HttpClient admin = Admin();
  ASSERT_TRUE(
      IsJson(admin.Put("/organizations/1/settings", json::object{{"retention", "365d"}}), 200));
  const HttpResponse before = admin.Get("/audit-log");
  ASSERT_TRUE(IsJson(before, 200));
  ASSERT_EQ(before.json.at("data").as_array().size(), 1u) << before.Summary();
  const std::string entry_id = json::serialize(before.json.at("data").at(0).at("id"));

  for (const std::string method : {"POST", "PUT", "PATCH", "DELETE"}) {
    const HttpResponse refused = admin.Request(method, "/audit-log", "{}");
    EXPECT_TRUE(IsProblem(refused, 405, "method-not-allowed")) << method;
    EXPECT_EQ(refused.Header("allow"), "GET") << method;
    EXPECT_TRUE(IsProblem(admin.Request(method, "/audit-log/" + entry_id, "{}"), 404, "not-found"))
        << method;
  }
  EXPECT_EQ(admin.Get("/audit-log").body, before.body);
}

TEST_F(AuditLogTest, FiltersAndCursorsAreValidated) {
  HttpClient admin = Admin();
  EXPECT_TRUE(IsProblem(admin.Get("/audit-log?cursor=abc"), 400, "invalid-request", "cursor"));
  EXPECT_TRUE(IsProblem(admin.Get("/audit-log?since=yesterday"), 400, "invalid-request", "since"));
  EXPECT_TRUE(IsProblem(admin.Get("/audit-log?keyId=-1"), 400, "invalid-request", "keyId"));
  EXPECT_TRUE(IsProblem(admin.Get("/audit-log?limit=251"), 400, "invalid-request", "limit"));

  ASSERT_TRUE(
      IsJson(admin.Put("/organizations/1/settings", json::object{{"retention", "365d"}}), 200));
  ASSERT_TRUE(
      IsJson(admin.Put("/organizations/2/settings", json::object{{"retention", "365d"}}), 200));
  EXPECT_EQ(Entries(admin).size(), 2u);
  EXPECT_EQ(Entries(admin, "&organizationId=2").size(), 1u);
  EXPECT_EQ(Entries(admin, "&until=2000-01-01T00:00:00Z").size(), 0u);
  EXPECT_EQ(Entries(admin, "&since=2000-01-01T00:00:00Z").size(), 2u);
}

TEST_F(AuditLogTest, AForeignOrganizationsReadOfAPayloadIsRefusedAndTheAdminSeesTheRefusal) {
  HttpClient admin = Admin();
  const std::string event_id = DeliveredEvent(admin, kClinic);
  ASSERT_FALSE(HasFailure());
  const std::string key = CreateOrgKey(kOtherClinic, "other clinic");
  const std::int64_t key_id = KeyId("other clinic");
  const HttpResponse refused = WithKey(key).Get("/events/" + event_id);
  ASSERT_TRUE(IsProblem(refused, 404, "not-found"));
  EXPECT_EQ(refused.body.find("patient"), std::string::npos) << refused.body;

  const json::array entries = Entries(admin, "&objectId=" + event_id);
  ASSERT_EQ(entries.size(), 1u) << json::serialize(entries);
  const json::value& entry = entries[0];
  EXPECT_EQ(entry.at("status"), json::value(404));
  EXPECT_EQ(entry.at("method"), "GET");
  EXPECT_EQ(entry.at("route"), "/events/{id}");
  EXPECT_EQ(entry.at("keyId"), json::value(key_id));
  EXPECT_EQ(entry.at("keyName"), "other clinic");
  // The caller's organization: the event's is not disclosed to it, even through the log.
  EXPECT_EQ(entry.at("organizationId"), json::value(kOtherClinic));
  EXPECT_EQ(entry.at("address"), "127.0.0.1");
  EXPECT_EQ(json::serialize(Entries(admin)).find(key), std::string::npos);
}

TEST_F(AuditLogTest, RefusedChangesAreRecordedWithTheirStatusAndChangeNothing) {
  HttpClient admin = Admin();
  const std::string key = CreateOrgKey(kClinic, "clinic");
  const std::int64_t key_id = KeyId("clinic");
  HttpClient clinic = WithKey(key);
  const json::object type_body = {
      {"name", "VitalSignRecorded"},
      {"description", "A vital sign was recorded for a patient."},
      {"schema", json::parse(R"({"type": "object", "required": ["value"]})")},
      {"sample", json::object{{"value", 72}}}};
  // Needs an admin key: 403, recorded with the key that asked.
  ASSERT_TRUE(IsProblem(clinic.Post("/event-types", type_body), 403, "forbidden"));
  // Created, then refused as a duplicate: 409.
  ASSERT_TRUE(IsJson(admin.Post("/event-types", type_body), 201));
  ASSERT_TRUE(IsProblem(admin.Post("/event-types", type_body), 409, "conflict"));
  // Refused as invalid: recorded under the name it asked for.
  json::object bad_schema = type_body;
  bad_schema["name"] = "HeartRateRecorded";
  bad_schema["schema"] = json::object{{"type", 5}};
  ASSERT_TRUE(IsProblem(admin.Post("/event-types", bad_schema), 400, "invalid-request"));
  // Another organization's configuration, and one that does not exist: 404.
  const json::object config =
      CreateConfig(admin, HookBody(kOtherClinic, "BookAppointment", receiver_->Url("/hook")));
  ASSERT_FALSE(config.empty());
  const std::string config_id = std::to_string(IdOf(config));
  ASSERT_TRUE(IsProblem(clinic.Delete("/external-events/" + config_id), 404, "not-found"));
  ASSERT_TRUE(IsProblem(admin.Delete("/external-events/999999"), 404, "not-found"));
  // Invalid: 400 naming the field.
  ASSERT_TRUE(IsProblem(admin.Put("/organizations/1/settings", json::object{{"retention", "x"}}),
                        400, "invalid-request", "/retention"));
  // Without a key nobody is named: not recorded (the server log has it).
  ASSERT_EQ(WithKey("whk_not_a_key").Post("/event-types", type_body).status, 401);

  std::vector<std::string> recorded;
  for (const json::value& e : Entries(admin)) {
    recorded.push_back(
        std::string(e.at("method").as_string()) + " " + std::string(e.at("route").as_string()) +
        " " + (e.at("objectId").is_null() ? "-" : std::string(e.at("objectId").as_string())) + " " +
        json::serialize(e.at("status")) + " " + std::string(e.at("keyName").as_string()));
  }
  EXPECT_EQ(recorded, (std::vector<std::string>{
                          "POST /api-keys " + std::to_string(key_id) + " 201 first admin key",
                          "POST /event-types - 403 clinic",
                          "POST /event-types VitalSignRecorded 201 first admin key",
                          "POST /event-types VitalSignRecorded 409 first admin key",
                          "POST /event-types HeartRateRecorded 400 first admin key",
                          "POST /external-events " + config_id + " 201 first admin key",
                          "DELETE /external-events/{id} " + config_id + " 404 clinic",
                          "DELETE /external-events/{id} 999999 404 first admin key",
                          "PUT /organizations/{id}/settings 1 400 first admin key",
                      }))
      << json::serialize(Entries(admin));

  // Nothing refused changed anything.
  const HttpResponse kept = admin.Get("/external-events/" + config_id);
  ASSERT_TRUE(IsJson(kept, 200));
  EXPECT_EQ(kept.json.at("isDeleted"), json::value(false));
  const HttpResponse type = admin.Get("/event-types/VitalSignRecorded");
  ASSERT_TRUE(IsJson(type, 200));
  EXPECT_EQ(type.json.at("version"), json::value(1));
  EXPECT_EQ(admin.Get("/event-types/HeartRateRecorded").status, 404);
  const HttpResponse settings = admin.Get("/organizations/1/settings");
  ASSERT_TRUE(IsJson(settings, 200));
  EXPECT_TRUE(settings.json.at("retention").is_null()) << settings.body;
}

}  // namespace
}  // namespace webhookd::itest
