// The server process as a whole: start-up output, health, restart persistence, signals, HTTP
// behaviour (404/405/413, malformed JSON, keep-alive, concurrency) and what goes to the log.
#include <signal.h>

#include <atomic>
#include <regex>
#include <set>
#include <thread>

#include "test_support.hpp"

namespace webhookd::itest {
namespace {

TEST_F(ServerTest, HealthzAnswersOkWithoutKey) {
  HttpClient anonymous = Anonymous();
  const HttpResponse r = anonymous.Get("/healthz");
  ASSERT_TRUE(IsJson(r, 200));
  EXPECT_EQ(r.json, json::parse(R"({"status":"ok"})"));
}

TEST_F(ServerTest, ReadyzAnswersReadyWithoutKey) {
  HttpClient anonymous = Anonymous();
  const HttpResponse r = anonymous.Get("/readyz");
  ASSERT_TRUE(IsJson(r, 200));
  EXPECT_EQ(r.json, json::parse(R"({"status":"ready"})"));
}

// The server runs on the allocator its build chose: jemalloc, except in sanitizer builds
// (CMakeLists.txt, WEBHOOKD_JEMALLOC), so that losing it shows here and not only in benchmarks.
TEST_F(ServerTest, RunsOnTheAllocatorItsBuildChose) {
  const std::string maps = ReadFile("/proc/" + std::to_string(server_->pid()) + "/maps");
  ASSERT_NE(maps.find("libc.so"), std::string::npos) << "the server's mappings were not read";
  EXPECT_EQ(maps.find("libjemalloc") != std::string::npos, WEBHOOKD_JEMALLOC == 1) << maps;
}

// Readiness follows the store; liveness does not. Only PostgreSQL can be taken away from a
// running server (an SQLite file stays open, and readable, once the server has it), so ctest
// registers this test for PostgreSQL only (tests/CMakeLists.txt); the skip is for direct runs.
TEST_F(ServerTest, ReadyzIs503WhileTheStoreIsUnreachableAndHealthzStaysOk) {
  if (database_->backend() != Backend::kPostgres) {
    GTEST_SKIP() << "needs a store the test can take away: runs on the PostgreSQL backend";
  }
  ASSERT_TRUE(database_->DropNow().ok());
  HttpClient anonymous = Anonymous();
  const HttpResponse ready = anonymous.Get("/readyz");
  EXPECT_TRUE(IsProblem(ready, 503, "unavailable", "")) << ready.Summary();
  EXPECT_NE(ready.json.at("detail").as_string().find("store is not reachable"), std::string::npos)
      << ready.Summary();
  EXPECT_TRUE(IsJson(anonymous.Get("/healthz"), 200));
}

// Request lines are written in blocks (core/buffered_log_sink.hpp), but at least once a second:
// one shows up in the log while the server keeps running, with no warning or exit to push it.
TEST_F(ServerTest, RequestLinesReachTheLogWithinASecondOrTwo) {
  HttpClient anonymous = Anonymous();
  ASSERT_TRUE(IsJson(anonymous.Get("/readyz"), 200));
  const auto deadline = std::chrono::steady_clock::now() + Scaled(3s);
  while (server_->ReadStderr().find("path=/readyz status=200") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_NE(server_->ReadStderr().find("request method=GET path=/readyz status=200"),
            std::string::npos)
      << server_->ReadStderr().substr(0, 2000);
  EXPECT_TRUE(server_->Running());
}

TEST_F(ServerTest, ListeningLineCarriesTheRealPort) {
  EXPECT_GT(server_->port(), 0);
  EXPECT_EQ(server_->base_url(), "http://127.0.0.1:" + std::to_string(server_->port()));
}

TEST_F(ServerTest, FirstStartPrintsAWorkingAdminKeyWithCurlExample) {
  const std::string out = server_->ReadStdout();
  EXPECT_TRUE(
      std::regex_search(out, std::regex("Admin API key \\(shown once\\): whk_[0-9a-f]{64}")))
      << out;
  EXPECT_NE(out.find("curl"), std::string::npos) << out;
  // The console's address, beside the key and again after the listening line.
  const std::string console = server_->base_url() + "/console/";
  EXPECT_NE(out.find("Sign in with it at " + console), std::string::npos) << out;
  EXPECT_NE(out.find("webhookd console: " + console + "\n"), std::string::npos) << out;
  // The key line comes before the listening line.
  EXPECT_LT(out.find("Admin API key"), out.find("webhookd listening on")) << out;

  HttpClient admin = Admin();
  const HttpResponse r = admin.Get("/api-keys");
  ASSERT_TRUE(IsJson(r, 200));
  ASSERT_NE(At(r.json, "/data"), nullptr);
  EXPECT_GE(At(r.json, "/data")->as_array().size(), 1u);
}

TEST_F(ServerTest, RestartKeepsConfigsAndPrintsNoNewAdminKey) {
  HttpClient admin = Admin();
  std::vector<json::object> created;
  for (int i = 0; i < 3; ++i) {
    created.push_back(CreateConfig(admin, ConfigBody(10 + i, "hook " + std::to_string(i), i + 1)));
  }
  ASSERT_EQ(created.size(), 3u);
  const HttpResponse patched = admin.Patch(ConfigPath(created[1]), json::object{{"active", false}});
  ASSERT_TRUE(IsJson(patched, 200));
  created[1] = patched.json.as_object();
  ASSERT_EQ(admin.Delete(ConfigPath(created[2])).status, 204);

  ASSERT_NO_FATAL_FAILURE(RestartServer());

  EXPECT_TRUE(server_->admin_key().empty());
  EXPECT_EQ(server_->ReadStdout().find("Admin API key"), std::string::npos)
      << server_->ReadStdout();
  HttpClient admin_again = Admin();  // the first start's key still works
  {
    const HttpResponse r = admin_again.Get(ConfigPath(created[0]));
    ASSERT_TRUE(IsJson(r, 200));
    EXPECT_EQ(r.json.as_object(), created[0]);
  }
  {
    const HttpResponse r = admin_again.Get(ConfigPath(created[1]));
    ASSERT_TRUE(IsJson(r, 200));
    EXPECT_EQ(r.json.as_object(), created[1]);
    EXPECT_EQ(r.json.at("active"), json::value(false));
  }
  {
    const HttpResponse r = admin_again.Get(ConfigPath(created[2]));
    ASSERT_TRUE(IsJson(r, 200));
    EXPECT_EQ(r.json.at("isDeleted"), json::value(true));
  }
  const HttpResponse list = admin_again.Get("/external-events/");
  ASSERT_TRUE(IsJson(list, 200));
  ASSERT_EQ(list.json.at("data").as_array().size(), 2u) << list.body;
  EXPECT_EQ(list.json.at("data").as_array()[0], json::value(created[0]));
  EXPECT_EQ(list.json.at("data").as_array()[1], json::value(created[1]));

  // And a third start still prints nothing.
  ASSERT_NO_FATAL_FAILURE(RestartServer());
  EXPECT_EQ(server_->ReadStdout().find("Admin API key"), std::string::npos);
}

// An orderly shutdown has nothing to wait for here, so it must be quick, not a timeout.
constexpr auto kPromptExit = 3s;

TEST_F(ServerTest, SigtermOnAnIdleServerExitsZeroPromptly) {
  const auto exit = server_->Terminate(kPromptExit);
  ASSERT_TRUE(exit.has_value()) << "still running " << kPromptExit.count() << " s after SIGTERM";
  EXPECT_TRUE(exit->Clean()) << exit->Describe() << "\n" << server_->ReadStderr();
}

TEST_F(ServerTest, SigintExitsZeroPromptly) {
  const auto exit = server_->StopWith(SIGINT, kPromptExit);
  ASSERT_TRUE(exit.has_value()) << "still running " << kPromptExit.count() << " s after SIGINT";
  EXPECT_TRUE(exit->Clean()) << exit->Describe() << "\n" << server_->ReadStderr();
}

// Connections that served requests, one closed and one still open (idle keep-alive), must not
// hold up or crash the shutdown.
TEST_F(ServerTest, SigtermAfterServingRequestsExitsZeroPromptly) {
  {
    HttpClient closed = Admin();
    CreateConfig(closed, ConfigBody(1));
  }
  HttpClient idle = Admin();
  EXPECT_TRUE(IsJson(idle.Get("/external-events/"), 200));
  const auto exit = server_->Terminate(kPromptExit);
  ASSERT_TRUE(exit.has_value()) << "still running " << kPromptExit.count() << " s after SIGTERM";
  EXPECT_TRUE(exit->Clean()) << exit->Describe() << "\n" << server_->ReadStderr();
}

// Under load, SIGTERM must not cut a response in half: every answer that arrives is complete,
// and the process still exits 0.
TEST_F(ServerTest, SigtermUnderLoadAnswersCompletelyAndExitsZero) {
  std::atomic<bool> stop{false};
  std::atomic<int> complete{0};
  std::atomic<int> truncated{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      HttpClient client(server_->base_url(), admin_key_);
      client.set_timeout(5s);
      for (int i = 0; !stop; ++i) {
        const HttpResponse r =
            client.Post("/external-events/", ConfigBody(t + 1, "load " + std::to_string(i)));
        if (r.status == 0) continue;  // refused or closed before an answer: allowed
        (r.status == 201 && r.is_json ? complete : truncated)++;
      }
    });
  }
  std::this_thread::sleep_for(300ms);
  const auto exit = server_->Terminate(10s);
  std::this_thread::sleep_for(100ms);
  stop = true;
  for (auto& t : threads) t.join();
  ASSERT_TRUE(exit.has_value()) << "still running 10 s after SIGTERM";
  EXPECT_TRUE(exit->Clean()) << exit->Describe();
  EXPECT_GT(complete.load(), 0);
  EXPECT_EQ(truncated.load(), 0);
}

TEST_F(ServerTest, UnknownRouteIsNotFoundProblem) {
  HttpClient admin = Admin();
  EXPECT_TRUE(IsProblem(admin.Get("/no/such/route"), 404, "not-found"));
  EXPECT_TRUE(IsProblem(admin.Get("/external-events/1/nothing-here"), 404, "not-found"));
}

TEST_F(ServerTest, WrongMethodIs405WithAllowHeader) {
  HttpClient admin = Admin();
  {
    const HttpResponse r = admin.Delete("/external-events/");
    EXPECT_TRUE(IsProblem(r, 405, "method-not-allowed"));
    EXPECT_NE(r.Header("allow").find("GET"), std::string::npos) << r.Header("allow");
    EXPECT_NE(r.Header("allow").find("POST"), std::string::npos) << r.Header("allow");
  }
  {
    const HttpResponse r = admin.Request("POST", "/healthz", "{}");
    EXPECT_TRUE(IsProblem(r, 405, "method-not-allowed"));
    EXPECT_NE(r.Header("allow").find("GET"), std::string::npos) << r.Header("allow");
  }
  {
    const HttpResponse r = admin.Request("PUT", "/event-types", "{}");
    EXPECT_TRUE(IsProblem(r, 405, "method-not-allowed"));
    EXPECT_NE(r.Header("allow").find("GET"), std::string::npos) << r.Header("allow");
  }
}

// Issue 11 m: /events/batch is its own resource, not the event "batch" of /events/{id}.
TEST_F(ServerTest, EventBatchAllowsOnlyPost) {
  HttpClient admin = Admin();
  for (const char* method : {"GET", "PUT", "DELETE"}) {
    const HttpResponse r = admin.Request(method, "/events/batch", "");
    EXPECT_TRUE(IsProblem(r, 405, "method-not-allowed")) << method;
    EXPECT_EQ(r.Header("allow"), "POST") << method;
  }
  EXPECT_TRUE(IsProblem(admin.Get("/events/evt_01J0V596TPFRZRDW1PPV0WQY4V"), 404, "not-found"));
}

// Issue 11 m: the request examples of the served OpenAPI document are accepted as they are.
TEST_F(ServerTest, TheOpenApiRequestExamplesAreAccepted) {
  HttpClient admin = Admin();
  const HttpResponse document = Anonymous().Get("/openapi.json");
  ASSERT_TRUE(IsJson(document, 200));
  const auto example = [&](const std::string& path, const std::string& method) {
    const json::value* found =
        At(document.json, "/paths/" + ReplaceAll(path, "/", "~1") + "/" + method +
                              "/requestBody/content/application~1json/example");
    EXPECT_NE(found, nullptr) << method << " " << path;
    return found != nullptr ? *found : json::value();
  };
  const HttpResponse event = admin.Post("/events", example("/events", "post"));
  EXPECT_TRUE(IsJson(event, 202)) << event.Summary();
  const HttpResponse type = admin.Post("/event-types", example("/event-types", "post"));
  EXPECT_TRUE(IsJson(type, 201)) << type.Summary();
  const HttpResponse config = admin.Post("/external-events/", example("/external-events", "post"));
  EXPECT_TRUE(IsJson(config, 201)) << config.Summary();
}

// The client sends its whole body before reading, as many do: it must get the 413 all the same.
TEST_F(ServerTest, BodyOverOneMebibyteIs413) {
  json::object body = ConfigBody(1);
  body["name"] = std::string(2 * 1024 * 1024, 'x');
  const std::string text = json::serialize(body);
  RawConnection connection(server_->port());
  ASSERT_TRUE(connection.connected()) << connection.error();
  ASSERT_TRUE(connection.Send(
      "POST /external-events/ HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + admin_key_ +
      "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(text.size()) +
      "\r\n\r\n" + text))
      << connection.error();
  const std::vector<HttpResponse> responses = ParseResponses(connection.ReadUntilClosed(5s));
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_TRUE(IsProblem(responses[0], 413, "payload-too-large")) << responses[0].Summary();
  // Nothing was stored, and the server still answers.
  HttpClient admin = Admin();
  const HttpResponse list = admin.Get("/external-events/");
  ASSERT_TRUE(IsJson(list, 200));
  EXPECT_TRUE(list.json.at("data").as_array().empty());
}

TEST_F(ServerTest, MalformedJsonIs400SayingSo) {
  HttpClient admin = Admin();
  for (const std::string body : {"{", "{\"name\": }", "not json", "{\"a\":1}}"}) {
    const HttpResponse r = admin.Request("POST", "/external-events/", body);
    ASSERT_TRUE(IsProblem(r, 400, "invalid-request")) << body;
    EXPECT_NE(r.json.at("detail").as_string().find("JSON"), std::string::npos) << r.body;
  }
}

TEST_F(ServerTest, HostileBodiesGetAnswersAndTheServerSurvives) {
  HttpClient admin = Admin();
  const std::vector<std::string> bodies = {
      std::string(100000, '['),  // deep nesting
      "[]",                      // not an object
      "null",
      R"({"name": "a\u0000b", "url": 1e999})",           // NUL in a string, huge number
      R"({"organizationId": 99999999999999999999999})",  // overflowing integer
      "\xff\xfe{}",                                      // not UTF-8
  };
  for (const auto& body : bodies) {
    const HttpResponse r = admin.Request("POST", "/external-events/", body);
    EXPECT_TRUE(IsProblem(r, 400, "invalid-request")) << body.substr(0, 60);
  }
  EXPECT_TRUE(IsJson(Anonymous().Get("/healthz"), 200));
  EXPECT_TRUE(server_->Running());
}

TEST_F(ServerTest, KeepAliveServesManyRequestsOnOneConnection) {
  HttpClient admin = Admin();
  const HttpResponse first = admin.Get("/healthz");
  ASSERT_TRUE(IsJson(first, 200));
  EXPECT_EQ(admin.last_new_connections(), 1);
  const long port = admin.last_local_port();
  CreateConfig(admin, ConfigBody(1));
  EXPECT_EQ(admin.last_new_connections(), 0);
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(IsJson(admin.Get("/external-events/"), 200));
    EXPECT_EQ(admin.last_new_connections(), 0) << "request " << i << " opened a new connection";
    EXPECT_EQ(admin.last_local_port(), port);
  }
  // Error answers keep the connection too.
  EXPECT_TRUE(IsProblem(admin.Get("/external-events/987654"), 404, "not-found"));
  EXPECT_EQ(admin.last_new_connections(), 0);
}

// Eight threads, each with its own connection, create configurations and read the catalog at
// the same time; every request must succeed and every configuration be stored once.
void ExpectEightConcurrentClientsSucceed(const std::string& base_url, const std::string& key) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 5;
  std::mutex mu;
  std::vector<std::string> failures;
  std::set<std::int64_t> ids;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      HttpClient client(base_url, key);
      for (int i = 0; i < kPerThread; ++i) {
        const HttpResponse created = client.Post(
            "/external-events/", ConfigBody(100 + t, std::to_string(t) + "-" + std::to_string(i)));
        const HttpResponse listed = client.Get("/event-types");
        std::lock_guard lock(mu);
        if (created.status != 201 || !created.is_json) {
          failures.push_back(created.Summary());
          continue;
        }
        if (listed.status != 200) failures.push_back(listed.Summary());
        ids.insert(created.json.at("id").to_number<std::int64_t>());
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_TRUE(failures.empty()) << failures.size() << " failed, first: " << failures.front();
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(kThreads * kPerThread));
  HttpClient admin(base_url, key);
  const HttpResponse list = admin.Get("/external-events/?limit=250");
  ASSERT_TRUE(IsJson(list, 200));
  EXPECT_EQ(list.json.at("data").as_array().size(),
            static_cast<std::size_t>(kThreads * kPerThread));
}

TEST_F(ServerTest, ConcurrentRequestsFromEightThreadsAllSucceed) {
  ExpectEightConcurrentClientsSucceed(server_->base_url(), admin_key_);
}

class SingleThreadTest : public ServerTest {
 protected:
  std::vector<std::string> ServeArgs() const override {
    return {"--io-threads", "1", "--threads", "1"};
  }
};

// One I/O thread and one handler thread still serve many connections at once (one coroutine
// per connection).
TEST_F(SingleThreadTest, OneThreadServesEightConcurrentClients) {
  ExpectEightConcurrentClientsSucceed(server_->base_url(), admin_key_);
}

TEST_F(ServerTest, EveryAnswerIsJsonOrProblemJson) {
  HttpClient admin = Admin();
  HttpClient anonymous = Anonymous();
  for (const HttpResponse& r :
       {admin.Get("/healthz"), admin.Get("/external-events/"), admin.Get("/event-types"),
        admin.Get("/api-keys"), admin.Get("/nowhere"), anonymous.Get("/external-events/"),
        anonymous.Get("/nowhere"), admin.Request("POST", "/external-events/", "{")}) {
    const std::string type = r.Header("content-type");
    EXPECT_TRUE(type.starts_with("application/json") ||
                type.starts_with("application/problem+json"))
        << r.Summary() << " content-type=" << type;
    EXPECT_TRUE(r.is_json) << r.Summary();
  }
}

class SmallBodyLimitTest : public ServerTest {
 protected:
  std::vector<std::string> ServeArgs() const override { return {"--max-body-bytes", "1024"}; }
};

TEST_F(SmallBodyLimitTest, MaxBodyBytesFlagSetsTheLimit) {
  HttpClient admin = Admin();
  json::object big = ConfigBody(1);
  big["name"] = std::string(1500, 'n');
  EXPECT_TRUE(IsProblem(admin.Post("/external-events/", big), 413, "payload-too-large"));
  const json::object small = ConfigBody(1);
  ASSERT_LT(json::serialize(small).size(), 1024u);
  EXPECT_TRUE(IsJson(admin.Post("/external-events/", small), 201));
}

class DebugLogTest : public ServerTest {
 protected:
  std::vector<std::string> ServeArgs() const override { return {"--log-level", "debug"}; }
};

// Secrets, API keys and attribute values must never reach the log, at any level.
TEST_F(DebugLogTest, LogNeverContainsSecretsOrKeys) {
  const std::string api_key_attribute = "ak_live_SENSITIVE_9f8e7d6c5b4a";
  const std::string given_secret =
      "whsec_" + std::string("c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0IQ==");
  const std::string wrong_key = "whk_" + std::string(64, 'e');

  HttpClient admin = Admin();
  const std::string org_key = CreateOrgKey(5);
  ASSERT_FALSE(org_key.empty());
  json::object body = ConfigBody(5);
  body["attributes"] = {{"apiKey", api_key_attribute}, {"organizationCode", "ORG-5"}};
  body["secret"] = given_secret;
  const json::object config = CreateConfig(admin, body);
  ASSERT_FALSE(config.empty());
  ASSERT_EQ(config.at("secret"), json::value(given_secret));
  const HttpResponse rotated = admin.Request("POST", ConfigPath(config) + "/secret/rotate");
  ASSERT_TRUE(IsJson(rotated, 200));
  const std::string new_secret(rotated.json.at("secret").as_string());

  HttpClient org = WithKey(org_key);
  EXPECT_TRUE(IsJson(org.Get(ConfigPath(config)), 200));
  EXPECT_TRUE(IsJson(org.Patch(ConfigPath(config), json::object{{"name", "renamed"}}), 200));
  HttpClient wrong = WithKey(wrong_key);
  EXPECT_TRUE(IsProblem(wrong.Get("/external-events/"), 401, "unauthorized"));
  // A failing request that echoes a secret in its body must not log it either.
  json::object bad = body;
  bad["url"] = "ftp://nowhere";
  EXPECT_TRUE(IsProblem(admin.Post("/external-events/", bad), 400, "invalid-request", "/url"));

  const auto exit = server_->Terminate();
  ASSERT_TRUE(exit.has_value() && exit->Clean());
  const std::string log = server_->ReadStderr();
  // The log exists and covers the requests (one line per request), so the checks below bite.
  ASSERT_NE(log.find("/external-events"), std::string::npos) << log.substr(0, 2000);
  ASSERT_NE(log.find("401"), std::string::npos) << log.substr(0, 2000);
  for (const std::string& needle :
       {admin_key_, org_key, wrong_key, given_secret, new_secret, api_key_attribute,
        std::string("c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0IQ"), admin_key_.substr(4),
        org_key.substr(4)}) {
    EXPECT_EQ(log.find(needle), std::string::npos) << "log contains " << needle;
  }
}

}  // namespace
}  // namespace webhookd::itest
