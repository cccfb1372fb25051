// The command line: `webhookd version`, `--help`, `keys create`, flags read from the
// environment, and refusal of bad flags.
#include <regex>

#include "test_support.hpp"

namespace webhookd::itest {
namespace {

std::string FirstLine(const std::string& text) { return text.substr(0, text.find('\n')); }

const std::regex kApiKey("whk_[0-9a-f]{64}");

TEST(CliTest, VersionPrintsTheVersion) {
  const CommandResult r = RunCommand({"version"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(FirstLine(r.out), "webhookd 0.1.0");
}

TEST(CliTest, HelpListsTheSubcommands) {
  const CommandResult r = RunCommand({"--help"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  for (const char* word : {"serve", "keys", "version"}) {
    EXPECT_NE(r.out.find(word), std::string::npos) << word << " missing from:\n" << r.out;
  }
}

TEST(CliTest, ServeHelpExplainsEveryFlagAndItsEnvironmentVariable) {
  const CommandResult r = RunCommand({"serve", "--help"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  for (const char* word : {"--listen", "--db", "--allow-insecure-urls", "--threads", "--log-level",
                           "--max-body-bytes", "WEBHOOKD_LISTEN", "WEBHOOKD_DB", "WEBHOOKD_THREADS",
                           "WEBHOOKD_LOG_LEVEL", "127.0.0.1:8080"}) {
    EXPECT_NE(r.out.find(word), std::string::npos) << word << " missing from:\n" << r.out;
  }
}

TEST(CliTest, KeysCreateHelpExplainsItsFlags) {
  const CommandResult r = RunCommand({"keys", "create", "--help"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  for (const char* word : {"--db", "--org", "--name"}) {
    EXPECT_NE(r.out.find(word), std::string::npos) << word << " missing from:\n" << r.out;
  }
}

TEST(CliTest, UnknownFlagFailsWithAMessage) {
  const CommandResult r = RunCommand({"serve", "--no-such-flag"}, {}, 10s);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.exit_code, -1) << "killed or timed out";
  EXPECT_NE((r.err + r.out).find("no-such-flag"), std::string::npos) << r.err << r.out;
}

// Usage errors exit 2, as the docs say, whichever CLI11 error they are (its own codes are
// 105 to 114), and say what was wrong.
TEST(CliTest, UsageErrorsExit2AndSayWhy) {
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  const std::vector<Case> cases = {
      {{}, "A subcommand is required"},
      {{"keys"}, "A subcommand is required"},
      {{"keys", "create", "--org"}, "--org"},
      {{"trigger"}, "event is required"},
      {{"serve", "--no-such-flag"}, "no-such-flag"},
      {{"listen", "--status", "9"}, "--status"},
  };
  for (const Case& c : cases) {
    const CommandResult r = RunCommand(c.args, {}, 10s);
    EXPECT_EQ(r.exit_code, 2) << ::testing::PrintToString(c.args) << "\n" << r.err;
    EXPECT_NE(r.err.find(c.says), std::string::npos) << ::testing::PrintToString(c.args) << r.err;
  }
}

TEST(CliTest, ServeRefusesAnUnsupportedDatabaseUrl) {
  TempDir dir;
  const CommandResult r =
      RunCommand({"serve", "--listen", "127.0.0.1:0", "--db", "mysql://localhost/x"}, {}, 10s);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.exit_code, -1) << "killed or timed out (did it start serving?)";
  EXPECT_EQ(r.out.find("webhookd listening on"), std::string::npos) << r.out;
}

TEST(CliTest, ServeRefusesABadListenAddress) {
  TempDir dir;
  const CommandResult r = RunCommand(
      {"serve", "--listen", "not-an-address", "--db", "sqlite:" + dir.File("db").string()}, {},
      10s);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.exit_code, -1) << "killed or timed out (did it start serving?)";
}

TEST(CliTest, ServeReadsItsFlagsFromTheEnvironment) {
  TempDir dir;
  const auto db = dir.File("env.sqlite");
  ServerProcess server({"serve"},
                       {{"WEBHOOKD_LISTEN", "127.0.0.1:0"},
                        {"WEBHOOKD_DB", "sqlite:" + db.string()},
                        {"WEBHOOKD_ALLOW_INSECURE_URLS", "true"}},
                       dir.path());
  const Status started = server.Start();
  ASSERT_TRUE(started.ok()) << started.error().message;
  EXPECT_GT(server.port(), 0);
  EXPECT_TRUE(std::filesystem::exists(db));
  ASSERT_FALSE(server.admin_key().empty());
  // WEBHOOKD_ALLOW_INSECURE_URLS took effect: an http:// URL is accepted.
  HttpClient admin(server.base_url(), server.admin_key());
  json::object body = ConfigBody(1);
  body["url"] = "http://hooks.example.com/plain";
  EXPECT_TRUE(IsJson(admin.Post("/external-events/", body), 201));
  const auto exit = server.Terminate();
  ASSERT_TRUE(exit.has_value());
  EXPECT_TRUE(exit->Clean()) << exit->Describe();
}

TEST(CliTest, CommandLineFlagsWinOverTheEnvironment) {
  TempDir dir;
  ServerProcess server(
      {"serve", "--listen", "127.0.0.1:0", "--db", "sqlite:" + dir.File("flag.sqlite").string()},
      {{"WEBHOOKD_DB", "sqlite:" + dir.File("env.sqlite").string()}}, dir.path());
  const Status started = server.Start();
  ASSERT_TRUE(started.ok()) << started.error().message;
  EXPECT_TRUE(std::filesystem::exists(dir.File("flag.sqlite")));
  EXPECT_FALSE(std::filesystem::exists(dir.File("env.sqlite")));
}

// Keys made by the CLI work against a server that is already running on the same database.
class KeysCreateTest : public ServerTest {};

TEST_F(KeysCreateTest, OrganizationKeyPrintedAloneAndScopedToItsOrganization) {
  const CommandResult r =
      RunCommand({"keys", "create", "--db", db_url(), "--org", "7", "--name", "ci"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string key = FirstLine(r.out);
  ASSERT_TRUE(std::regex_match(key, kApiKey)) << r.out;

  HttpClient admin = Admin();
  const json::object mine = CreateConfig(admin, ConfigBody(7, "org 7"));
  const json::object theirs = CreateConfig(admin, ConfigBody(8, "org 8"));

  HttpClient org = WithKey(key);
  const HttpResponse list = org.Get("/external-events/");
  ASSERT_TRUE(IsJson(list, 200));
  ASSERT_EQ(list.json.at("data").as_array().size(), 1u) << list.body;
  EXPECT_EQ(list.json.at("data").as_array()[0].at("id"), mine.at("id"));
  EXPECT_TRUE(IsProblem(org.Get(ConfigPath(theirs)), 404, "not-found"));

  // It is listed (without its secret) under the name given.
  const HttpResponse keys = admin.Get("/api-keys");
  ASSERT_TRUE(IsJson(keys, 200));
  bool found = false;
  for (const auto& k : keys.json.at("data").as_array()) {
    if (k.at("name") == json::value("ci")) {
      found = true;
      EXPECT_EQ(k.at("organizationId"), json::value(7));
    }
  }
  EXPECT_TRUE(found) << keys.body;
  EXPECT_EQ(keys.body.find(key), std::string::npos);
}

TEST_F(KeysCreateTest, AdminKeySeesEveryOrganization) {
  const CommandResult r = RunCommand({"keys", "create", "--db", db_url()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string key = FirstLine(r.out);
  ASSERT_TRUE(std::regex_match(key, kApiKey)) << r.out;
  EXPECT_NE(key, admin_key_);

  HttpClient admin = Admin();
  CreateConfig(admin, ConfigBody(1, "a"));
  CreateConfig(admin, ConfigBody(2, "b"));
  HttpClient cli_admin = WithKey(key);
  const HttpResponse list = cli_admin.Get("/external-events/");
  ASSERT_TRUE(IsJson(list, 200));
  EXPECT_EQ(list.json.at("data").as_array().size(), 2u) << list.body;
  // Admin keys may create keys.
  EXPECT_TRUE(IsJson(cli_admin.Post("/api-keys", json::object{{"name", "x"}}), 201));
}

TEST_F(KeysCreateTest, EachKeyIsNew) {
  const CommandResult a = RunCommand({"keys", "create", "--db", db_url(), "--org", "1"});
  const CommandResult b = RunCommand({"keys", "create", "--db", db_url(), "--org", "1"});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_NE(FirstLine(a.out), FirstLine(b.out));
  EXPECT_TRUE(IsJson(WithKey(FirstLine(a.out)).Get("/external-events/"), 200));
  EXPECT_TRUE(IsJson(WithKey(FirstLine(b.out)).Get("/external-events/"), 200));
}

}  // namespace
}  // namespace webhookd::itest
