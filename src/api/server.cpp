#include "api/server.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "api/problem.hpp"
#include "core/thread_name.hpp"

namespace webhookd::api {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kMaxHeaderBytes = 16 * 1024;

// One connection's state as the shutdown logic needs it.
struct Connection {
  explicit Connection(tcp::socket socket) : stream(std::move(socket)) {}
  beast::tcp_stream stream;
  bool busy = false;  // guarded by Impl::mu: a request is being read, handled or written
};

// Converts Beast's request into the plain Request handlers see. nullopt: unusable target.
std::optional<Request> ToRequest(const http::request<http::string_body>& in) {
  auto target = boost::urls::parse_origin_form(in.target());
  if (!target) return std::nullopt;
  Request out;
  out.method = std::string(in.method_string());
  out.path = std::string(target->path());
  for (auto param : target->params()) out.query[param.key] = param.value;
  for (const auto& field : in) {
    std::string name(field.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.headers.emplace_back(std::move(name), std::string(field.value()));
  }
  out.body = in.body();
  return out;
}

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

// A request Beast could not parse (as opposed to a closed or timed-out connection).
bool IsMalformedRequest(const beast::error_code& ec) {
  const auto& http_category = http::make_error_code(http::error::bad_target).category();
  return ec.category() == http_category && ec != http::error::end_of_stream &&
         ec != http::error::partial_message;
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
  asio::signal_set signals;
  asio::steady_timer drain_timer;
  std::mutex mu;
  bool stopping = false;                              // guarded by mu
  std::set<std::shared_ptr<Connection>> connections;  // guarded by mu

  asio::awaitable<void> Accept();
  asio::awaitable<void> Serve(std::shared_ptr<Connection> conn);
  asio::awaitable<bool> ServeOne(Connection& conn, beast::flat_buffer& buffer);
  asio::awaitable<Response> Handle(const http::request<http::string_body>& request);
  asio::awaitable<Response> Dispatch(const Request& request);
  bool MarkBusy(Connection& conn, bool busy);
  void BeginShutdown();
  void CloseAll(bool idle_only);
};

asio::awaitable<void> HttpServer::Impl::Accept() {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(asio::make_strand(io), kTuple);
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
    if (ec) {
      spdlog::warn("accept failed: {}", ec.message());
      continue;
    }
    auto conn = std::make_shared<Connection>(std::move(socket));
    {
      std::lock_guard lock(mu);
      if (stopping) co_return;
      connections.insert(conn);
    }
    asio::co_spawn(conn->stream.get_executor(), Serve(conn), asio::detached);
  }
}

// Returns false once stopping: the connection must then close instead of waiting.
bool HttpServer::Impl::MarkBusy(Connection& conn, bool busy) {
  std::lock_guard lock(mu);
  conn.busy = busy;
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
asio::awaitable<bool> HttpServer::Impl::ServeOne(Connection& conn, beast::flat_buffer& buffer) {
  http::request_parser<http::string_body> parser;
  parser.body_limit(options.max_body_bytes);
  parser.header_limit(kMaxHeaderBytes);
  conn.stream.expires_after(options.idle_timeout);
  auto [ec, n] = co_await http::async_read_header(conn.stream, buffer, parser, kTuple);
  if (ec) {
    if (ec == http::error::body_limit) {
      MarkBusy(conn, true);
      const Response problem = ProblemResponse(Error::TooLarge(
          "the request body is larger than " + std::to_string(options.max_body_bytes) + " bytes"));
      auto response = ToBeast(problem, 11, false, false);
      co_await http::async_write(conn.stream, response, kTuple);
    } else if (IsMalformedRequest(ec)) {
      MarkBusy(conn, true);
      auto response =
          ToBeast(ProblemResponse(400, "invalid-request", "Malformed HTTP request", ec.message()),
                  11, false, false);
      co_await http::async_write(conn.stream, response, kTuple);
    }
    co_return false;
  }
  MarkBusy(conn, true);
  conn.stream.expires_after(options.header_timeout);
  if (beast::iequals(parser.get()[http::field::expect], "100-continue")) {
    http::response<http::empty_body> go_on{http::status::continue_, parser.get().version()};
    co_await http::async_write(conn.stream, go_on, kTuple);
  }
  if (!parser.is_done()) {
    auto [body_ec, body_n] = co_await http::async_read(conn.stream, buffer, parser, kTuple);
    if (body_ec == http::error::body_limit) {
      auto response = ToBeast(ProblemResponse(Error::TooLarge("the request body is too large")),
                              parser.get().version(), false, false);
      co_await http::async_write(conn.stream, response, kTuple);
      co_return false;
    }
    if (body_ec) co_return false;
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
  conn.stream.expires_after(options.header_timeout);
  auto [write_ec, written] = co_await http::async_write(conn.stream, response, kTuple);
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::steady_clock::now() - started)
                          .count();
  const std::string_view target = request.target();
  spdlog::info("request method={} path={} status={} duration_ms={:.1f}", request.method_string(),
               target.substr(0, target.find('?')), handled.status, micros / 1000.0);
  co_return !write_ec && keep_alive;
}

asio::awaitable<Response> HttpServer::Impl::Handle(
    const http::request<http::string_body>& request) {
  std::optional<Request> converted = ToRequest(request);
  if (!converted) {
    co_return ProblemResponse(400, "invalid-request", "Malformed request target",
                              "the request target is not a valid origin-form URL");
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
