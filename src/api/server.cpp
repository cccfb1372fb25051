#include "api/server.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "api/http_parsing.hpp"
#include "api/problem.hpp"
#include "core/thread_name.hpp"

namespace webhookd::api {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kReadChunk = 4096;
// Lingering close (see Impl::Linger): nginx's lingering_time is 30 s; a client that sends a
// body we refused needs only as long as the rest of its body takes to arrive.
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr std::size_t kLingerBytes = 16 * 1024 * 1024;
// Out of descriptors, accepting pauses this long, doubling up to the maximum while it lasts.
constexpr auto kFirstAcceptPause = std::chrono::milliseconds(10);
constexpr auto kMaxAcceptPause = std::chrono::milliseconds(640);
// At the connection cap with every connection busy, accepting waits this long between looks.
constexpr auto kFullPause = std::chrono::milliseconds(20);
constexpr auto kWarningInterval = std::chrono::seconds(5);

// One connection's state as the shutdown and connection-cap logic need it.
struct Connection {
  explicit Connection(tcp::socket socket) : stream(std::move(socket)) {}
  beast::tcp_stream stream;
  // Guarded by Impl::mu:
  bool busy = false;          // a request is being read, handled or answered
  bool sent_request = false;  // a request has begun on this connection
  bool evicting = false;      // chosen to make room for a new connection
  std::chrono::steady_clock::time_point idle_since = std::chrono::steady_clock::now();
};

// A warning that may repeat many times a second (accept failures): logs at most one line per
// interval, saying how many were left out since the last one.
class ThrottledWarning {
 public:
  // Not thread-safe: one strand calls it.
  void Warn(std::string_view message) {
    const auto now = std::chrono::steady_clock::now();
    if (logged_once_ && now - last_logged_ < kWarningInterval) {
      ++suppressed_;
      return;
    }
    if (suppressed_ == 0) {
      spdlog::warn("{}", message);
    } else {
      spdlog::warn("{} ({} more like it in the last {} s)", message, suppressed_,
                   std::chrono::duration_cast<std::chrono::seconds>(now - last_logged_).count());
    }
    logged_once_ = true;
    last_logged_ = now;
    suppressed_ = 0;
  }

 private:
  bool logged_once_ = false;
  std::chrono::steady_clock::time_point last_logged_;
  std::uint64_t suppressed_ = 0;
};

http::response<http::string_body> ToBeast(const Response& response, unsigned version,
                                          bool keep_alive, bool head_only) {
  http::response<http::string_body> out{static_cast<http::status>(response.status), version};
  out.set(http::field::server, "webhookd");
  if (response.status != 204) out.set(http::field::content_type, response.content_type);
  for (const auto& [name, value] : response.headers) out.set(name, value);
  out.keep_alive(keep_alive);
  if (response.status != 204) out.body() = response.body;
  out.prepare_payload();
  if (head_only) out.body().clear();
  return out;
}

}  // namespace

struct HttpServer::Impl {
  Impl(ServerOptions opts, const Router& r)
      : options(std::move(opts)),
        router(r),
        io(options.io_threads),
        blocking_pool(static_cast<std::size_t>(options.threads)),
        run_blocking(
            [this](std::function<void()> work) { asio::post(blocking_pool, std::move(work)); }),
        acceptor(asio::make_strand(io)),
        accept_pause(acceptor.get_executor()),
        signals(io, SIGINT, SIGTERM),
        drain_timer(asio::make_strand(io)) {}

  ServerOptions options;
  const Router& router;
  asio::io_context io;
  // Handlers that may block (reads, configuration writes, test sends) run here, so that they
  // never hold up the I/O threads; event ingestion waits for its commit without a thread.
  asio::thread_pool blocking_pool;
  BlockingRunner run_blocking;
  tcp::acceptor acceptor;
  asio::steady_timer accept_pause;  // on the acceptor's strand
  ThrottledWarning accept_warning;  // these two on the acceptor's strand only
  ThrottledWarning limit_warning;
  asio::signal_set signals;
  asio::steady_timer drain_timer;
  std::mutex mu;
  bool stopping = false;                              // guarded by mu
  std::set<std::shared_ptr<Connection>> connections;  // guarded by mu

  asio::awaitable<void> Accept();
  asio::awaitable<bool> PauseAccepting(std::chrono::milliseconds pause);
  asio::awaitable<bool> MakeRoom();
  bool EvictIdleConnection();
  asio::awaitable<void> Serve(std::shared_ptr<Connection> conn);
  asio::awaitable<bool> ServeOne(Connection& conn, beast::flat_buffer& buffer);
  asio::awaitable<beast::error_code> ReadHeader(Connection& conn, beast::flat_buffer& buffer,
                                                http::request_parser<http::string_body>& parser);
  asio::awaitable<void> Refuse(Connection& conn, const Response& refusal);
  asio::awaitable<void> Linger(Connection& conn);
  asio::awaitable<Response> Handle(const http::request<http::string_body>& request);
  asio::awaitable<Response> Dispatch(const Request& request);
  bool MarkBusy(Connection& conn, bool busy);
  void BeginShutdown();
  void CloseAll(bool idle_only);
};

// Accept errors (mostly EMFILE/ENFILE: out of descriptors) leave the pending connection in the
// backlog, so retrying at once would spin; each one pauses accepting instead, for longer while
// they last, and frees a descriptor by closing an idle connection if there is one.
asio::awaitable<void> HttpServer::Impl::Accept() {
  auto pause = kFirstAcceptPause;
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(asio::make_strand(io), kTuple);
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
    if (ec) {
      accept_warning.Warn("accept failed: " + ec.message());
      if (ec == asio::error::no_descriptors || ec == boost::system::errc::too_many_files_open) {
        EvictIdleConnection();
      }
      if (!co_await PauseAccepting(pause)) co_return;
      pause = std::min(pause * 2, kMaxAcceptPause);
      continue;
    }
    pause = kFirstAcceptPause;
    if (!co_await MakeRoom()) co_return;
    auto conn = std::make_shared<Connection>(std::move(socket));
    {
      std::lock_guard lock(mu);
      if (stopping) co_return;
      connections.insert(conn);
    }
    asio::co_spawn(conn->stream.get_executor(), Serve(conn), asio::detached);
  }
}

// Waits on the acceptor's strand; false when the server is stopping.
asio::awaitable<bool> HttpServer::Impl::PauseAccepting(std::chrono::milliseconds pause) {
  accept_pause.expires_after(pause);
  co_await accept_pause.async_wait(kTuple);
  std::lock_guard lock(mu);
  co_return !stopping;
}

// At the connection cap, makes room for one more: closes an idle connection, or waits until a
// busy one finishes. False when the server is stopping.
asio::awaitable<bool> HttpServer::Impl::MakeRoom() {
  for (;;) {
    {
      std::lock_guard lock(mu);
      if (stopping) co_return false;
      if (connections.size() < options.max_connections) co_return true;
    }
    const std::string limit = std::to_string(options.max_connections);
    if (EvictIdleConnection()) {
      limit_warning.Warn("connection limit (" + limit +
                         ") reached: closed the connection idle "
                         "the longest");
      co_return true;
    }
    limit_warning.Warn("connection limit (" + limit + ") reached, all busy: new connections wait");
    if (!co_await PauseAccepting(kFullPause)) co_return false;
  }
}

// Closes the connection that has waited longest for a request, preferring one that never sent
// any (a keep-alive client has shown it is real). False when every connection is busy.
bool HttpServer::Impl::EvictIdleConnection() {
  std::lock_guard lock(mu);
  std::shared_ptr<Connection> victim;
  for (const auto& conn : connections) {
    if (conn->busy || conn->evicting) continue;
    if (!victim || std::tie(conn->sent_request, conn->idle_since) <
                       std::tie(victim->sent_request, victim->idle_since)) {
      victim = conn;
    }
  }
  if (!victim) return false;
  victim->evicting = true;
  asio::post(victim->stream.get_executor(), [this, victim] {
    std::lock_guard lock(mu);
    victim->evicting = false;
    if (victim->busy) return;  // a request arrived meanwhile: it is served
    beast::error_code ignored;
    victim->stream.socket().cancel(ignored);
  });
  return true;
}

// Returns false once stopping: the connection must then close instead of waiting.
bool HttpServer::Impl::MarkBusy(Connection& conn, bool busy) {
  std::lock_guard lock(mu);
  conn.busy = busy;
  if (busy) conn.sent_request = true;
  if (!busy) conn.idle_since = std::chrono::steady_clock::now();
  return !stopping;
}

asio::awaitable<void> HttpServer::Impl::Serve(std::shared_ptr<Connection> conn) {
  beast::flat_buffer buffer;
  while (MarkBusy(*conn, false) && co_await ServeOne(*conn, buffer)) {
  }
  {
    // Out of the set before the socket closes, so that CloseAll() never touches a closed one.
    std::lock_guard lock(mu);
    connections.erase(conn);
    if (stopping && connections.empty()) {
      // The last connection is gone: nothing is left to drain, so let Run() return now.
      asio::post(drain_timer.get_executor(), [this] { drain_timer.cancel(); });
    }
  }
  beast::error_code ignored;
  conn->stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  conn->stream.close();
}

// Reads, handles and answers one request; false when the connection should close.
// A request's first byte may take the idle timeout to come, the rest of its header the header
// timeout, so that a client trickling a header cannot hold a connection for the idle timeout.
asio::awaitable<bool> HttpServer::Impl::ServeOne(Connection& conn, beast::flat_buffer& buffer) {
  if (buffer.size() == 0) {
    conn.stream.expires_after(options.idle_timeout);
    auto [ec, n] = co_await conn.stream.async_read_some(buffer.prepare(kReadChunk), kTuple);
    if (ec) co_return false;
    buffer.commit(n);
  }
  MarkBusy(conn, true);
  http::request_parser<http::string_body> parser;
  parser.body_limit(options.max_body_bytes);
  parser.header_limit(kMaxHeaderBytes);
  conn.stream.expires_after(options.header_timeout);
  beast::error_code ec = co_await ReadHeader(conn, buffer, parser);
  if (!ec) ec = CheckFraming(parser.get());
  if (ec) {
    if (const auto refusal = RefusalFor(ec, options.max_body_bytes))
      co_await Refuse(conn, *refusal);
    co_return false;
  }
  conn.stream.expires_after(options.body_timeout);
  if (beast::iequals(parser.get()[http::field::expect], "100-continue")) {
    http::response<http::empty_body> go_on{http::status::continue_, parser.get().version()};
    co_await http::async_write(conn.stream, go_on, kTuple);
  }
  if (!parser.is_done()) {
    auto [body_ec, body_n] = co_await http::async_read(conn.stream, buffer, parser, kTuple);
    if (body_ec) {
      const auto refusal = RefusalFor(body_ec, options.max_body_bytes);
      if (refusal) co_await Refuse(conn, *refusal);
      co_return false;
    }
  }
  const auto& request = parser.get();
  const auto started = std::chrono::steady_clock::now();
  const Response handled = co_await Handle(request);
  bool keep_alive;
  {
    std::lock_guard lock(mu);
    keep_alive = request.keep_alive() && !stopping;
  }
  auto response =
      ToBeast(handled, request.version(), keep_alive, request.method() == http::verb::head);
  conn.stream.expires_after(options.body_timeout);
  auto [write_ec, written] = co_await http::async_write(conn.stream, response, kTuple);
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::steady_clock::now() - started)
                          .count();
  const std::string_view target = request.target();
  spdlog::info("request method={} path={} status={} duration_ms={:.1f}", request.method_string(),
               target.substr(0, target.find('?')), handled.status, micros / 1000.0);
  co_return !write_ec && keep_alive;
}

// Parses the request header from `buffer`, reading more under the stream's current timeout;
// refuses obsolete line folding, which Beast would accept.
asio::awaitable<beast::error_code> HttpServer::Impl::ReadHeader(
    Connection& conn, beast::flat_buffer& buffer, http::request_parser<http::string_body>& parser) {
  for (;;) {
    if (HasObsoleteLineFolding(HeaderBytes(buffer))) {
      co_return MakeError(FramingError::kObsoleteLineFolding);
    }
    beast::error_code ec;
    buffer.consume(parser.put(buffer.data(), ec));
    if (parser.is_header_done() || (ec && ec != http::error::need_more)) co_return ec;
    auto [read_ec, n] = co_await conn.stream.async_read_some(buffer.prepare(kReadChunk), kTuple);
    if (read_ec) co_return read_ec;
    buffer.commit(n);
  }
}

// Answers a request that was refused before it was read to its end, and closes gracefully.
asio::awaitable<void> HttpServer::Impl::Refuse(Connection& conn, const Response& refusal) {
  auto response = ToBeast(refusal, 11, false, false);
  conn.stream.expires_after(options.body_timeout);
  auto [ec, n] = co_await http::async_write(conn.stream, response, kTuple);
  if (!ec) co_await Linger(conn);
}

// Closing a socket with unread data makes the kernel send a reset, which can destroy the
// answer before the client reads it, and a client still sending its body gets EPIPE. So, as
// nginx's lingering close does: stop sending, then read and discard what still comes, for a
// bounded time and amount, before the caller closes. Shutdown and eviction may cut it short.
asio::awaitable<void> HttpServer::Impl::Linger(Connection& conn) {
  beast::error_code ignored;
  conn.stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  MarkBusy(conn, false);
  conn.stream.expires_after(kLingerTime);
  std::array<char, kReadChunk> discard;
  for (std::size_t total = 0; total < kLingerBytes;) {
    auto [ec, n] = co_await conn.stream.async_read_some(asio::buffer(discard), kTuple);
    if (ec) break;
    total += n;
  }
}

asio::awaitable<Response> HttpServer::Impl::Handle(
    const http::request<http::string_body>& request) {
  std::optional<Request> converted = ToRequest(request);
  if (!converted) {
    co_return ProblemResponse(Error::Invalid(
        "malformed HTTP request: the request target is not a valid origin-form URL"));
  }
  co_return co_await Dispatch(*converted);
}

// Suspends the connection's coroutine until the router answers, from whichever thread it
// answers on; the coroutine resumes on its own strand.
asio::awaitable<Response> HttpServer::Impl::Dispatch(const Request& request) {
  // A tracked executor counts as work: io.run() goes on until the answer is back, even once
  // shutdown has closed everything else.
  const auto executor = co_await asio::this_coro::executor;
  const auto resume_on = asio::prefer(executor, asio::execution::outstanding_work.tracked);
  auto initiate = [this, &request, resume_on](auto handler) {
    auto waiting = std::make_shared<decltype(handler)>(std::move(handler));
    router.DispatchAsync(request, run_blocking, [waiting, resume_on](Response response) {
      asio::post(resume_on, [waiting, response = std::move(response)]() mutable {
        (*waiting)(std::move(response));
      });
    });
  };
  // Named, not a temporary of the co_await expression: GCC 12 destroys such temporaries twice.
  auto answered = asio::async_initiate<decltype(asio::use_awaitable), void(Response)>(
      std::move(initiate), asio::use_awaitable);
  co_return co_await std::move(answered);
}

void HttpServer::Impl::BeginShutdown() {
  {
    std::lock_guard lock(mu);
    if (stopping) return;
    stopping = true;
  }
  spdlog::info("shutting down: finishing requests in flight");
  asio::post(acceptor.get_executor(), [this] {
    beast::error_code ignored;
    acceptor.close(ignored);
    accept_pause.cancel();
  });
  beast::error_code ignored;
  signals.cancel(ignored);
  CloseAll(true);
  asio::post(drain_timer.get_executor(), [this] {
    {
      std::lock_guard lock(mu);
      if (connections.empty()) return;
    }
    drain_timer.expires_after(options.drain_timeout);
    drain_timer.async_wait([this](beast::error_code ec) {
      if (!ec) CloseAll(false);
    });
  });
}

void HttpServer::Impl::CloseAll(bool idle_only) {
  std::lock_guard lock(mu);
  for (const auto& conn : connections) {
    if (idle_only && conn->busy) continue;
    asio::post(conn->stream.get_executor(), [conn] {
      beast::error_code ignored;  // the connection may have closed itself meanwhile
      conn->stream.socket().cancel(ignored);
    });
  }
}

HttpServer::HttpServer(ServerOptions options, const Router& router)
    : impl_(std::make_unique<Impl>(std::move(options), router)) {}

HttpServer::~HttpServer() = default;

Result<std::uint16_t> HttpServer::Listen() {
  beast::error_code ec;
  const auto address = asio::ip::make_address(impl_->options.host, ec);
  if (ec)
    return Error::Invalid("cannot listen on '" + impl_->options.host + "': not an IP address");
  const tcp::endpoint endpoint{address, impl_->options.port};
  auto& acceptor = impl_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Error::Unavailable("cannot listen on " + impl_->options.host + ":" +
                              std::to_string(impl_->options.port) + ": " + ec.message());
  }
  return acceptor.local_endpoint().port();
}

void HttpServer::Run() {
  Impl& impl = *impl_;
  impl.signals.async_wait([&impl](beast::error_code ec, int) {
    if (!ec) impl.BeginShutdown();
  });
  asio::co_spawn(impl.acceptor.get_executor(), impl.Accept(), asio::detached);
  std::vector<std::thread> threads;
  for (int i = 1; i < impl.options.io_threads; ++i) {
    threads.push_back(NamedThread("http-io", [&impl] { impl.io.run(); }));
  }
  impl.io.run();
  for (auto& t : threads) t.join();
  impl.blocking_pool.join();
}

void HttpServer::Shutdown() {
  asio::post(impl_->io, [impl = impl_.get()] { impl->BeginShutdown(); });
}

}  // namespace webhookd::api
