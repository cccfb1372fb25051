// GoogleTest glue over the harness: a fixture that runs one webhookd server per test (own
// temporary directory and database on the backend TestBackend() names, port 0), and
// assertions for problem+json answers and JSON bodies.
#pragma once

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "harness.hpp"

namespace webhookd::itest {

namespace json = boost::json;

// The 12 catalog event types, in id order (id = index + 1).
const std::vector<std::string>& EventTypeNames();

// A valid create body for POST /external-events/ (an https:// URL on a public host name).
json::object ConfigBody(std::int64_t organization_id, std::string_view name = "orders hook",
                        int webhook_event_id = 5);

// The value at a JSON pointer, or nullptr when absent (also when `v` is not a container).
const json::value* At(const json::value& v, std::string_view pointer);

// Parses an RFC 3339 UTC timestamp "YYYY-MM-DDTHH:MM:SS[.fff]Z"; nullopt for anything else.
std::optional<std::chrono::system_clock::time_point> ParseRfc3339(std::string_view text);

// Succeeds when `r` is an RFC 9457 problem: the status, content type
// application/problem+json, type "https://webhookd.dev/problems/<slug>", a "status" member
// equal to the HTTP status, a non-empty "title" and a string "detail"; and, when `field` is
// given, "field" equal to it.
::testing::AssertionResult IsProblem(const HttpResponse& r, long status, std::string_view slug,
                                     std::string_view field = {});

// Replaces every occurrence of `from` in `text` with `to`.
std::string ReplaceAll(std::string text, const std::string& from, const std::string& to);

// The problem body with the id it mentions replaced, to compare "not yours" with "no such id".
json::value ProblemWithoutId(const HttpResponse& r, const std::string& id);

// Succeeds when `r` has `status` and a JSON body (content type application/json).
::testing::AssertionResult IsJson(const HttpResponse& r, long status);

// Splits what a RawConnection received into HTTP responses (bodies delimited by
// Content-Length, as webhookd sends them). Bytes after the last whole response are dropped.
std::vector<HttpResponse> ParseResponses(std::string_view bytes);

// Every test gets its own server: a fresh temporary directory, a fresh database (see
// TestDatabase: an SQLite file in that directory, or with WEBHOOKD_TEST_BACKEND=postgres a new
// PostgreSQL database), the server on 127.0.0.1:0, and the admin key the first start printed.
// The PostgreSQL variant skips, saying so, when WEBHOOKD_TEST_PG_URL is not set.
class ServerTest : public ::testing::Test {
 protected:
  // Derived fixtures that extend SetUp return early when IsSkipped() or HasFatalFailure().
  void SetUp() override;
  void TearDown() override;

  // Arguments after `serve --listen 127.0.0.1:0 --db <db_url()>`. Override for other flags.
  virtual std::vector<std::string> ServeArgs() const { return {}; }

  // Starts a server on this test's database (fails the test if it cannot start).
  void StartServer();
  // SIGTERM, expects exit 0, starts again on the same database.
  void RestartServer();

  HttpClient Admin() const { return HttpClient(server_->base_url(), admin_key_); }
  HttpClient Anonymous() const { return HttpClient(server_->base_url()); }
  HttpClient WithKey(std::string key) const {
    return HttpClient(server_->base_url(), std::move(key));
  }

  // Creates an organization key through POST /api-keys and returns the key text ("" and a
  // test failure if that does not work).
  std::string CreateOrgKey(std::int64_t organization_id, std::string_view name = "org key");
  // POST /external-events/ with `body`; expects 201 and returns the object ({} on failure).
  json::object CreateConfig(HttpClient& client, const json::object& body);
  // Path of a configuration: "/external-events/<id>".
  static std::string ConfigPath(const json::object& config);

  // This test's database as `--db` takes it; the same for every start within the test.
  const std::string& db_url() const { return database_->url(); }

  TempDir dir_;
  std::unique_ptr<TestDatabase> database_;  // outlives server_
  std::unique_ptr<ServerProcess> server_;
  std::string admin_key_;  // from the first start
};

}  // namespace webhookd::itest
