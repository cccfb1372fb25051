#include "api/server.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <array>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace webhookd::api {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

std::string ThisThread() {
  std::ostringstream id;
  id << std::this_thread::get_id();
  return id.str();
}

Response Text(std::string body) {
  Response response;
  response.content_type = "text/plain";
  response.body = std::move(body);
  return response;
}

// GET /thread answers with the thread its handler ran on: an asynchronous route runs on the
// worker that serves the connection. GET /slow answers "late" after kSlowAnswer, from another
// thread, as a commit does.
constexpr auto kSlowAnswer = std::chrono::milliseconds(600);
Router ThreadRouter() {
  Router router([](const Request&) -> Result<Principal> {
    return Principal{1, "admin", std::nullopt};
  });
  router.AddAsync("GET", "/thread", Access::kPublic,
                  [](Call&, const Reply& reply) { reply(Text(ThisThread())); });
  router.AddAsync("GET", "/slow", Access::kPublic, [](Call&, const Reply& reply) {
    std::thread([reply] {
      std::this_thread::sleep_for(kSlowAnswer);
      reply(Text("late"));
    }).detach();
  });
  return router;
}

// A server on a free port, run on a thread of its own until the test ends.
class RunningServer {
 public:
  explicit RunningServer(ServerOptions options) : server_(WithFreePort(options), router_) {
    Result<std::uint16_t> port = server_.Listen();
    EXPECT_TRUE(port.ok()) << port.error().message;
    port_ = port.ok() ? *port : 0;
    thread_ = std::thread([this] { server_.Run(); });
  }
  ~RunningServer() {
    server_.Shutdown();
    thread_.join();
  }
  std::uint16_t port() const { return port_; }

 private:
  static ServerOptions WithFreePort(ServerOptions options) {
    options.port = 0;
    return options;
  }

  Router router_ = ThreadRouter();
  HttpServer server_;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

// Which thread served each of `requests` requests on one keep-alive connection.
std::vector<std::string> ThreadsServing(asio::io_context& io, std::uint16_t port, int requests) {
  beast::tcp_stream stream(io);
  stream.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  std::vector<std::string> threads;
  for (int i = 0; i < requests; ++i) {
    http::request<http::empty_body> request{http::verb::get, "/thread", 11};
    request.set(http::field::host, "127.0.0.1");
    http::write(stream, request);
    beast::flat_buffer buffer;
    http::response<http::string_body> response;
    http::read(stream, buffer, response);
    EXPECT_EQ(response.result_int(), 200);
    threads.push_back(response.body());
  }
  return threads;
}

void ExpectEachConnectionOnOneWorkerAndBothWorkersUsed(const ServerOptions& options) {
  RunningServer server(options);
  asio::io_context io;
  std::map<std::string, int> connections_by_thread;
  constexpr int kConnections = 16;
  for (int c = 0; c < kConnections; ++c) {
    const std::vector<std::string> threads = ThreadsServing(io, server.port(), 3);
    ASSERT_EQ(threads.size(), 3u);
    EXPECT_EQ(std::set<std::string>(threads.begin(), threads.end()).size(), 1u)
        << "connection " << c << " moved between threads";
    ++connections_by_thread[threads.front()];
  }
  EXPECT_EQ(connections_by_thread.size(), 2u) << "the connections did not reach both workers";
}

TEST(HttpServerTest, WorkersWithTheirOwnListenersEachServeWholeConnections) {
  ServerOptions options;
  options.io_threads = 2;
  ExpectEachConnectionOnOneWorkerAndBothWorkersUsed(options);
}

TEST(HttpServerTest, OneSharedListenerHandsConnectionsToTheWorkersInTurn) {
  ServerOptions options;
  options.io_threads = 2;
  options.reuse_port = false;
  ExpectEachConnectionOnOneWorkerAndBothWorkersUsed(options);
}

TEST(HttpServerTest, OneWorkerServesEveryConnection) {
  ServerOptions options;
  options.io_threads = 1;
  RunningServer server(options);
  asio::io_context io;
  std::set<std::string> threads;
  for (int c = 0; c < 4; ++c) {
    for (const std::string& thread : ThreadsServing(io, server.port(), 2)) threads.insert(thread);
  }
  EXPECT_EQ(threads.size(), 1u);
}

// Sends `bytes` on a new connection, then reads until the server closes it: what came back and
// how long after sending the close came (at most 5 s: longer counts as never).
struct Closed {
  std::string received;
  std::chrono::milliseconds after;
};
Closed SendAndWaitForClose(std::uint16_t port, const std::string& bytes) {
  asio::io_context io;
  tcp::socket socket(io);
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  asio::write(socket, asio::buffer(bytes));
  const auto sent = std::chrono::steady_clock::now();
  const timeval limit{5, 0};
  setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  Closed closed;
  std::array<char, 4096> chunk;
  for (;;) {
    beast::error_code ec;
    const std::size_t n = socket.read_some(asio::buffer(chunk), ec);
    closed.received.append(chunk.data(), n);
    if (ec) break;
  }
  closed.after = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - sent);
  return closed;
}

ServerOptions ShortTimeouts() {
  ServerOptions options;
  options.io_threads = 1;
  options.idle_timeout = std::chrono::milliseconds(400);
  options.header_timeout = std::chrono::milliseconds(400);
  options.body_timeout = std::chrono::milliseconds(400);
  return options;
}

TEST(HttpServerTest, AConnectionThatSendsNothingIsClosedAfterTheIdleTimeout) {
  RunningServer server(ShortTimeouts());
  const Closed closed = SendAndWaitForClose(server.port(), "");
  EXPECT_EQ(closed.received, "");
  EXPECT_GE(closed.after.count(), 390);
  EXPECT_LT(closed.after.count(), 1500);
}

TEST(HttpServerTest, AKeptAliveConnectionIsClosedAfterTheIdleTimeoutThatFollowsItsAnswer) {
  RunningServer server(ShortTimeouts());
  const Closed closed =
      SendAndWaitForClose(server.port(), "GET /thread HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(closed.received.starts_with("HTTP/1.1 200 OK\r\n")) << closed.received;
  EXPECT_GE(closed.after.count(), 390);
  EXPECT_LT(closed.after.count(), 1500);
}

TEST(HttpServerTest, ABodyThatStopsComingIsCutOffAfterTheBodyTimeout) {
  RunningServer server(ShortTimeouts());
  const Closed closed = SendAndWaitForClose(
      server.port(), "POST /thread HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc");
  EXPECT_EQ(closed.received, "");
  EXPECT_GE(closed.after.count(), 390);
  EXPECT_LT(closed.after.count(), 1500);
}

// The timeouts bound the client's reads and writes, not the handler: an answer that takes
// longer than any of them still goes out, and the connection then waits for the next request.
TEST(HttpServerTest, AHandlerSlowerThanTheTimeoutsStillAnswers) {
  RunningServer server(ShortTimeouts());
  const Closed closed = SendAndWaitForClose(server.port(), "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(closed.received.starts_with("HTTP/1.1 200 OK\r\n")) << closed.received;
  EXPECT_TRUE(closed.received.ends_with("\r\n\r\nlate")) << closed.received;
  EXPECT_GE(closed.after.count(), kSlowAnswer.count() + 390);
}

}  // namespace
}  // namespace webhookd::api
