// The receiver-side command-line tools against a real server: `webhookd listen` (a local
// receiver), `trigger` (sample events), `verify` (offline checks of captures) and `demo`.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <webhookd/verify.hpp>

#include "delivery_support.hpp"

extern char** environ;

namespace webhookd::itest {
namespace {

constexpr std::string_view kSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
constexpr std::string_view kOtherSecret = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";

void WriteFile(const std::filesystem::path& path, std::string_view text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

std::size_t Occurrences(const std::string& text, std::string_view needle) {
  std::size_t count = 0;
  for (std::size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + needle.size())) {
    ++count;
  }
  return count;
}

// `webhookd listen --port 0 ...` running in the background, its output in a file. (The
// harness's ServerProcess waits for the server's own listening line, which listen does not
// print.) The child dies with the test thread that started it.
class ListenProcess {
 public:
  ListenProcess(const std::vector<std::string>& args, const std::filesystem::path& dir)
      : output_path_(dir / ("listen-" + std::to_string(sequence_++) + ".out")) {
    args_ = {WebhookdBinary(), "listen", "--port", "0"};
    args_.insert(args_.end(), args.begin(), args.end());
    for (char** e = environ; *e != nullptr; ++e) {
      if (!std::string_view(*e).starts_with("WEBHOOKD_")) env_.emplace_back(*e);
    }
  }
  ~ListenProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  ListenProcess(const ListenProcess&) = delete;
  ListenProcess& operator=(const ListenProcess&) = delete;

  // Starts the process and waits for "webhookd listen: receiving on http://127.0.0.1:PORT".
  ::testing::AssertionResult Start() {
    std::vector<char*> argv;
    for (std::string& a : args_) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<char*> envp;
    for (std::string& e : env_) envp.push_back(e.data());
    envp.push_back(nullptr);
    const int fd = open(output_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return ::testing::AssertionFailure() << "cannot create " << output_path_;
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
      execve(argv[0], argv.data(), envp.data());
      _exit(127);
    }
    close(fd);
    static const std::regex kReceiving(
        R"(webhookd listen: receiving on (http://127\.0\.0\.1:\d+)\n)");
    const bool started = WaitUntil(
        [&] {
          std::smatch m;
          const std::string out = Output();
          if (!std::regex_search(out, m, kReceiving)) return false;
          base_url_ = m[1];
          return true;
        },
        10s);
    if (!started) return ::testing::AssertionFailure() << "listen did not start:\n" << Output();
    return ::testing::AssertionSuccess();
  }

  std::string Output() const { return ReadFile(output_path_); }
  std::string Url(std::string_view path) const { return base_url_ + std::string(path); }

  // Waits until `needle` appears `count` times in the output.
  bool WaitForOutput(std::string_view needle, std::size_t count = 1,
                     std::chrono::milliseconds timeout = 15s) const {
    return WaitUntil([&] { return Occurrences(Output(), needle) >= count; }, timeout);
  }

  // SIGTERM and the exit code; -1 if it did not exit normally within 10 s.
  int Terminate() {
    kill(pid_, SIGTERM);
    int status = 0;
    const bool exited = WaitUntil([&] { return waitpid(pid_, &status, WNOHANG) == pid_; }, 10s);
    if (!exited) return -1;
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

 private:
  static inline int sequence_ = 0;
  std::vector<std::string> args_;
  std::vector<std::string> env_;
  std::filesystem::path output_path_;
  std::string base_url_;
  int pid_ = -1;
};

class CliToolsTest : public DeliveryTest {
 protected:
  std::unique_ptr<ListenProcess> StartListen(const std::vector<std::string>& args) {
    auto listen = std::make_unique<ListenProcess>(args, dir_.path());
    EXPECT_TRUE(listen->Start());
    return listen;
  }

  // A configuration of organization 1 for `event_name`, signing with `secret`.
  json::object Hook(std::string_view event_name, const std::string& url,
                    std::string_view secret = kSecret) {
    HttpClient admin = Admin();
    json::object body = HookBody(1, event_name, url);
    body["secret"] = secret;
    return CreateConfig(admin, body);
  }

  // POST /events with the sample payload; returns the 202 answer ({} and a failure otherwise).
  json::object Send(std::string_view event_name) {
    HttpClient admin = Admin();
    const HttpResponse r = PostEvent(admin, event_name, 1, SamplePayload(admin, event_name));
    EXPECT_TRUE(IsJson(r, 202));
    return r.json.is_object() ? r.json.as_object() : json::object();
  }

  static std::string DeliveryIdOf(const json::object& accepted) {
    const json::value* deliveries = accepted.if_contains("deliveries");
    if (deliveries == nullptr || !deliveries->is_array() || deliveries->as_array().empty()) {
      ADD_FAILURE() << "no delivery in " << json::serialize(accepted);
      return {};
    }
    return std::string(deliveries->as_array()[0].at("id").as_string());
  }

  EnvVars TriggerEnv() const {
    return {{"WEBHOOKD_SERVER", server_->base_url()}, {"WEBHOOKD_API_KEY", admin_key_}};
  }
};

TEST_F(CliToolsTest, ListenVerifiesAndPrintsARealDelivery) {
  auto listen = StartListen({"--secret", std::string(kSecret), "--print-body"});
  ASSERT_FALSE(Hook("BookAppointment", listen->Url("/hooks")).empty());
  const json::object accepted = Send("BookAppointment");
  const std::string event_id(accepted.at("id").as_string());

  ASSERT_TRUE(listen->WaitForOutput("answered 200")) << listen->Output();
  const std::string out = listen->Output();
  EXPECT_NE(out.find("/hooks  BookAppointment  " + event_id + "  verified  answered 200\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("\n    {\n      \"eventName\": \"BookAppointment\",\n"), std::string::npos)
      << "--print-body shows the pretty JSON:\n"
      << out;
  EXPECT_EQ(listen->Terminate(), 0);
  EXPECT_NE(listen->Output().find("received 1: verified 1, failed verification 0, unverified 0; "
                                  "answered 2xx 1, other 0"),
            std::string::npos)
      << listen->Output();
}

TEST_F(CliToolsTest, ListenWithTheWrongSecretSaysWhyAndAnswers401) {
  auto listen = StartListen({"--secret", std::string(kOtherSecret)});
  ASSERT_FALSE(Hook("Notification", listen->Url("/n")).empty());
  const std::string delivery_id = DeliveryIdOf(Send("Notification"));

  ASSERT_TRUE(listen->WaitForOutput("  answered 401\n")) << listen->Output();
  EXPECT_NE(listen->Output().find("NOT verified: no v1 signature matches this secret; the secret "
                                  "is wrong, or the id, timestamp or body were changed after "
                                  "signing (no_matching_signature)  answered 401"),
            std::string::npos)
      << listen->Output();
  HttpClient admin = Admin();
  const json::array attempts = WaitForAttempts(admin, delivery_id, 1, 10s);
  ASSERT_FALSE(attempts.empty());
  EXPECT_EQ(attempts[0].at("statusCode"), 401);
  EXPECT_EQ(listen->Terminate(), 0);
  EXPECT_NE(listen->Output().find("verified 0, failed verification "), std::string::npos);
}

TEST_F(CliToolsTest, ListenStatus503MakesTheServerRetry) {
  auto listen = StartListen({"--secret", std::string(kSecret), "--status", "503"});
  ASSERT_FALSE(Hook("OpenTele", listen->Url("/")).empty());
  const std::string delivery_id = DeliveryIdOf(Send("OpenTele"));

  HttpClient admin = Admin();
  const json::array attempts = WaitForAttempts(admin, delivery_id, 2, 10s);
  ASSERT_GE(attempts.size(), 2u) << listen->Output();
  EXPECT_EQ(attempts[0].at("statusCode"), 503);
  EXPECT_EQ(attempts[1].at("statusCode"), 503);
  EXPECT_TRUE(listen->WaitForOutput("verified  answered 503", 2)) << listen->Output();
}

TEST_F(CliToolsTest, ListenRespondBodyBecomesTheInferenceResult) {
  const json::value observations = json::parse(
      R"({"observations":[{"code":"2093-3","value":"212","unit":"mg/dL"}],"model":"test"})");
  WriteFile(dir_.File("observations.json"), json::serialize(observations));
  auto listen = StartListen(
      {"--secret", std::string(kSecret), "--respond", dir_.File("observations.json").string()});
  ASSERT_FALSE(Hook("InferenceToObservations", listen->Url("/infer")).empty());
  const json::object accepted = Send("InferenceToObservations");
  const std::string event_id(accepted.at("id").as_string());

  HttpClient admin = Admin();
  WaitForStatus(admin, DeliveryIdOf(accepted), "succeeded", 10s);
  const HttpResponse result = admin.Get("/events/" + event_id + "/result");
  ASSERT_TRUE(IsJson(result, 200));
  const json::value* body = At(result.json, "/results/0/result");
  ASSERT_NE(body, nullptr) << result.Summary();
  EXPECT_EQ(*body, observations);
}

TEST_F(CliToolsTest, TriggerPrintsTheEventAndWaitEndsWithSucceeded) {
  HttpReceiver receiver;
  const json::object config = Hook("BookAppointment", receiver.Url("/hook"));
  const CommandResult r = RunCommand(
      {"trigger", "BookAppointment", "--org", "1", "--wait", "--timeout", "20s"}, TriggerEnv());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;

  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.out, m, std::regex(R"(event (evt_\w+) accepted)"))) << r.out;
  const std::string event_id = m[1];
  EXPECT_TRUE(std::regex_search(
      r.out, std::regex("delivery dlv_\\w+  configuration " + std::to_string(IdOf(config)))))
      << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(dlv_\w+  configuration \d+  succeeded  )"
                                                  R"(attempts 1  last status 200)")))
      << r.out;
  ASSERT_EQ(receiver.Count(), 1u);
  EXPECT_EQ(receiver.Requests()[0].Header("webhook-id"), event_id);
  HttpClient admin = Admin();
  EXPECT_TRUE(IsJson(admin.Get("/events/" + event_id), 200));
}

TEST_F(CliToolsTest, TriggerAllSendsEveryEventType) {
  const CommandResult r = RunCommand({"trigger", "all", "--org", "1"}, TriggerEnv());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  for (const std::string& name : EventTypeNames()) {
    EXPECT_TRUE(std::regex_search(r.out, std::regex(name + R"(: event evt_\w+ accepted)")))
        << name << " missing from:\n"
        << r.out;
  }
}

TEST_F(CliToolsTest, TriggerShowsTheServersDetailAndFieldAndExits1) {
  WriteFile(dir_.File("payload.json"), R"({"eventName": "SomethingElse"})");
  const CommandResult r = RunCommand(
      {"trigger", "BookAppointment", "--org", "1", "--payload", dir_.File("payload.json").string()},
      TriggerEnv());
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("payload does not match the BookAppointment schema"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("(field /payload/eventName)"), std::string::npos) << r.err;
}

TEST(CliToolsStandaloneTest, TriggerWithAnUnknownEventExits2AndListsTheTypes) {
  const CommandResult r = RunCommand({"trigger", "NoSuchEvent", "--org", "1"}, {}, 10s);
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("unknown event type 'NoSuchEvent'"), std::string::npos) << r.err;
  for (const std::string& name : EventTypeNames()) {
    EXPECT_NE(r.err.find(name), std::string::npos) << name << " missing from:\n" << r.err;
  }
}

// A port nothing listens on: bound to learn a free one, then closed.
int UnusedPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

TEST(CliToolsStandaloneTest, TriggerThatCannotReachTheServerSaysHowToNameIt) {
  const std::string server = "http://127.0.0.1:" + std::to_string(UnusedPort());
  const CommandResult r = RunCommand({"trigger", "BookAppointment", "--org", "1", "--key", "whk_x"},
                                     {{"WEBHOOKD_SERVER", server}}, 10s);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("cannot reach " + server), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("is `webhookd serve` running at " + server +
                       "? Name the server with --server URL or WEBHOOKD_SERVER=URL"),
            std::string::npos)
      << r.err;
}

TEST(CliToolsStandaloneTest, VerifyAcceptsAGoodCaptureAndSaysWhyOthersFail) {
  TempDir dir;
  const std::string body = R"({"eventName":"Notification","id":7})";
  const std::string id = "evt_01J05R8Q85YZVNXWKS66RZZ59A";
  const std::int64_t signed_at = 1718180142;  // an old capture: --now makes it checkable
  const std::optional<std::string> signature = Sign(kSecret, id, signed_at, body);
  ASSERT_TRUE(signature.has_value());
  WriteFile(dir.File("good.json"), body);
  std::string tampered = body;
  tampered[tampered.size() - 2] = '8';
  WriteFile(dir.File("tampered.json"), tampered);
  auto verify = [&](const std::string& file, std::vector<std::string> extra) {
    std::vector<std::string> args = {
        "verify",   "--secret",    std::string(kSecret),      "--id",
        id,         "--timestamp", std::to_string(signed_at), "--signature",
        *signature, "--body",      dir.File(file).string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return RunCommand(args, {}, 10s);
  };
  const std::string now = std::to_string(signed_at + 30);

  const CommandResult good = verify("good.json", {"--now", now});
  EXPECT_EQ(good.exit_code, 0) << good.out << good.err;
  EXPECT_EQ(good.out, "verified\n");

  const CommandResult changed = verify("tampered.json", {"--now", now});
  EXPECT_EQ(changed.exit_code, 1) << changed.out << changed.err;
  EXPECT_EQ(changed.out.rfind("NOT verified (no_matching_signature): ", 0), 0u) << changed.out;

  const CommandResult stale = verify("good.json", {});
  EXPECT_EQ(stale.exit_code, 1) << stale.out << stale.err;
  EXPECT_NE(stale.out.find("(timestamp_too_old): webhook-timestamp is "), std::string::npos)
      << stale.out;

  const CommandResult tight = verify("good.json", {"--now", now, "--tolerance", "10s"});
  EXPECT_EQ(tight.exit_code, 1) << tight.out;
  EXPECT_NE(tight.out.find("30 s in the past; at most 10 s is accepted"), std::string::npos)
      << tight.out;
}

TEST(CliToolsStandaloneTest, DemoDeliversAllTwelveEventsWithVerifiedSignatures) {
  const CommandResult r = RunCommand({"demo"}, {}, 60s);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  for (const std::string& name : EventTypeNames()) {
    const std::string attempts = name == "InferenceToObservations" ? "3" : "1";
    EXPECT_TRUE(std::regex_search(
        r.out, std::regex("\n" + name + R"( +dlv_\w+ +succeeded +)" + attempts + " +200 +yes\n")))
        << name << " row missing or wrong in:\n"
        << r.out;
  }
  EXPECT_NE(r.out.find("\"code\": \"2093-3\""), std::string::npos)
      << "the InferenceToObservations result shows the observations:\n"
      << r.out;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.out, m, std::regex(R"(SQLite database in (\S+),)"))) << r.out;
  EXPECT_FALSE(std::filesystem::exists(std::string(m[1]))) << "the demo leaves " << m[1];
}

}  // namespace
}  // namespace webhookd::itest
