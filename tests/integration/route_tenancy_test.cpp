// Tenancy of every route (issue 13): an organization key that names another organization's
// object, by path id, list filter or body, gets what a missing object gets and changes nothing.
// The table of routes is checked against the served OpenAPI document, which the unit tests
// (openapi_test.cpp) hold equal to the router's routes: a new route fails this test until it
// has a row here.
#include <map>
#include <set>
#include <thread>

#include "delivery_support.hpp"

namespace webhookd::itest {
namespace {

constexpr std::int64_t kOrgA = 101;
constexpr std::int64_t kOrgB = 202;

// Organization A's objects, which organization B's key tries to reach.
struct OrgAObjects {
  std::string failing_config;    // BookAppointment to a receiver answering 500
  std::string inference_config;  // InferenceToObservations to a receiver answering a result
  std::string failed_event;
  std::string failed_delivery;  // one attempt, then failed (recover and retry would requeue it)
  std::string inference_event;
  std::string inference_delivery;  // succeeded, with a result
  std::string key;
  std::string key_id;
};

// What B's call must answer.
enum class Expect {
  kNotFound,          // 404 problem, the same as for an id nobody has
  kOnlyOwn,           // 200 list whose items all belong to B
  kForbidden,         // 403 problem (a body naming A's organization; key management)
  kBatchItemRefused,  // 200 batch answer whose single item is a 403 problem
  kEmptyStats,        // 200 /stats answer that counts nothing (B has no deliveries)
};

struct RouteCase {
  std::string method;
  std::string pattern;  // as served
  std::string target;   // the path sent, "{id}" standing for `id`
  std::string id;       // A's object, or "" when the target names none
  json::value body;     // null: no body
  Expect expect;
};

// The operations that read or change no organization's data: the catalog is the same for all
// (and only admin keys change it: the table's kForbidden rows), and the console's files are the
// same for everyone (the console then calls the API).
const std::set<std::pair<std::string, std::string>> kNotOrganizationScoped = {
    {"GET", "/healthz"},
    {"GET", "/readyz"},
    {"GET", "/metrics"},
    {"GET", "/openapi.json"},
    {"GET", "/event-types"},
    {"GET", "/event-types/{name}"},
    {"GET", "/"},
    {"GET", "/console"},
    {"GET", "/console/{file}"},
    {"GET", "/event-types/{name}/versions"},
    {"GET", "/event-types/{name}/versions/{version}"},
};

// `appointment`: a valid BookAppointment payload.
std::vector<RouteCase> Cases(const OrgAObjects& a, const json::object& appointment) {
  json::object replacement = HookBody(kOrgA, "BookAppointment", "http://127.0.0.1:1/stolen");
  replacement.erase("organizationId");
  const std::string an_hour_ago = FormatRfc3339(std::chrono::system_clock::now() - 1h);
  const json::object a_event{
      {"organizationId", kOrgA}, {"eventName", "BookAppointment"}, {"payload", appointment}};
  const json::object new_type{{"name", "Planted"},
                              {"description", "an organization key may not add types"},
                              {"schema", json::object{{"type", "object"}}},
                              {"sample", json::object{}}};
  return {
      {"GET", "/external-events/{id}", "/external-events/{id}", a.failing_config, nullptr,
       Expect::kNotFound},
      {"PUT", "/external-events/{id}", "/external-events/{id}", a.failing_config, replacement,
       Expect::kNotFound},
      {"PATCH", "/external-events/{id}", "/external-events/{id}", a.failing_config,
       json::object{{"name", "stolen"}, {"active", false}}, Expect::kNotFound},
      {"DELETE", "/external-events/{id}", "/external-events/{id}", a.failing_config, nullptr,
       Expect::kNotFound},
      {"POST", "/external-events/{id}/secret/rotate", "/external-events/{id}/secret/rotate",
       a.failing_config, nullptr, Expect::kNotFound},
      {"POST", "/external-events/{id}/test", "/external-events/{id}/test", a.inference_config,
       nullptr, Expect::kNotFound},
      {"POST", "/external-events/{id}/recover", "/external-events/{id}/recover", a.failing_config,
       json::object{{"since", an_hour_ago}}, Expect::kNotFound},
      {"GET", "/events/{id}", "/events/{id}", a.failed_event, nullptr, Expect::kNotFound},
      {"GET", "/events/{id}/result", "/events/{id}/result", a.inference_event, nullptr,
       Expect::kNotFound},
      {"GET", "/deliveries/{id}", "/deliveries/{id}", a.failed_delivery, nullptr,
       Expect::kNotFound},
      {"GET", "/deliveries/{id}/attempts", "/deliveries/{id}/attempts", a.failed_delivery, nullptr,
       Expect::kNotFound},
      {"POST", "/deliveries/{id}/retry", "/deliveries/{id}/retry", a.failed_delivery, nullptr,
       Expect::kNotFound},
      {"DELETE", "/api-keys/{id}", "/api-keys/{id}", a.key_id, nullptr, Expect::kNotFound},
      {"GET", "/external-events", "/external-events/?includeDeleted=true", "", nullptr,
       Expect::kOnlyOwn},
      {"GET", "/external-events", "/external-events/?organizationId=101", "", nullptr,
       Expect::kOnlyOwn},
      {"GET", "/deliveries", "/deliveries", "", nullptr, Expect::kOnlyOwn},
      {"GET", "/deliveries", "/deliveries?externalEventId={id}", a.failing_config, nullptr,
       Expect::kOnlyOwn},
      {"GET", "/deliveries", "/deliveries?eventId={id}", a.failed_event, nullptr, Expect::kOnlyOwn},
      {"GET", "/deliveries", "/deliveries?organizationId=101", "", nullptr, Expect::kOnlyOwn},
      {"GET", "/stats", "/stats", "", nullptr, Expect::kEmptyStats},
      {"GET", "/stats", "/stats?organizationId=101", "", nullptr, Expect::kForbidden},
      {"GET", "/api-keys", "/api-keys", "", nullptr, Expect::kOnlyOwn},
      {"GET", "/audit-log", "/audit-log?limit=250", "", nullptr, Expect::kOnlyOwn},
      {"GET", "/audit-log", "/audit-log?organizationId=101", "", nullptr, Expect::kOnlyOwn},
      {"GET", "/audit-log", "/audit-log?objectId={id}", a.failed_event, nullptr, Expect::kOnlyOwn},
      {"GET", "/organizations/{id}/settings", "/organizations/{id}/settings", "101", nullptr,
       Expect::kNotFound},
      // Admin keys only: refused whichever organization it names.
      {"PUT", "/organizations/{id}/settings", "/organizations/{id}/settings", "101",
       json::object{{"payloadRetention", "1d"}}, Expect::kForbidden},
      {"POST", "/api-keys", "/api-keys", "",
       json::object{{"name", "mine now"}, {"organizationId", kOrgA}}, Expect::kForbidden},
      {"POST", "/external-events", "/external-events/", "",
       HookBody(kOrgA, "BookAppointment", "http://127.0.0.1:1/planted"), Expect::kForbidden},
      {"POST", "/events", "/events", "", a_event, Expect::kForbidden},
      {"POST", "/events/batch", "/events/batch", "", json::object{{"events", json::array{a_event}}},
       Expect::kBatchItemRefused},
      {"POST", "/event-types", "/event-types", "", new_type, Expect::kForbidden},
      {"PUT", "/event-types/{name}", "/event-types/HealthRecordCounter", "",
       json::object{{"description", "changed"},
                    {"schema", json::object{{"type", "object"}}},
                    {"sample", json::object{}}},
       Expect::kForbidden},
      {"PATCH", "/event-types/{name}", "/event-types/HealthRecordCounter", "",
       json::object{{"description", "changed"}}, Expect::kForbidden},
      {"DELETE", "/event-types/{name}", "/event-types/HealthRecordCounter", "", nullptr,
       Expect::kForbidden},
  };
}

// An id of the same form that no object has.
std::string MissingId(const std::string& id) {
  if (id.find_first_not_of("0123456789") == std::string::npos) return "987654321";
  std::string missing = id;
  missing.back() = missing.back() == '0' ? '1' : '0';
  return missing;
}

::testing::AssertionResult OnlyOrganization(const HttpResponse& r, std::int64_t organization) {
  if (auto json = IsJson(r, 200); !json) return json;
  const json::value* data = At(r.json, "/data");
  if (data == nullptr || !data->is_array()) {
    return ::testing::AssertionFailure() << "no data array: " << r.Summary();
  }
  for (const json::value& item : data->as_array()) {
    if (item.at("organizationId") != json::value(organization)) {
      return ::testing::AssertionFailure() << "another organization's item: " << item;
    }
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult EmptyStats(const HttpResponse& r) {
  if (auto json = IsJson(r, 200); !json) return json;
  for (const json::value& bucket : r.json.at("buckets").as_array()) {
    for (const auto& [status, count] : bucket.as_object()) {
      if (status != "start" && count != json::value(0)) {
        return ::testing::AssertionFailure() << "another organization's deliveries: " << bucket;
      }
    }
  }
  if (!r.json.at("topFailing").as_array().empty() || !r.json.at("disabled").as_array().empty() ||
      *At(r.json, "/open/pending") != json::value(0) ||
      *At(r.json, "/latencyMs/samples") != json::value(0)) {
    return ::testing::AssertionFailure() << "another organization's figures: " << r.Summary();
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult BatchItemRefused(const HttpResponse& r) {
  if (auto json = IsJson(r, 200); !json) return json;
  const json::value* status = At(r.json, "/data/0/status");
  const json::value* type = At(r.json, "/data/0/error/type");
  if (At(r.json, "/data/1") != nullptr || status == nullptr || *status != json::value(403) ||
      type == nullptr || *type != json::value("https://webhookd.dev/problems/forbidden")) {
    return ::testing::AssertionFailure() << "expected one item refused with 403: " << r.Summary();
  }
  return ::testing::AssertionSuccess();
}

class RouteTenancyTest : public DeliveryTest {
 protected:
  void SetUp() override {
    DeliveryTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    receiver_ = std::make_unique<HttpReceiver>([](const ReceivedRequest& request) {
      if (request.target == "/fail") return Answer(500, "down");
      return Answer(200, R"({"observations":[{"code":"8867-4","value":72}]})");
    });
    HttpClient admin = Admin();
    key_b_ = CreateOrgKey(kOrgB, "b");
    ASSERT_FALSE(key_b_.empty());
    ASSERT_NO_FATAL_FAILURE(CreateOrgAObjects(admin));
  }

  void CreateOrgAObjects(HttpClient& admin) {
    a_.key = CreateOrgKey(kOrgA, "a");
    ASSERT_FALSE(a_.key.empty());
    const HttpResponse keys = admin.Get("/api-keys");
    for (const json::value& key : keys.json.at("data").as_array()) {
      if (key.at("organizationId") == json::value(kOrgA)) a_.key_id = json::serialize(key.at("id"));
    }
    json::object failing = HookBody(kOrgA, "BookAppointment", receiver_->Url("/fail"), "failing");
    failing["retrySchedule"] = json::array{0};  // one attempt, then failed
    a_.failing_config = std::to_string(IdOf(CreateConfig(admin, failing)));
    a_.inference_config = std::to_string(IdOf(CreateConfig(
        admin, HookBody(kOrgA, "InferenceToObservations", receiver_->Url("/infer"), "infer"))));
    ASSERT_FALSE(HasFailure());
    PostAndFinish(admin, "BookAppointment", Appointment(admin, 1), "failed", a_.failed_event,
                  a_.failed_delivery);
    PostAndFinish(admin, "InferenceToObservations", SamplePayload(admin, "InferenceToObservations"),
                  "succeeded", a_.inference_event, a_.inference_delivery);
  }

  // Posts an event of A (one matching configuration) and waits for its delivery's `status`.
  void PostAndFinish(HttpClient& admin, std::string_view event_name, const json::object& payload,
                     std::string_view status, std::string& event_id, std::string& delivery_id) {
    const HttpResponse accepted = PostEvent(admin, event_name, kOrgA, payload);
    ASSERT_TRUE(IsJson(accepted, 202));
    const json::array& deliveries = accepted.json.at("deliveries").as_array();
    ASSERT_EQ(deliveries.size(), 1u) << accepted.Summary();
    event_id = accepted.json.at("id").as_string();
    delivery_id = deliveries[0].at("id").as_string();
    ASSERT_EQ(WaitForStatus(admin, delivery_id, status, 10s).at("status"), json::value(status));
  }

  // Everything an admin can read of every organization: what B's calls must leave unchanged.
  // Path -> body.
  static std::map<std::string, std::string> Snapshot(HttpClient& admin, const OrgAObjects& a) {
    std::map<std::string, std::string> snapshot;
    for (const std::string& path : std::vector<std::string>{
             "/external-events/?includeDeleted=true&limit=250", "/deliveries?limit=250",
             "/api-keys", "/organizations/101/settings", "/event-types", "/events/" + a.failed_event,
             "/events/" + a.inference_event, "/events/" + a.inference_event + "/result",
             "/deliveries/" + a.failed_delivery + "/attempts",
             "/deliveries/" + a.inference_delivery + "/attempts"}) {
      const HttpResponse r = admin.Get(path);
      EXPECT_TRUE(IsJson(r, 200)) << path;
      snapshot[path] = r.body;
    }
    return snapshot;
  }

  void ExpectAnswer(HttpClient& b, const RouteCase& c) {
    const std::string body = c.body.is_null() ? "" : json::serialize(c.body);
    const std::string path = ReplaceAll(c.target, "{id}", c.id);
    const HttpResponse r = b.Request(c.method, path, body);
    SCOPED_TRACE(c.method + " " + path);
    switch (c.expect) {
      case Expect::kNotFound: {
        ASSERT_TRUE(IsProblem(r, 404, "not-found"));
        const std::string missing_id = MissingId(c.id);
        const HttpResponse nobody =
            b.Request(c.method, ReplaceAll(c.target, "{id}", missing_id), body);
        ASSERT_TRUE(IsProblem(nobody, 404, "not-found"));
        EXPECT_EQ(ProblemWithoutId(r, c.id), ProblemWithoutId(nobody, missing_id));
        break;
      }
      case Expect::kOnlyOwn:
        EXPECT_TRUE(OnlyOrganization(r, kOrgB));
        break;
      case Expect::kForbidden:
        EXPECT_TRUE(IsProblem(r, 403, "forbidden"));
        break;
      case Expect::kBatchItemRefused:
        EXPECT_TRUE(BatchItemRefused(r));
        break;
      case Expect::kEmptyStats:
        EXPECT_TRUE(EmptyStats(r));
        break;
    }
  }

  std::unique_ptr<HttpReceiver> receiver_;
  std::string key_b_;
  OrgAObjects a_;
};

TEST_F(RouteTenancyTest, EveryRouteHidesAnotherOrganizationsObjectsAndChangesNothing) {
  HttpClient admin = Admin();
  const std::vector<RouteCase> cases = Cases(a_, Appointment(admin, 99));
  const std::map<std::string, std::string> before = Snapshot(admin, a_);
  const std::size_t requests_before = receiver_->Count();

  HttpClient b = WithKey(key_b_);
  for (const RouteCase& c : cases) ExpectAnswer(b, c);

  std::this_thread::sleep_for(300ms);  // time for a delivery that should not have been queued
  for (const auto& [path, body] : Snapshot(admin, a_)) {
    EXPECT_EQ(body, before.at(path)) << "GET " << path << " changed";
  }
  EXPECT_EQ(receiver_->Count(), requests_before) << "a receiver of A was called";
  EXPECT_TRUE(IsJson(WithKey(a_.key).Get("/deliveries"), 200)) << "A's key was revoked";
}

// Every served operation has a row above, or is listed as not scoped to an organization; and
// every operation on an object id is tried with A's id.
TEST_F(RouteTenancyTest, TheTableCoversEveryServedRoute) {
  HttpClient admin = Admin();
  std::set<std::pair<std::string, std::string>> covered;
  std::set<std::pair<std::string, std::string>> tried_by_id;
  for (const RouteCase& c : Cases(a_, Appointment(admin, 99))) {
    covered.insert({c.method, c.pattern});
    if (!c.id.empty() && c.pattern.find("{id}") != std::string::npos) {
      tried_by_id.insert({c.method, c.pattern});
    }
  }
  const HttpResponse document = Anonymous().Get("/openapi.json");
  ASSERT_TRUE(IsJson(document, 200));
  std::set<std::pair<std::string, std::string>> served;
  for (const auto& [path, item] : document.json.at("paths").as_object()) {
    for (const auto& [method, operation] : item.as_object()) {
      if (method == "parameters" || method == "head") continue;
      std::string upper(method);
      for (char& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      served.insert({upper, std::string(path)});
    }
  }
  for (const auto& route : served) {
    const std::string what = route.first + " " + route.second;
    EXPECT_TRUE(covered.contains(route) || kNotOrganizationScoped.contains(route))
        << what << " is served but has no tenancy row";
    if (route.second.find("{id}") != std::string::npos) {
      EXPECT_TRUE(tried_by_id.contains(route)) << what << " is not tried with A's id";
    }
  }
  for (const auto& route : covered) {
    EXPECT_TRUE(served.contains(route)) << route.first << " " << route.second << " is not served";
  }
}

}  // namespace
}  // namespace webhookd::itest
