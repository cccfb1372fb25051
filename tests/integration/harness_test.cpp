// Tests of the harness itself (no webhookd involved), so that delivery tests can trust the
// receiver and the process helpers.
#include <signal.h>

#include <fstream>
#include <thread>

#include "test_support.hpp"

namespace webhookd::itest {
namespace {

TEST(HttpReceiverTest, RecordsRequestsAndAnswersWhatTheHandlerSays) {
  HttpReceiver receiver([](const ReceivedRequest& r) {
    ReceiverResponse response;
    response.status = r.target == "/fail" ? 503 : 200;
    response.body = R"({"seen":")" + r.body + "\"}";
    response.headers = {{"Content-Type", "application/json"}, {"Retry-After", "7"}};
    return response;
  });
  HttpClient client("http://127.0.0.1:" + std::to_string(receiver.port()));
  const HttpResponse ok =
      client.Request("POST", "/hooks/a?x=1", "payload-1", {{"Webhook-Id", "msg_1"}});
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.json, json::parse(R"({"seen":"payload-1"})"));
  EXPECT_EQ(ok.Header("retry-after"), "7");
  const HttpResponse failed = client.Request("POST", "/fail", "payload-2");
  EXPECT_EQ(failed.status, 503);
  EXPECT_EQ(client.last_new_connections(), 0) << "the receiver must keep connections alive";

  ASSERT_TRUE(receiver.WaitFor(2, 1s));
  const auto requests = receiver.Requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].index, 0u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].target, "/hooks/a?x=1");
  EXPECT_EQ(requests[0].Header("Webhook-ID"), "msg_1");
  EXPECT_EQ(requests[0].Header("content-type"), "application/json");
  EXPECT_EQ(requests[0].body, "payload-1");
  EXPECT_EQ(requests[1].body, "payload-2");
  EXPECT_EQ(requests[1].connection, requests[0].connection);
  EXPECT_LE(requests[0].arrived, requests[1].arrived);
}

TEST(HttpReceiverTest, ReadsChunkedBodies) {
  HttpReceiver receiver;
  HttpClient client(receiver.Url(""));
  EXPECT_EQ(client.Request("POST", "/c", "chunked body", {{"Transfer-Encoding", "chunked"}}).status,
            200);
  ASSERT_TRUE(receiver.WaitFor(1, 1s));
  EXPECT_EQ(receiver.Requests()[0].body, "chunked body");
}

TEST(HttpReceiverTest, DelaysAndDropsOnCue) {
  HttpReceiver receiver([](const ReceivedRequest& r) {
    ReceiverResponse response;
    if (r.target == "/slow") response.delay = 300ms;
    if (r.target == "/drop") response.close_without_response = true;
    return response;
  });
  HttpClient client(receiver.Url(""));
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(client.Get("/slow").status, 200);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 300ms);
  // A fresh connection: libcurl silently retries a request once when a reused connection
  // closes without an answer, which would record the request twice.
  HttpClient fresh(receiver.Url(""));
  const HttpResponse dropped = fresh.Get("/drop");
  EXPECT_EQ(dropped.status, 0);
  EXPECT_FALSE(dropped.error.empty());
  EXPECT_EQ(receiver.Count(), 2u);
}

TEST(HttpReceiverTest, StopCutsDelaysShortAndWaitForTimesOut) {
  auto receiver = std::make_unique<HttpReceiver>([](const ReceivedRequest&) {
    ReceiverResponse response;
    response.delay = 30s;
    return response;
  });
  std::thread caller([url = receiver->Url("")] {
    HttpClient client(url);
    client.Get("/forever");
  });
  ASSERT_TRUE(receiver->WaitFor(1, 2s));
  EXPECT_FALSE(receiver->WaitFor(2, 50ms));
  const auto start = std::chrono::steady_clock::now();
  receiver.reset();
  caller.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

TEST(RunCommandTest, CapturesOutputAndExitCode) {
  const CommandResult r = RunCommand({"version"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_FALSE(r.out.empty());
}

TEST(TempDirTest, RemovesItselfWithItsContents) {
  std::filesystem::path path;
  {
    TempDir dir;
    path = dir.path();
    std::filesystem::create_directories(dir.File("a/b"));
    std::ofstream(dir.File("a/b/c.txt")) << "x";
    EXPECT_TRUE(std::filesystem::exists(dir.File("a/b/c.txt")));
  }
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(ServerProcessTest, DestructorLeavesNoProcessBehind) {
  TempDir dir;
  int pid = 0;
  {
    auto server =
        ServerProcess::StartServe("sqlite:" + dir.File("db.sqlite").string(), {}, dir.path());
    ASSERT_TRUE(server.ok()) << server.error().message;
    pid = (*server)->pid();
    ASSERT_GT(pid, 0);
    EXPECT_EQ(kill(pid, 0), 0);
  }
  EXPECT_NE(kill(pid, 0), 0) << "process " << pid << " survived its ServerProcess";
}

TEST(ServerProcessTest, KillReportsTheSignal) {
  TempDir dir;
  auto server =
      ServerProcess::StartServe("sqlite:" + dir.File("db.sqlite").string(), {}, dir.path());
  ASSERT_TRUE(server.ok()) << server.error().message;
  const auto exit = (*server)->Kill();
  ASSERT_TRUE(exit.has_value());
  EXPECT_FALSE(exit->exited);
  EXPECT_EQ(exit->signal, SIGKILL);
  EXPECT_FALSE((*server)->Running());
}

}  // namespace
}  // namespace webhookd::itest
