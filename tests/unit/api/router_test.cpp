#include "api/router.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <future>
#include <mutex>
#include <thread>

#include "dispatch_and_wait.hpp"

namespace webhookd::api {
namespace {

Response WithStatus(int status, std::string body = "") {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

Router MakeRouter() {
  // Key "admin" is an admin, "org7" belongs to organization 7, anything else is refused.
  Router router([](const Request& request) -> Result<Principal> {
    const std::string_view auth = request.Header("authorization");
    if (auth == "Bearer admin") return Principal{1, "admin", std::nullopt};
    if (auth == "Bearer org7") return Principal{2, "org7", 7};
    return Error::Unauthorized("bad key");
  });
  router.Add("GET", "/things/{id}", Access::kAnyKey, [](Call& call) {
    Response r;
    r.body = call.Param("id") + "@" + std::to_string(call.principal.scope.value_or(0));
    return r;
  });
  router.Add("DELETE", "/things/{id}", Access::kAdminKey, [](Call&) { return WithStatus(204); });
  router.Add("GET", "/open", Access::kPublic, [](Call&) { return WithStatus(200, "hi"); });
  router.Add("GET", "/boom", Access::kPublic,
             [](Call&) -> Response { throw std::runtime_error("x"); });
  // Answers later from another thread, as ingestion does once the store has committed.
  router.AddAsync("POST", "/later/{id}", Access::kAnyKey, [](Call& call, const Reply& reply) {
    std::string body = call.Param("id") + "@" + std::to_string(call.principal.scope.value_or(0));
    std::thread([reply, body] { reply(WithStatus(202, body)); }).detach();
  });
  router.AddAsync("POST", "/async-boom", Access::kPublic,
                  [](Call&, const Reply&) { throw std::runtime_error("x"); });
  return router;
}

Request Make(std::string method, std::string path, std::string key = "") {
  Request r;
  r.method = std::move(method);
  r.path = std::move(path);
  if (!key.empty()) r.headers.emplace_back("authorization", "Bearer " + key);
  return r;
}

boost::json::object Problem(const Response& r) {
  EXPECT_EQ(r.content_type, "application/problem+json");
  return boost::json::parse(r.body).as_object();
}

TEST(Router, PassesPathParametersAndPrincipal) {
  const Router router = MakeRouter();
  const Response r = DispatchAndWait(router, Make("GET", "/things/42/", "org7"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "42@7");
}

TEST(Router, PublicRoutesNeedNoKey) {
  EXPECT_EQ(DispatchAndWait(MakeRouter(), Make("GET", "/open")).body, "hi");
}

TEST(Router, MissingKeyIs401WithProblemBody) {
  const Response r = DispatchAndWait(MakeRouter(), Make("GET", "/things/1"));
  EXPECT_EQ(r.status, 401);
  const auto body = Problem(r);
  EXPECT_EQ(body.at("type"), "https://webhookd.dev/problems/unauthorized");
  EXPECT_EQ(body.at("status"), 401);
}

TEST(Router, AdminRouteRefusesOrganizationKey) {
  const Router router = MakeRouter();
  EXPECT_EQ(DispatchAndWait(router, Make("DELETE", "/things/1", "org7")).status, 403);
  EXPECT_EQ(DispatchAndWait(router, Make("DELETE", "/things/1", "admin")).status, 204);
}

TEST(Router, UnknownPathIs404AndWrongMethodIs405WithAllow) {
  const Router router = MakeRouter();
  const Response missing = DispatchAndWait(router, Make("GET", "/nothing", "admin"));
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(Problem(missing).at("type"), "https://webhookd.dev/problems/not-found");
  const Response wrong = DispatchAndWait(router, Make("POST", "/things/1", "admin"));
  EXPECT_EQ(wrong.status, 405);
  ASSERT_EQ(wrong.headers.size(), 1u);
  EXPECT_EQ(wrong.headers[0].first, "allow");
  EXPECT_EQ(wrong.headers[0].second, "GET, DELETE");
}

// Found by fuzz/http_request_fuzz: a percent-encoded byte that is not UTF-8 in the path
// ("/r%ecover") was echoed into the 404's detail, which made the problem+json body invalid JSON.
TEST(Router, PathBytesThatAreNotUtf8AreEchoedAsReplacementCharacters) {
  const Response missing = DispatchAndWait(MakeRouter(), Make("GET", "/r\xecover", "admin"));
  EXPECT_EQ(missing.status, 404);
  boost::system::error_code ec;
  const boost::json::value problem = boost::json::parse(missing.body, ec);
  ASSERT_FALSE(ec) << missing.body;
  EXPECT_EQ(problem.at("detail"), "no such resource: /r\uFFFDover");
}

TEST(Router, HandlerExceptionBecomesBare500) {
  const Response r = DispatchAndWait(MakeRouter(), Make("GET", "/boom"));
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(Problem(r).at("detail"), "The server failed to handle the request.");
}

// Records what DispatchAsync hands to the blocking runner, and the answer.
struct AsyncProbe {
  int blocking_runs = 0;
  std::promise<Response> answer;
  BlockingRunner Runner() {
    return [this](const std::function<void()>& work) {
      ++blocking_runs;
      work();
    };
  }
  Reply Answer() {
    return [this](Response r) { answer.set_value(std::move(r)); };
  }
};

TEST(Router, AsyncRouteAnswersFromAnotherThreadWithoutTheBlockingRunner) {
  const Router router = MakeRouter();
  AsyncProbe probe;
  const Request request = Make("POST", "/later/5", "org7");
  router.DispatchAsync(request, probe.Runner(), probe.Answer());
  const Response r = probe.answer.get_future().get();
  EXPECT_EQ(r.status, 202);
  EXPECT_EQ(r.body, "5@7");
  EXPECT_EQ(probe.blocking_runs, 0);
}

TEST(Router, BlockingRoutesRunThroughTheRunner) {
  const Router router = MakeRouter();
  AsyncProbe probe;
  const Request request = Make("GET", "/things/3", "admin");
  router.DispatchAsync(request, probe.Runner(), probe.Answer());
  EXPECT_EQ(probe.answer.get_future().get().body, "3@0");
  EXPECT_EQ(probe.blocking_runs, 1);
}

TEST(Router, AsyncRouteChecksTheKeyFirstAndUnroutedAnswersInline) {
  const Router router = MakeRouter();
  AsyncProbe refused;
  const Request no_key = Make("POST", "/later/5");
  router.DispatchAsync(no_key, refused.Runner(), refused.Answer());
  EXPECT_EQ(refused.answer.get_future().get().status, 401);
  AsyncProbe missing;
  const Request nowhere = Make("POST", "/nowhere", "admin");
  router.DispatchAsync(nowhere, missing.Runner(), missing.Answer());
  EXPECT_EQ(missing.answer.get_future().get().status, 404);
  EXPECT_EQ(refused.blocking_runs + missing.blocking_runs, 0);
}

TEST(Router, AsyncHandlerExceptionBecomesBare500) {
  const Response r = DispatchAndWait(MakeRouter(), Make("POST", "/async-boom"));
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(Problem(r).at("detail"), "The server failed to handle the request.");
}

// A router over the same keys whose audit recorder keeps entries, or fails while `fail` is set.
class AuditedRouter {
 public:
  AuditedRouter()
      : router_(
            [](const Request& request) -> Result<Principal> {
              if (request.Header("authorization") == "Bearer org7") {
                return Principal{2, "org7 reader", 7};
              }
              return Error::Unauthorized("bad key");
            },
            [this](AuditEntry entry, std::function<void(Status)> done) {
              std::lock_guard lock(mu_);
              if (fail_) return done(Error::Unavailable("disk full"));
              entries_.push_back(std::move(entry));
              done(Status::Ok());
            }) {
    router_.Add(
        "GET", "/records/{id}", Access::kAnyKey,
        [](Call& call) {
          call.audit.organization_id = 9;
          return WithStatus(200, "PATIENT-7781");
        },
        Audit::kPatientData);
    router_.Add("GET", "/lists", Access::kAnyKey, [](Call&) { return WithStatus(200, "[]"); });
    router_.Add("PUT", "/settings/{id}", Access::kAnyKey, [](Call&) { return WithStatus(200); });
    // Hands its entry to the "store", as the handlers of changes do, then answers as told.
    router_.Add("POST", "/changes", Access::kAnyKey, [this](Call& call) {
      call.audit.object_id = "chg_1";
      const AuditEntry* entry = call.AuditChange(201);
      std::lock_guard lock(mu_);
      if (entry != nullptr) handed_.push_back(*entry);
      return WithStatus(change_status_);
    });
    router_.Add("DELETE", "/admin-only/{id}", Access::kAdminKey,
                [](Call&) { return WithStatus(204); });
    router_.AddAsync(
        "POST", "/ingest", Access::kAnyKey,
        [](Call&, const Reply& reply) { reply(WithStatus(202)); }, Audit::kNever);
  }

  Response Send(std::string method, std::string path, std::string key = "org7") {
    Request request = Make(std::move(method), std::move(path), std::move(key));
    request.remote_address = "10.1.2.3";
    return DispatchAndWait(router_, request);
  }
  void set_fail(bool fail) {
    std::lock_guard lock(mu_);
    fail_ = fail;
  }
  std::vector<AuditEntry> entries() {
    std::lock_guard lock(mu_);
    return entries_;
  }
  // The entries handlers handed over with their changes.
  std::vector<AuditEntry> handed() {
    std::lock_guard lock(mu_);
    return handed_;
  }
  void set_change_status(int status) {
    std::lock_guard lock(mu_);
    change_status_ = status;
  }

 private:
  std::mutex mu_;
  bool fail_ = false;                // guarded by mu_
  std::vector<AuditEntry> entries_;  // guarded by mu_
  std::vector<AuditEntry> handed_;   // guarded by mu_
  int change_status_ = 201;          // guarded by mu_
  Router router_;
};

TEST(RouterAudit, RecordsReadsOfPatientDataAndChangesWithWhoWhatAndWhere) {
  AuditedRouter router;
  EXPECT_EQ(router.Send("GET", "/records/evt_1").body, "PATIENT-7781");
  EXPECT_EQ(router.Send("PUT", "/settings/5").status, 200);
  const std::vector<AuditEntry> entries = router.entries();
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].key_id, 2);
  EXPECT_EQ(entries[0].key_name, "org7 reader");
  EXPECT_EQ(entries[0].organization_id, 9);  // the object's, as the handler said
  EXPECT_EQ(entries[0].method, "GET");
  EXPECT_EQ(entries[0].route, "/records/{id}");
  EXPECT_EQ(entries[0].object_id, "evt_1");
  EXPECT_EQ(entries[0].address, "10.1.2.3");
  EXPECT_EQ(entries[0].status, 200);
  EXPECT_EQ(entries[1].organization_id, 7);  // the key's, by default
  EXPECT_EQ(entries[1].route, "/settings/{id}");
  EXPECT_EQ(entries[1].object_id, "5");
}

TEST(RouterAudit, ListsIngestionAndUnauthenticatedRequestsAreNotRecorded) {
  AuditedRouter router;
  EXPECT_EQ(router.Send("GET", "/lists").status, 200);
  EXPECT_EQ(router.Send("POST", "/ingest").status, 202);
  EXPECT_EQ(router.Send("GET", "/records/evt_1", "nobody").status, 401);
  EXPECT_TRUE(router.entries().empty());
}

TEST(RouterAudit, PatientDataIsNotDisclosedWhenItsReadCannotBeRecorded) {
  AuditedRouter router;
  router.set_fail(true);
  const Response read = router.Send("GET", "/records/evt_1");
  EXPECT_EQ(read.status, 503);
  EXPECT_EQ(read.body.find("PATIENT-7781"), std::string::npos);
  EXPECT_NE(Problem(read).at("detail").as_string().find("audit log"), std::string::npos);
  // A change has happened: it is answered as such.
  EXPECT_EQ(router.Send("PUT", "/settings/5").status, 200);
}

TEST(RouterAudit, AChangeHandsItsEntryToItsStoreCallAndIsNotRecordedAgain) {
  AuditedRouter router;
  EXPECT_EQ(router.Send("POST", "/changes").status, 201);
  const std::vector<AuditEntry> handed = router.handed();
  ASSERT_EQ(handed.size(), 1u);
  EXPECT_EQ(handed[0].key_id, 2);
  EXPECT_EQ(handed[0].key_name, "org7 reader");
  EXPECT_EQ(handed[0].organization_id, 7);
  EXPECT_EQ(handed[0].method, "POST");
  EXPECT_EQ(handed[0].route, "/changes");
  EXPECT_EQ(handed[0].object_id, "chg_1");
  EXPECT_EQ(handed[0].address, "10.1.2.3");
  EXPECT_EQ(handed[0].status, 201);
  EXPECT_TRUE(router.entries().empty()) << "the entry was written twice";
}

TEST(RouterAudit, AChangeThatFailsIsRecordedWithTheStatusItWasAnswered) {
  AuditedRouter router;
  router.set_change_status(409);
  EXPECT_EQ(router.Send("POST", "/changes").status, 409);
  const std::vector<AuditEntry> entries = router.entries();
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].status, 409);
  EXPECT_EQ(entries[0].object_id, "chg_1");
  EXPECT_EQ(entries[0].route, "/changes");
}

TEST(RouterAudit, AKeyRefusedForLackingAdminRightsIsRecordedWithThe403) {
  AuditedRouter router;
  const Response refused = router.Send("DELETE", "/admin-only/5");
  EXPECT_EQ(refused.status, 403);
  const std::vector<AuditEntry> entries = router.entries();
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].status, 403);
  EXPECT_EQ(entries[0].key_id, 2);
  EXPECT_EQ(entries[0].organization_id, 7);
  EXPECT_EQ(entries[0].route, "/admin-only/{id}");
  EXPECT_EQ(entries[0].object_id, "5");
}

}  // namespace
}  // namespace webhookd::api
