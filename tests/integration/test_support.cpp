#include "test_support.hpp"

#include <ctime>
#include <regex>
#include <sstream>

namespace webhookd::itest {

const std::vector<std::string>& EventTypeNames() {
  static const std::vector<std::string> kNames = {
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
  return kNames;
}

json::object ConfigBody(std::int64_t organization_id, std::string_view name, int webhook_event_id) {
  return json::object{
      {"organizationId", organization_id},
      {"name", name},
      {"url", "https://hooks.example.com/azodha"},
      {"webhookEventId", webhook_event_id},
      {"attributes", {{"apiKey", "ak_test_123"}, {"organizationCode", "ORG-7"}}},
      {"headers", {{"X-Tenant", "acme"}}},
  };
}

const json::value* At(const json::value& v, std::string_view pointer) {
  boost::system::error_code ec;
  const json::value* found = v.find_pointer(pointer, ec);
  return ec ? nullptr : found;
}

std::optional<std::chrono::system_clock::time_point> ParseRfc3339(std::string_view text) {
  static const std::regex kFormat(
      R"((\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.(\d{1,9}))?Z)");
  std::cmatch m;
  if (!std::regex_match(text.begin(), text.end(), m, kFormat)) return std::nullopt;
  std::tm tm{};
  tm.tm_year = std::stoi(m[1]) - 1900;
  tm.tm_mon = std::stoi(m[2]) - 1;
  tm.tm_mday = std::stoi(m[3]);
  tm.tm_hour = std::stoi(m[4]);
  tm.tm_min = std::stoi(m[5]);
  tm.tm_sec = std::stoi(m[6]);
  auto t = std::chrono::system_clock::from_time_t(timegm(&tm));
  if (m[8].matched) {
    const std::string fraction = (m[8].str() + "000000000").substr(0, 9);
    t += std::chrono::duration_cast<std::chrono::system_clock::duration>(
        std::chrono::nanoseconds(std::stoll(fraction)));
  }
  return t;
}

std::string ReplaceAll(std::string text, const std::string& from, const std::string& to) {
  for (auto pos = text.find(from); pos != std::string::npos;
       pos = text.find(from, pos + to.size())) {
    text.replace(pos, from.size(), to);
  }
  return text;
}

json::value ProblemWithoutId(const HttpResponse& r, const std::string& id) {
  return json::parse(ReplaceAll(r.body, id, "{id}"));
}

::testing::AssertionResult IsProblem(const HttpResponse& r, long status, std::string_view slug,
                                     std::string_view field) {
  auto fail = [&](std::string_view why) {
    return ::testing::AssertionFailure()
           << why << "; got " << r.Summary() << " content-type=" << r.Header("content-type");
  };
  if (r.status != status) return fail("expected HTTP " + std::to_string(status));
  if (!r.Header("content-type").starts_with("application/problem+json")) {
    return fail("expected content-type application/problem+json");
  }
  if (!r.is_json || !r.json.is_object()) return fail("expected a JSON object body");
  const json::object& p = r.json.as_object();
  const std::string type = "https://webhookd.dev/problems/" + std::string(slug);
  if (!p.contains("type") || p.at("type") != json::value(type))
    return fail("expected type " + type);
  if (!p.contains("status") || p.at("status") != json::value(status)) {
    return fail("expected member status " + std::to_string(status));
  }
  if (!p.contains("title") || !p.at("title").is_string() || p.at("title").as_string().empty()) {
    return fail("expected a non-empty title");
  }
  if (!p.contains("detail") || !p.at("detail").is_string()) return fail("expected a string detail");
  if (!field.empty() && (!p.contains("field") || p.at("field") != json::value(field))) {
    return fail("expected field " + std::string(field));
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult IsJson(const HttpResponse& r, long status) {
  if (r.status != status || !r.is_json ||
      !r.Header("content-type").starts_with("application/json")) {
    return ::testing::AssertionFailure()
           << "expected HTTP " << status << " application/json; got " << r.Summary()
           << " content-type=" << r.Header("content-type");
  }
  return ::testing::AssertionSuccess();
}

std::vector<HttpResponse> ParseResponses(std::string_view bytes) {
  std::vector<HttpResponse> out;
  for (;;) {
    const std::size_t header_end = bytes.find("\r\n\r\n");
    if (header_end == std::string_view::npos || !bytes.starts_with("HTTP/1.")) return out;
    HttpResponse r;
    std::istringstream lines{std::string(bytes.substr(0, header_end))};
    std::string line;
    std::getline(lines, line);
    r.status = std::stol(line.substr(line.find(' ') + 1, 3));
    while (std::getline(lines, line)) {
      const std::size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string name = line.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      if (!value.empty() && value.back() == '\r') value.pop_back();
      r.headers[name] = value;
    }
    const std::size_t length = std::stoul(
        r.headers.count("content-length") > 0 ? r.headers["content-length"] : std::string("0"));
    if (bytes.size() < header_end + 4 + length) return out;
    r.body = std::string(bytes.substr(header_end + 4, length));
    boost::system::error_code ec;
    r.json = json::parse(r.body, ec);
    r.is_json = !ec;
    out.push_back(std::move(r));
    bytes.remove_prefix(header_end + 4 + length);
  }
}

void ServerTest::SetUp() {
  const std::optional<Backend> backend = TestBackend();
  ASSERT_TRUE(backend.has_value()) << "WEBHOOKD_TEST_BACKEND must be sqlite or postgres";
  if (*backend == Backend::kPostgres && TestPostgresUrl().empty()) {
    GTEST_SKIP() << kNoPostgresMessage;
  }
  auto database = TestDatabase::Create(*backend, dir_.path());
  ASSERT_TRUE(database.ok()) << database.error().message;
  database_ = std::move(database).value();
  StartServer();
  if (server_ != nullptr) {
    admin_key_ = server_->admin_key();
    ASSERT_FALSE(admin_key_.empty())
        << "first start printed no admin key: " << server_->ReadStdout();
  }
}

void ServerTest::TearDown() {
  // Every test ends with an orderly shutdown, so each one also checks that SIGTERM after its
  // requests exits 0 promptly. Tests that stopped the server themselves are left alone.
  if (server_ == nullptr || !server_->Running()) return;
  const auto exit = server_->Terminate(5s);
  EXPECT_TRUE(exit.has_value() && exit->Clean())
      << "server did not exit 0 within 5 s of SIGTERM: "
      << (exit ? exit->Describe() : std::string("still running, killed")) << "\n"
      << server_->ReadStderr().substr(0, 4000);
}

void ServerTest::StartServer() {
  auto started = ServerProcess::StartServe(db_url(), ServeArgs(), dir_.path());
  ASSERT_TRUE(started.ok()) << started.error().message;
  server_ = std::move(started).value();
}

void ServerTest::RestartServer() {
  const auto exit = server_->Terminate();
  ASSERT_TRUE(exit.has_value() && exit->Clean())
      << (exit ? exit->Describe() : std::string("timeout"));
  server_.reset();
  StartServer();
}

std::string ServerTest::CreateOrgKey(std::int64_t organization_id, std::string_view name) {
  HttpClient admin = Admin();
  const HttpResponse r =
      admin.Post("/api-keys", json::object{{"name", name}, {"organizationId", organization_id}});
  EXPECT_TRUE(IsJson(r, 201));
  const json::value* key = At(r.json, "/key");
  if (key == nullptr || !key->is_string()) {
    ADD_FAILURE() << "POST /api-keys returned no key: " << r.Summary();
    return {};
  }
  return std::string(key->as_string());
}

json::object ServerTest::CreateConfig(HttpClient& client, const json::object& body) {
  const HttpResponse r = client.Post("/external-events/", body);
  EXPECT_TRUE(IsJson(r, 201));
  if (r.status != 201 || !r.json.is_object()) return {};
  return r.json.as_object();
}

std::string ServerTest::ConfigPath(const json::object& config) {
  const json::value* id = config.if_contains("id");
  return "/external-events/" + (id != nullptr ? json::serialize(*id) : std::string("missing-id"));
}

}  // namespace webhookd::itest
