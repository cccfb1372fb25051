#include "delivery/curl_http_client.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace webhookd::delivery {
namespace {

struct ReceivedRequest {
  std::string head;  // request line and headers
  std::string body;
};

// A one-thread HTTP/1.1 server on 127.0.0.1 for these tests: one request per connection,
// answered with the raw text the handler returns, or never answered when it returns nullopt
// (the connection stays open until the server stops).
class TinyHttpServer {
 public:
  using Handler = std::function<std::optional<std::string>(const ReceivedRequest&)>;

  explicit TinyHttpServer(Handler handler) : handler_(std::move(handler)) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
        listen(listen_fd_, 16) != 0 ||
        getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      ADD_FAILURE() << "cannot listen on 127.0.0.1";
    }
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }

  ~TinyHttpServer() {
    stop_ = true;
    thread_.join();
    for (int fd : silent_) close(fd);
    close(listen_fd_);
  }

  std::string Url(std::string_view path = "/hook") const {
    return "http://127.0.0.1:" + std::to_string(port_) + std::string(path);
  }

  std::vector<ReceivedRequest> requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  void Serve() {
    while (!stop_) {
      pollfd poll_fd{listen_fd_, POLLIN, 0};
      if (poll(&poll_fd, 1, 20) <= 0) continue;
      int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      std::optional<ReceivedRequest> request = Read(fd);
      if (!request) {
        close(fd);
        continue;
      }
      {
        std::lock_guard lock(mutex_);
        requests_.push_back(*request);
      }
      std::optional<std::string> response = handler_(*request);
      if (!response) {
        silent_.push_back(fd);
        continue;
      }
      WriteAll(fd, *response);
      close(fd);
    }
  }

  std::optional<ReceivedRequest> Read(int fd) {
    std::string data;
    char buffer[4096];
    std::size_t head_end;
    while ((head_end = data.find("\r\n\r\n")) == std::string::npos) {
      if (!ReadSome(fd, buffer, sizeof buffer, data)) return std::nullopt;
    }
    ReceivedRequest request{data.substr(0, head_end), data.substr(head_end + 4)};
    std::size_t length = ContentLength(request.head);
    while (request.body.size() < length) {
      if (!ReadSome(fd, buffer, sizeof buffer, request.body)) return std::nullopt;
    }
    return request;
  }

  bool ReadSome(int fd, char* buffer, std::size_t size, std::string& into) {
    pollfd poll_fd{fd, POLLIN, 0};
    if (poll(&poll_fd, 1, 5'000) <= 0) return false;
    ssize_t n = read(fd, buffer, size);
    if (n <= 0) return false;
    into.append(buffer, static_cast<std::size_t>(n));
    return true;
  }

  static std::size_t ContentLength(const std::string& head) {
    std::string lower = head;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::size_t at = lower.find("content-length:");
    if (at == std::string::npos) return 0;
    return std::stoul(head.substr(at + 15));
  }

  static void WriteAll(int fd, std::string_view data) {
    while (!data.empty()) {
      ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
  }

  Handler handler_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::vector<int> silent_;  // server thread only, then the destructor
  std::mutex mutex_;
  std::vector<ReceivedRequest> requests_;  // guarded by mutex_
};

std::string Response(std::string_view status_line, std::string_view headers, std::string body) {
  return std::string(status_line) + "\r\n" + std::string(headers) +
         "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

std::unique_ptr<CurlHttpClient> Client(std::vector<std::string> allowed = {"127.0.0.0/8"}) {
  CurlHttpClientOptions options;
  Result<SsrfGuard> guard = SsrfGuard::WithAllowList(allowed);
  EXPECT_TRUE(guard.ok());
  options.ssrf_guard = *guard;
  options.shutdown_grace = std::chrono::milliseconds(50);
  Result<std::unique_ptr<CurlHttpClient>> client = CurlHttpClient::Create(std::move(options));
  EXPECT_TRUE(client.ok());
  return std::move(*client);
}

HttpRequest Post(std::string url, std::int64_t timeout_ms = 5'000) {
  HttpRequest request;
  request.url = std::move(url);
  request.headers = {{"content-type", "application/json"}, {"webhook-id", "evt_1"}};
  request.body = R"({"hello":"world"})";
  request.timeout_ms = timeout_ms;
  return request;
}

HttpResponse SendAndWait(HttpClient& client, HttpRequest request) {
  std::promise<HttpResponse> promise;
  std::future<HttpResponse> future = promise.get_future();
  client.Send(std::move(request), [&promise](HttpResponse r) { promise.set_value(std::move(r)); });
  return future.get();
}

TEST(CurlHttpClientTest, PostsAndCapturesStatusHeadersAndBody) {
  TinyHttpServer server([](const ReceivedRequest&) {
    return Response("HTTP/1.1 201 Created",
                    "Content-Type: application/json\r\nX-Custom:   spaced value  \r\n",
                    R"({"ok":true})");
  });
  auto client = Client();
  HttpResponse response = SendAndWait(*client, Post(server.Url()));

  EXPECT_EQ(response.status_code, 201);
  EXPECT_FALSE(response.transport_error);
  EXPECT_EQ(response.error, "");
  EXPECT_EQ(response.body, R"({"ok":true})");
  EXPECT_FALSE(response.body_truncated);
  EXPECT_EQ(FindHeader(response.headers, "content-type"), "application/json");
  EXPECT_EQ(FindHeader(response.headers, "x-custom"), "spaced value");
  EXPECT_GE(response.duration_ms, 0);

  std::vector<ReceivedRequest> received = server.requests();
  ASSERT_EQ(received.size(), 1u);
  EXPECT_TRUE(received[0].head.starts_with("POST /hook HTTP/1.1\r\n")) << received[0].head;
  EXPECT_NE(received[0].head.find("\r\ncontent-type: application/json"), std::string::npos);
  EXPECT_NE(received[0].head.find("\r\nwebhook-id: evt_1"), std::string::npos);
  EXPECT_EQ(received[0].head.find("Expect:"), std::string::npos);
  EXPECT_EQ(received[0].body, R"({"hello":"world"})");
}

TEST(CurlHttpClientTest, KeepsOnlyTheFirst64KiBOfTheBody) {
  std::string big(100 * 1024, 'x');
  for (std::size_t i = 0; i < big.size(); i += 1000) big[i] = 'y';
  TinyHttpServer server(
      [&](const ReceivedRequest&) { return Response("HTTP/1.1 200 OK", "", big); });
  auto client = Client();
  HttpResponse response = SendAndWait(*client, Post(server.Url()));
  EXPECT_EQ(response.status_code, 200);
  EXPECT_FALSE(response.transport_error);
  EXPECT_TRUE(response.body_truncated);
  EXPECT_EQ(response.body, big.substr(0, kMaxResponseBodyBytes));
}

TEST(CurlHttpClientTest, ReturnsRedirectsWithoutFollowingThem) {
  TinyHttpServer server([](const ReceivedRequest&) {
    return Response("HTTP/1.1 302 Found", "Location: /elsewhere\r\n", "");
  });
  auto client = Client();
  HttpResponse response = SendAndWait(*client, Post(server.Url()));
  EXPECT_EQ(response.status_code, 302);
  EXPECT_FALSE(response.transport_error);
  EXPECT_EQ(FindHeader(response.headers, "location"), "/elsewhere");
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST(CurlHttpClientTest, TimeoutIsATransportError) {
  TinyHttpServer server([](const ReceivedRequest&) { return std::nullopt; });
  auto client = Client();
  HttpResponse response = SendAndWait(*client, Post(server.Url(), 200));
  EXPECT_EQ(response.status_code, 0);
  EXPECT_TRUE(response.transport_error);
  EXPECT_FALSE(response.cancelled);
  EXPECT_TRUE(response.error.starts_with("Timeout was reached: ")) << response.error;
}

TEST(CurlHttpClientTest, ConnectionRefusedIsATransportError) {
  int port;
  {
    TinyHttpServer closed([](const ReceivedRequest&) { return std::nullopt; });
    port = std::stoi(closed.Url("").substr(std::string("http://127.0.0.1:").size()));
  }
  auto client = Client();
  HttpResponse response =
      SendAndWait(*client, Post("http://127.0.0.1:" + std::to_string(port) + "/"));
  EXPECT_TRUE(response.transport_error);
  EXPECT_TRUE(response.error.starts_with("Couldn't connect to server: ")) << response.error;
}

TEST(CurlHttpClientTest, SsrfGuardRefusesLoopbackWithoutAllowList) {
  TinyHttpServer server([](const ReceivedRequest&) { return Response("HTTP/1.1 200 OK", "", ""); });
  auto client = Client({});
  HttpResponse response = SendAndWait(*client, Post(server.Url()));
  EXPECT_EQ(response.status_code, 0);
  EXPECT_TRUE(response.transport_error);
  EXPECT_EQ(response.error,
            "refused 127.0.0.1: loopback address; allow it with --allow-target or "
            "WEBHOOKD_ALLOW_TARGETS");
  EXPECT_TRUE(server.requests().empty());
}

TEST(CurlHttpClientTest, SsrfGuardAllowsAllowListedTarget) {
  TinyHttpServer server(
      [](const ReceivedRequest&) { return Response("HTTP/1.1 204 No Content", "", ""); });
  auto client = Client({"127.0.0.1/32"});
  HttpResponse response = SendAndWait(*client, Post(server.Url()));
  EXPECT_EQ(response.status_code, 204);
  EXPECT_EQ(response.error, "");
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST(CurlHttpClientTest, UnsupportedSchemeIsRefused) {
  auto client = Client();
  HttpResponse response = SendAndWait(*client, Post("file:///etc/passwd"));
  EXPECT_TRUE(response.transport_error);
  EXPECT_EQ(response.status_code, 0);
  EXPECT_FALSE(response.error.empty());
}

TEST(CurlHttpClientTest, StopCancelsInFlightRequestsAndCallsEachCallbackOnce) {
  TinyHttpServer server([](const ReceivedRequest&) { return std::nullopt; });
  auto client = Client();
  std::atomic<int> calls{0};
  std::atomic<int> cancelled{0};
  for (int i = 0; i < 3; ++i) {
    client->Send(Post(server.Url(), 60'000), [&](HttpResponse response) {
      calls.fetch_add(1);
      if (response.cancelled && response.transport_error) cancelled.fetch_add(1);
    });
  }
  client->Stop();
  EXPECT_EQ(calls.load(), 3);
  EXPECT_EQ(cancelled.load(), 3);

  HttpResponse after = SendAndWait(*client, Post(server.Url()));
  EXPECT_TRUE(after.cancelled);
  EXPECT_EQ(after.error, "cancelled: the HTTP client is shutting down");
  client->Stop();  // idempotent
  EXPECT_EQ(calls.load(), 3);
}

TEST(CurlHttpClientTest, StopLetsQuickRequestsFinish) {
  TinyHttpServer server(
      [](const ReceivedRequest&) { return Response("HTTP/1.1 200 OK", "", "done"); });
  CurlHttpClientOptions options;
  options.ssrf_guard = *SsrfGuard::WithAllowList({"127.0.0.0/8"});
  options.shutdown_grace = std::chrono::milliseconds(5'000);
  auto client = CurlHttpClient::Create(std::move(options)).value();
  std::promise<HttpResponse> promise;
  client->Send(Post(server.Url()), [&](HttpResponse r) { promise.set_value(std::move(r)); });
  client->Stop();
  HttpResponse response = promise.get_future().get();
  EXPECT_FALSE(response.cancelled);
  EXPECT_EQ(response.status_code, 200);
  EXPECT_EQ(response.body, "done");
}

}  // namespace
}  // namespace webhookd::delivery
