#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "delivery/beast_http_client.hpp"
#include "delivery/curl_http_client.hpp"

namespace webhookd::delivery {
namespace {

struct ReceivedRequest {
  std::string head;  // request line and headers
  std::string body;
};

// What TinyHttpServer does with a request: answers with raw text and closes the connection,
// or keeps it open for the next request, or never answers (nullopt: the connection stays
// open until the server stops), or hangs up without answering.
struct Reply {
  Reply(std::string text) : text(std::move(text)) {}  // NOLINT: implicit by design
  Reply(std::nullopt_t) : silent(true) {}             // NOLINT: implicit by design
  static Reply KeepOpen(std::string text) {
    Reply reply(std::move(text));
    reply.keep_open = true;
    return reply;
  }
  static Reply HangUp() {
    Reply reply(std::string{});
    reply.hang_up = true;
    return reply;
  }
  std::string text;
  bool silent = false;
  bool keep_open = false;
  bool hang_up = false;
};

// A listening socket on 127.0.0.1 at a port the kernel picks, which goes to `port`.
int ListenOnLoopback(int& port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), length) != 0 || listen(fd, 16) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    ADD_FAILURE() << "cannot listen on 127.0.0.1";
  }
  port = ntohs(address.sin_port);
  return fd;
}

// A one-thread HTTP/1.1 server on 127.0.0.1 for these tests: one connection at a time, each
// request answered as the handler's Reply says.
class TinyHttpServer {
 public:
  using Handler = std::function<Reply(const ReceivedRequest&)>;

  explicit TinyHttpServer(Handler handler) : handler_(std::move(handler)) {
    listen_fd_ = ListenOnLoopback(port_);
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

  int connections() const { return connections_.load(); }

 private:
  void Serve() {
    while (!stop_) {
      pollfd poll_fd{listen_fd_, POLLIN, 0};
      if (poll(&poll_fd, 1, 20) <= 0) continue;
      int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      connections_.fetch_add(1);
      ServeConnection(fd);
    }
  }

  void ServeConnection(int fd) {
    for (;;) {
      std::optional<ReceivedRequest> request = Read(fd);
      if (!request) break;
      {
        std::lock_guard lock(mutex_);
        requests_.push_back(*request);
      }
      Reply reply = handler_(*request);
      if (reply.silent) {
        silent_.push_back(fd);
        return;
      }
      if (reply.hang_up) break;
      WriteAll(fd, reply.text);
      if (!reply.keep_open) break;
    }
    close(fd);
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

  // Waits up to 5 s for data, or less when the server stops.
  bool ReadSome(int fd, char* buffer, std::size_t size, std::string& into) {
    pollfd poll_fd{fd, POLLIN, 0};
    int waited_ms = 0;
    while (poll(&poll_fd, 1, 20) == 0) {
      waited_ms += 20;
      if (stop_ || waited_ms >= 5'000) return false;
    }
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
  std::atomic<int> connections_{0};
  std::thread thread_;
  std::vector<int> silent_;  // server thread only, then the destructor
  std::mutex mutex_;
  std::vector<ReceivedRequest> requests_;  // guarded by mutex_
};

std::string Response(std::string_view status_line, std::string_view headers, std::string body) {
  return std::string(status_line) + "\r\n" + std::string(headers) +
         "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

// A response that lets the client keep the connection.
std::string KeepAliveResponse(std::string body) {
  return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

// A test CA and a server certificate it signed for localhost and 127.0.0.1, made with the
// openssl command in a fresh directory.
class TestCertificates {
 public:
  TestCertificates() {
    char pattern[] = "/tmp/webhookd-tls-XXXXXX";
    dir_ = mkdtemp(pattern);
    const std::string run =
        "cd " + dir_ + " && (true" +
        " && printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\nbasicConstraints=CA:FALSE\\n"
        "extendedKeyUsage=serverAuth\\n' > server.ext"
        " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2"
        " -subj /CN=webhookd-test-ca -keyout ca.key -out ca.pem"
        " && openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
        " -subj /CN=localhost -keyout server.key -out server.csr"
        " && openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2"
        " -extfile server.ext -out server.pem) > openssl.log 2>&1";
    EXPECT_EQ(std::system(run.c_str()), 0) << "openssl failed; see " << dir_ << "/openssl.log";
  }
  ~TestCertificates() { std::filesystem::remove_all(dir_); }

  std::string ca_file() const { return dir_ + "/ca.pem"; }
  std::string cert_file() const { return dir_ + "/server.pem"; }
  std::string key_file() const { return dir_ + "/server.key"; }

 private:
  std::string dir_;
};

// A one-thread HTTPS server on 127.0.0.1 (OpenSSL, blocking): answers each request with 200
// "secure" and closes the connection; remembers which handshakes resumed a session.
class TinyTlsServer {
 public:
  explicit TinyTlsServer(const TestCertificates& certificates) {
    // OpenSSL's socket BIO writes with write(): a client that hangs up during the handshake
    // (as one refusing the certificate does) would otherwise end the test process by SIGPIPE.
    std::signal(SIGPIPE, SIG_IGN);
    context_ = SSL_CTX_new(TLS_server_method());
    if (SSL_CTX_use_certificate_file(context_, certificates.cert_file().c_str(),
                                     SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_use_PrivateKey_file(context_, certificates.key_file().c_str(), SSL_FILETYPE_PEM) !=
            1) {
      ADD_FAILURE() << "cannot load the server certificate";
    }
    listen_fd_ = ListenOnLoopback(port_);
    thread_ = std::thread([this] { Serve(); });
  }

  ~TinyTlsServer() {
    stop_ = true;
    thread_.join();
    close(listen_fd_);
    SSL_CTX_free(context_);
  }

  int port() const { return port_; }
  std::string Url(std::string_view host) const {
    return "https://" + std::string(host) + ":" + std::to_string(port_) + "/hook";
  }
  int requests() const { return requests_.load(); }
  int resumed() const { return resumed_.load(); }

 private:
  void Serve() {
    while (!stop_) {
      pollfd poll_fd{listen_fd_, POLLIN, 0};
      if (poll(&poll_fd, 1, 20) <= 0) continue;
      int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      timeval five_seconds{5, 0};
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &five_seconds, sizeof five_seconds);
      SSL* ssl = SSL_new(context_);
      SSL_set_fd(ssl, fd);
      if (SSL_accept(ssl) == 1) Answer(ssl);
      SSL_free(ssl);
      close(fd);
    }
  }

  void Answer(SSL* ssl) {
    if (SSL_session_reused(ssl)) resumed_.fetch_add(1);
    std::string data;
    char buffer[4096];
    while (data.find("\r\n\r\n") == std::string::npos) {
      int n = SSL_read(ssl, buffer, sizeof buffer);
      if (n <= 0) return;
      data.append(buffer, static_cast<std::size_t>(n));
    }
    requests_.fetch_add(1);
    const std::string response = Response("HTTP/1.1 200 OK", "", "secure");
    SSL_write(ssl, response.data(), static_cast<int>(response.size()));
    SSL_shutdown(ssl);
  }

  SSL_CTX* context_ = nullptr;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> requests_{0};
  std::atomic<int> resumed_{0};
  std::thread thread_;
};

// Both implementations behind one face, so that every test runs on each.
struct TestClient {
  std::unique_ptr<HttpClient> client;
  std::function<void()> stop;

  HttpClient& operator*() { return *client; }
  HttpClient* operator->() { return client.get(); }
  void Stop() { stop(); }
};

struct ClientSetup {
  std::vector<std::string> allowed = {"127.0.0.0/8"};
  std::chrono::milliseconds shutdown_grace{50};
  std::string ca_file;
  std::vector<std::string> resolve;
  int max_host_connections = 16;
};

template <class Client, class Options>
TestClient Make(const ClientSetup& setup) {
  Options options;
  Result<SsrfGuard> guard = SsrfGuard::WithAllowList(setup.allowed);
  EXPECT_TRUE(guard.ok());
  options.ssrf_guard = *guard;
  options.shutdown_grace = setup.shutdown_grace;
  options.ca_file = setup.ca_file;
  options.resolve = setup.resolve;
  options.max_host_connections = setup.max_host_connections;
  Result<std::unique_ptr<Client>> made = Client::Create(std::move(options));
  EXPECT_TRUE(made.ok()) << (made.ok() ? "" : made.error().message);
  Client* raw = made->get();
  return {std::move(*made), [raw] { raw->Stop(); }};
}

class HttpClientTest : public ::testing::TestWithParam<std::string> {
 protected:
  TestClient Client(ClientSetup setup = {}) {
    if (GetParam() == "curl") return Make<CurlHttpClient, CurlHttpClientOptions>(setup);
    return Make<BeastHttpClient, BeastHttpClientOptions>(setup);
  }
  TestClient Client(std::vector<std::string> allowed) {
    ClientSetup setup;
    setup.allowed = std::move(allowed);
    return Client(setup);
  }
};

INSTANTIATE_TEST_SUITE_P(Implementations, HttpClientTest, ::testing::Values("curl", "beast"),
                         [](const auto& info) { return info.param; });

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

TEST_P(HttpClientTest, PostsAndCapturesStatusHeadersAndBody) {
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

TEST_P(HttpClientTest, KeepsOnlyTheFirst64KiBOfTheBody) {
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

TEST_P(HttpClientTest, ReturnsRedirectsWithoutFollowingThem) {
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

TEST_P(HttpClientTest, TimeoutIsATransportError) {
  TinyHttpServer server([](const ReceivedRequest&) { return std::nullopt; });
  auto client = Client();
  HttpResponse response = SendAndWait(*client, Post(server.Url(), 200));
  EXPECT_EQ(response.status_code, 0);
  EXPECT_TRUE(response.transport_error);
  EXPECT_FALSE(response.cancelled);
  EXPECT_TRUE(response.timed_out);
  EXPECT_TRUE(response.error.starts_with("Timeout was reached: ")) << response.error;
}

TEST_P(HttpClientTest, ConnectionRefusedIsATransportError) {
  int port;
  {
    TinyHttpServer closed([](const ReceivedRequest&) { return std::nullopt; });
    port = std::stoi(closed.Url("").substr(std::string("http://127.0.0.1:").size()));
  }
  auto client = Client();
  HttpResponse response =
      SendAndWait(*client, Post("http://127.0.0.1:" + std::to_string(port) + "/"));
  EXPECT_TRUE(response.transport_error);
  EXPECT_FALSE(response.timed_out);
  EXPECT_TRUE(response.error.starts_with("Couldn't connect to server: ")) << response.error;
}

TEST_P(HttpClientTest, SsrfGuardRefusesLoopbackWithoutAllowList) {
  TinyHttpServer server([](const ReceivedRequest&) { return Response("HTTP/1.1 200 OK", "", ""); });
  auto client = Client(std::vector<std::string>{});
  HttpResponse response = SendAndWait(*client, Post(server.Url()));
  EXPECT_EQ(response.status_code, 0);
  EXPECT_TRUE(response.transport_error);
  EXPECT_EQ(response.error,
            "refused 127.0.0.1: loopback address; allow it with --allow-target or "
            "WEBHOOKD_ALLOW_TARGETS");
  EXPECT_TRUE(server.requests().empty());
}

TEST_P(HttpClientTest, SsrfGuardAllowsAllowListedTarget) {
  TinyHttpServer server(
      [](const ReceivedRequest&) { return Response("HTTP/1.1 204 No Content", "", ""); });
  auto client = Client({"127.0.0.1/32"});
  HttpResponse response = SendAndWait(*client, Post(server.Url()));
  EXPECT_EQ(response.status_code, 204);
  EXPECT_EQ(response.error, "");
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST_P(HttpClientTest, UnsupportedSchemeIsRefused) {
  auto client = Client();
  HttpResponse response = SendAndWait(*client, Post("file:///etc/passwd"));
  EXPECT_TRUE(response.transport_error);
  EXPECT_EQ(response.status_code, 0);
  EXPECT_FALSE(response.error.empty());
}

TEST_P(HttpClientTest, StopCancelsInFlightRequestsAndCallsEachCallbackOnce) {
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
  client.Stop();
  EXPECT_EQ(calls.load(), 3);
  EXPECT_EQ(cancelled.load(), 3);

  HttpResponse after = SendAndWait(*client, Post(server.Url()));
  EXPECT_TRUE(after.cancelled);
  EXPECT_EQ(after.error, "cancelled: the HTTP client is shutting down");
  client.Stop();  // idempotent
  EXPECT_EQ(calls.load(), 3);
}

TEST_P(HttpClientTest, StopLetsQuickRequestsFinish) {
  TinyHttpServer server(
      [](const ReceivedRequest&) { return Response("HTTP/1.1 200 OK", "", "done"); });
  ClientSetup setup;
  setup.shutdown_grace = std::chrono::milliseconds(5'000);
  auto client = Client(setup);
  std::promise<HttpResponse> promise;
  client->Send(Post(server.Url()), [&](HttpResponse r) { promise.set_value(std::move(r)); });
  client.Stop();
  HttpResponse response = promise.get_future().get();
  EXPECT_FALSE(response.cancelled);
  EXPECT_EQ(response.status_code, 200);
  EXPECT_EQ(response.body, "done");
}

TEST_P(HttpClientTest, ReusesAKeptAliveConnection) {
  TinyHttpServer server(
      [](const ReceivedRequest&) { return Reply::KeepOpen(KeepAliveResponse("ok")); });
  auto client = Client();
  for (int i = 0; i < 3; ++i) {
    HttpResponse response = SendAndWait(*client, Post(server.Url()));
    EXPECT_EQ(response.status_code, 200) << response.error;
    EXPECT_EQ(response.body, "ok");
  }
  EXPECT_EQ(server.requests().size(), 3u);
  EXPECT_EQ(server.connections(), 1);
}

// At the per-origin cap, further requests wait for a connection instead of opening more.
TEST_P(HttpClientTest, RequestsBeyondThePerOriginCapWaitForAConnection) {
  TinyHttpServer server(
      [](const ReceivedRequest&) { return Reply::KeepOpen(KeepAliveResponse("ok")); });
  ClientSetup setup;
  setup.max_host_connections = 1;
  auto client = Client(setup);
  std::vector<std::future<HttpResponse>> answers;
  for (int i = 0; i < 3; ++i) {
    auto promise = std::make_shared<std::promise<HttpResponse>>();
    answers.push_back(promise->get_future());
    client->Send(Post(server.Url()),
                 [promise](HttpResponse r) { promise->set_value(std::move(r)); });
  }
  for (auto& answer : answers) {
    HttpResponse response = answer.get();
    EXPECT_EQ(response.status_code, 200) << response.error;
    EXPECT_EQ(response.body, "ok");
  }
  EXPECT_EQ(server.requests().size(), 3u);
  EXPECT_EQ(server.connections(), 1);
}

// A pooled connection the receiver closed while it was idle is not used: the next request
// goes on a new connection, once.
TEST_P(HttpClientTest, AConnectionClosedWhileIdleIsReplacedNotReused) {
  TinyHttpServer server([](const ReceivedRequest&) { return KeepAliveResponse("ok"); });
  auto client = Client();
  for (int i = 0; i < 2; ++i) {
    HttpResponse response = SendAndWait(*client, Post(server.Url()));
    EXPECT_EQ(response.status_code, 200) << response.error;
    EXPECT_EQ(response.body, "ok");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the close reaches the client
  }
  EXPECT_EQ(server.requests().size(), 2u);
  EXPECT_EQ(server.connections(), 2);
}

// A name resolving to a refused address and an allowed one: the refused one is skipped
// before any socket is opened to it, and the request goes to the allowed one.
TEST_P(HttpClientTest, SsrfGuardFallsBackToTheNextAllowedAddress) {
  TinyHttpServer server(
      [](const ReceivedRequest&) { return Response("HTTP/1.1 200 OK", "", "in"); });
  const std::string port = server.Url("").substr(std::string("http://127.0.0.1:").size());
  ClientSetup setup;
  setup.allowed = {"127.0.0.1/32"};
  setup.resolve = {"receiver.test:" + port + ":[::1],127.0.0.1"};
  auto client = Client(setup);
  HttpResponse response = SendAndWait(*client, Post("http://receiver.test:" + port + "/hook"));
  EXPECT_EQ(response.status_code, 200) << response.error;
  EXPECT_EQ(response.body, "in");
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST_P(HttpClientTest, SsrfGuardNamesEveryRefusedAddress) {
  ClientSetup setup;
  setup.allowed = {};
  setup.resolve = {"receiver.test:8080:10.0.0.5,127.0.0.1"};
  auto client = Client(setup);
  HttpResponse response = SendAndWait(*client, Post("http://receiver.test:8080/hook"));
  EXPECT_EQ(response.status_code, 0);
  EXPECT_TRUE(response.transport_error);
  EXPECT_EQ(response.error,
            "refused 10.0.0.5: private address (RFC 1918); allow it with --allow-target or "
            "WEBHOOKD_ALLOW_TARGETS; refused 127.0.0.1: loopback address; allow it with "
            "--allow-target or WEBHOOKD_ALLOW_TARGETS");
}

TEST_P(HttpClientTest, HttpsWithTheTestCaSucceeds) {
  TestCertificates certificates;
  TinyTlsServer server(certificates);
  ClientSetup setup;
  setup.ca_file = certificates.ca_file();
  auto client = Client(setup);
  HttpResponse response = SendAndWait(*client, Post(server.Url("localhost")));
  EXPECT_EQ(response.status_code, 200) << response.error;
  EXPECT_EQ(response.body, "secure");
  EXPECT_EQ(server.requests(), 1);
}

TEST_P(HttpClientTest, HttpsWithoutTheCaFailsOnTheCertificate) {
  TestCertificates certificates;
  TinyTlsServer server(certificates);
  auto client = Client();
  HttpResponse response = SendAndWait(*client, Post(server.Url("localhost")));
  EXPECT_EQ(response.status_code, 0);
  EXPECT_TRUE(response.transport_error);
  EXPECT_EQ(response.error,
            "SSL peer certificate or SSH remote key was not OK: SSL certificate problem: unable "
            "to get local issuer certificate");
  EXPECT_EQ(server.requests(), 0);
}

TEST_P(HttpClientTest, HttpsToAHostTheCertificateDoesNotNameFails) {
  TestCertificates certificates;
  TinyTlsServer server(certificates);
  ClientSetup setup;
  setup.ca_file = certificates.ca_file();
  setup.resolve = {"wrong.test:" + std::to_string(server.port()) + ":127.0.0.1"};
  auto client = Client(setup);
  HttpResponse response = SendAndWait(*client, Post(server.Url("wrong.test")));
  EXPECT_EQ(response.status_code, 0);
  EXPECT_TRUE(response.transport_error);
  EXPECT_TRUE(response.error.starts_with("SSL peer certificate or SSH remote key was not OK: "))
      << response.error;
  EXPECT_NE(response.error.find("'wrong.test'"), std::string::npos) << response.error;
  EXPECT_EQ(server.requests(), 0);
}

// libcurl keeps TLS sessions per easy handle, and CurlHttpClient uses one per request, so
// only BeastHttpClient resumes them.
TEST(BeastHttpClientTest, ResumesTheTlsSessionOfAnOrigin) {
  TestCertificates certificates;
  TinyTlsServer server(certificates);
  ClientSetup setup;
  setup.ca_file = certificates.ca_file();
  TestClient client = Make<BeastHttpClient, BeastHttpClientOptions>(setup);
  for (int i = 0; i < 3; ++i) {
    HttpResponse response = SendAndWait(*client, Post(server.Url("localhost")));
    EXPECT_EQ(response.status_code, 200) << response.error;
  }
  EXPECT_EQ(server.requests(), 3);
  EXPECT_EQ(server.resumed(), 2);
}

// The receiver hangs up on a reused connection after the request reached it: the request is
// not sent again (it may have been acted on), the attempt fails and is retried on schedule.
TEST(BeastHttpClientTest, NeverResendsARequestThatLeftOnAReusedConnection) {
  std::atomic<int> seen{0};
  TinyHttpServer server([&](const ReceivedRequest&) {
    return seen.fetch_add(1) == 0 ? Reply::KeepOpen(KeepAliveResponse("ok")) : Reply::HangUp();
  });
  TestClient client = Make<BeastHttpClient, BeastHttpClientOptions>({});
  HttpResponse first = SendAndWait(*client, Post(server.Url()));
  EXPECT_EQ(first.status_code, 200) << first.error;
  HttpResponse second = SendAndWait(*client, Post(server.Url()));
  EXPECT_EQ(second.status_code, 0);
  EXPECT_TRUE(second.transport_error);
  EXPECT_EQ(second.error, "Server returned nothing (no headers, no data): Empty reply from server");
  EXPECT_EQ(server.requests().size(), 2u);
  EXPECT_EQ(server.connections(), 1);
}

}  // namespace
}  // namespace webhookd::delivery
