#include "api/server.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <list>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "api/http_parsing.hpp"
#include "api/problem.hpp"
#include "api/response_head.hpp"
#include "core/thread_name.hpp"

namespace webhookd::api {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
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
// How often a worker looks for connections past their deadline: the precision of the idle,
// header, body and linger timeouts.
constexpr auto kSweepInterval = std::chrono::milliseconds(100);

// A connection lives on the worker that accepted it: its socket's executor is that worker's
// io_context, which one thread runs, so its coroutine needs no strand.
using Executor = asio::io_context::executor_type;
using Socket = asio::basic_stream_socket<tcp, Executor>;
using Timer = asio::basic_waitable_timer<std::chrono::steady_clock,
                                         asio::wait_traits<std::chrono::steady_clock>, Executor>;
// Coroutines name the worker's executor type too: the default (any_io_executor) is
// type-erased, and copying and querying it at each operation showed in every request's CPU.
template <class T>
using Task = asio::awaitable<T, Executor>;
constexpr asio::use_awaitable_t<Executor> kAwait;
constexpr auto kTuple = asio::as_tuple(kAwait);
using Clock = std::chrono::steady_clock;

// The peer's IP address, or "" if the socket no longer knows it.
std::string RemoteAddress(const Socket& socket) {
  beast::error_code ec;
  const tcp::endpoint peer = socket.remote_endpoint(ec);
  return ec ? std::string() : peer.address().to_string();
}

// One connection's state as the shutdown, timeout and connection-cap logic need it. The
// connection's own thread writes busy, sent_request and idle_since without a lock; another
// worker reads them (under Impl::mu) only to pick a connection to evict, and the eviction
// itself runs on the connection's thread, where it sees them exactly.
//
// Timeouts are a deadline per connection, which its worker's sweep enforces by cancelling the
// socket's operations (see Impl::Sweep), rather than Beast's basic_stream, which arms and
// cancels a timer around every read and write: two timer-queue changes, an extra completion
// and often a timerfd_settime per operation, three operations per request.
struct Connection {
  explicit Connection(Socket s) : socket(std::move(s)), remote_address(RemoteAddress(socket)) {}
  // The operations from now on must end by `timeout` from now, or the sweep cancels them.
  void ExpiresAfter(std::chrono::steady_clock::duration timeout) {
    deadline = Clock::now() + timeout;
  }
  Socket socket;
  Clock::time_point deadline = Clock::time_point::max();  // the worker's thread only
  const std::string remote_address;  // the peer's IP address ("" if unknown), for the audit log
  std::atomic<bool> busy{false};     // a request is being read, handled or answered
  std::atomic<bool> sent_request{false};  // a request has begun on this connection
  std::atomic<Clock::rep> idle_since{Clock::now().time_since_epoch().count()};
  bool evicting = false;  // guarded by Impl::mu: chosen to make room for a new connection
};

// A warning that may repeat many times a second (accept failures): logs at most one line per
// interval, saying how many were left out since the last one. Shared by the workers, which
// take its mutex only on these failure paths.
class ThrottledWarning {
 public:
  void Warn(std::string_view message) {
    std::lock_guard lock(mu_);
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
  std::mutex mu_;
  bool logged_once_ = false;  // these three guarded by mu_
  std::chrono::steady_clock::time_point last_logged_;
  std::uint64_t suppressed_ = 0;
};

// Sends the head and the body in one write (one sendmsg for an answer of any usual size).
Task<beast::error_code> WriteResponse(Socket& stream, const Response& response, unsigned version,
                                      bool keep_alive, bool head_only) {
  const std::string head = ResponseHead(response, version, keep_alive);
  const std::array<asio::const_buffer, 2> bytes = {asio::buffer(head),
                                                   asio::buffer(ResponseBody(response, head_only))};
  auto [ec, written] = co_await asio::async_write(stream, bytes, kTuple);
  co_return ec;
}

}  // namespace

// One worker: a thread running its own io_context, with its own listening socket (or, where
// SO_REUSEPORT is unavailable, sockets handed over by worker 0's). The connections it accepts
// live and are served on it from their first byte to their last, without a strand; only
// handlers that may block, and ingestion's commit, leave it and come back.
struct Worker {
  Worker() : io(1), running(io.get_executor()), acceptor(io), accept_pause(io), sweep(io) {}
  asio::io_context io;
  // Keeps io.run() going until shutdown, also on a worker that has no listener of its own.
  asio::executor_work_guard<Executor> running;
  tcp::acceptor acceptor;
  asio::steady_timer accept_pause;
  Timer sweep;                  // wakes Impl::Sweep; cancelled to make it look again at once
  std::list<Connection*> live;  // the connections this worker serves; its thread only
};

struct HttpServer::Impl {
  Impl(ServerOptions opts, const Router& r)
      : options(std::move(opts)),
        router(r),
        workers(MakeWorkers(options.io_threads)),
        blocking_pool(static_cast<std::size_t>(options.threads)),
        run_blocking(
            [this](std::function<void()> work) { asio::post(blocking_pool, std::move(work)); }),
        signals(workers.front()->io, SIGINT, SIGTERM),
        drain_timer(workers.front()->io) {}

  static std::vector<std::unique_ptr<Worker>> MakeWorkers(int count) {
    std::vector<std::unique_ptr<Worker>> made;
    for (int i = 0; i < std::max(count, 1); ++i) made.push_back(std::make_unique<Worker>());
    return made;
  }

  ServerOptions options;
  const Router& router;
  std::vector<std::unique_ptr<Worker>> workers;
  // True when only worker 0 listens and hands the connections round-robin (no SO_REUSEPORT).
  bool shared_listener = false;
  std::size_t next_worker = 0;  // worker 0's thread only, with shared_listener
  // Handlers that may block (reads, configuration writes, test sends) run here, so that they
  // never hold up the workers; event ingestion waits for its commit without a thread.
  asio::thread_pool blocking_pool;
  BlockingRunner run_blocking;
  ThrottledWarning accept_warning;
  ThrottledWarning limit_warning;
  asio::signal_set signals;        // on worker 0
  asio::steady_timer drain_timer;  // on worker 0
  std::atomic<bool> stopping = false;
  // Taken when a connection opens or closes, to evict one, and at shutdown; never per request.
  std::mutex mu;
  std::set<std::shared_ptr<Connection>> connections;  // guarded by mu

  Result<std::uint16_t> Listen(const tcp::endpoint& endpoint);
  Task<void> Accept(Worker& worker);
  Task<void> Sweep(Worker& worker);
  Worker& WorkerForNextConnection(Worker& accepting);
  Task<bool> PauseAccepting(Worker& worker, std::chrono::milliseconds pause);
  Task<bool> MakeRoom(Worker& worker);
  bool EvictIdleConnection();
  Task<void> Serve(std::shared_ptr<Connection> conn, Worker& worker);
  Task<bool> ServeOne(Connection& conn, beast::flat_buffer& buffer);
  Task<beast::error_code> ReadHeader(Connection& conn, beast::flat_buffer& buffer,
                                     http::request_parser<http::string_body>& parser);
  Task<void> Refuse(Connection& conn, const Response& refusal);
  Task<void> Linger(Connection& conn);
  // `remote_address`: the peer's IP address, for the audit log.
  Task<Response> Handle(http::request<http::string_body>& request, std::string remote_address);
  Task<Response> Dispatch(const Request& request);
  bool MarkBusy(Connection& conn, bool busy);
  void BeginShutdown();
  void CloseAll(bool idle_only);
};

namespace {

using ReusePort = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

beast::error_code OpenListener(tcp::acceptor& acceptor, const tcp::endpoint& endpoint,
                               bool reuse_port) {
  beast::error_code ec;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec && reuse_port) acceptor.set_option(ReusePort(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    beast::error_code ignored;
    acceptor.close(ignored);
  }
  return ec;
}

}  // namespace

// Every worker listens on the same address with SO_REUSEPORT, and the kernel spreads new
// connections over them. If the second socket cannot share the first one's port, worker 0
// listens alone and hands its connections round-robin.
Result<std::uint16_t> HttpServer::Impl::Listen(const tcp::endpoint& endpoint) {
  const bool reuse_port = options.reuse_port && workers.size() > 1;
  beast::error_code ec = OpenListener(workers.front()->acceptor, endpoint, reuse_port);
  if (ec && reuse_port) ec = OpenListener(workers.front()->acceptor, endpoint, false);
  if (ec) {
    return Error::Unavailable("cannot listen on " + options.host + ":" +
                              std::to_string(options.port) + ": " + ec.message());
  }
  const tcp::endpoint bound = workers.front()->acceptor.local_endpoint();
  for (std::size_t i = 1; i < workers.size() && reuse_port && !ec; ++i) {
    ec = OpenListener(workers[i]->acceptor, bound, true);
  }
  if (ec) {
    spdlog::info("SO_REUSEPORT unavailable ({}): one listener hands connections to {} workers",
                 ec.message(), workers.size());
  }
  if (ec || !reuse_port) {
    beast::error_code ignored;
    for (std::size_t i = 1; i < workers.size(); ++i) workers[i]->acceptor.close(ignored);
    shared_listener = workers.size() > 1;
  }
  return bound.port();
}

// Accept errors (mostly EMFILE/ENFILE: out of descriptors) leave the pending connection in the
// backlog, so retrying at once would spin; each one pauses accepting instead, for longer while
// they last, and frees a descriptor by closing an idle connection if there is one.
Task<void> HttpServer::Impl::Accept(Worker& worker) {
  auto pause = kFirstAcceptPause;
  for (;;) {
    Worker& owner = WorkerForNextConnection(worker);
    auto [ec, socket] = co_await worker.acceptor.async_accept(owner.io, kTuple);
    if (ec == asio::error::operation_aborted || !worker.acceptor.is_open()) co_return;
    if (ec) {
      accept_warning.Warn("accept failed: " + ec.message());
      if (ec == asio::error::no_descriptors || ec == boost::system::errc::too_many_files_open) {
        EvictIdleConnection();
      }
      if (!co_await PauseAccepting(worker, pause)) co_return;
      pause = std::min(pause * 2, kMaxAcceptPause);
      continue;
    }
    pause = kFirstAcceptPause;
    if (!co_await MakeRoom(worker)) co_return;
    auto conn = std::make_shared<Connection>(std::move(socket));
    {
      std::lock_guard lock(mu);
      if (stopping) co_return;
      connections.insert(conn);
    }
    asio::co_spawn(owner.io, Serve(conn, owner), asio::detached);
  }
}

Worker& HttpServer::Impl::WorkerForNextConnection(Worker& accepting) {
  if (!shared_listener) return accepting;
  next_worker = (next_worker + 1) % workers.size();
  return *workers[next_worker];
}

// Waits on the worker's thread; false when the server is stopping.
Task<bool> HttpServer::Impl::PauseAccepting(Worker& worker, std::chrono::milliseconds pause) {
  worker.accept_pause.expires_after(pause);
  co_await worker.accept_pause.async_wait(kTuple);
  co_return !stopping;
}

// At the connection cap, makes room for one more: closes an idle connection, or waits until a
// busy one finishes. False when the server is stopping.
Task<bool> HttpServer::Impl::MakeRoom(Worker& worker) {
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
    if (!co_await PauseAccepting(worker, kFullPause)) co_return false;
  }
}

// Closes the connection that has waited longest for a request, preferring one that never sent
// any (a keep-alive client has shown it is real), whichever worker it lives on. False when
// every connection is busy.
bool HttpServer::Impl::EvictIdleConnection() {
  std::lock_guard lock(mu);
  std::shared_ptr<Connection> victim;
  auto rank = [](const Connection& conn) {
    return std::make_pair(conn.sent_request.load(), conn.idle_since.load());
  };
  for (const auto& conn : connections) {
    if (conn->busy || conn->evicting) continue;
    if (!victim || rank(*conn) < rank(*victim)) victim = conn;
  }
  if (!victim) return false;
  victim->evicting = true;
  asio::post(victim->socket.get_executor(), [this, victim] {
    {
      std::lock_guard lock(mu);
      victim->evicting = false;
    }
    if (victim->busy) return;  // a request arrived meanwhile: it is served
    beast::error_code ignored;
    victim->socket.cancel(ignored);
  });
  return true;
}

// Called on the connection's thread. Returns false once stopping: the connection must then
// close instead of waiting.
bool HttpServer::Impl::MarkBusy(Connection& conn, bool busy) {
  if (busy) conn.sent_request = true;
  if (!busy) conn.idle_since = Clock::now().time_since_epoch().count();
  conn.busy = busy;
  return !stopping;
}

Task<void> HttpServer::Impl::Serve(std::shared_ptr<Connection> conn, Worker& worker) {
  if (worker.live.empty()) worker.sweep.cancel();  // it was waiting for a first connection
  const auto listed = worker.live.insert(worker.live.end(), conn.get());
  beast::flat_buffer buffer;
  while (MarkBusy(*conn, false) && co_await ServeOne(*conn, buffer)) {
  }
  worker.live.erase(listed);
  if (stopping && worker.live.empty()) worker.sweep.cancel();  // so that the sweep ends
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
  conn->socket.shutdown(tcp::socket::shutdown_send, ignored);
  conn->socket.close(ignored);
}

// Cancels the operations of the worker's connections that are past their deadline, every
// kSweepInterval while it has connections; without any, it waits for the first one. It ends
// once the server is stopping and the worker's last connection is gone.
Task<void> HttpServer::Impl::Sweep(Worker& worker) {
  while (!(stopping && worker.live.empty())) {
    if (worker.live.empty()) {
      worker.sweep.expires_at(Timer::time_point::max());
    } else {
      worker.sweep.expires_after(kSweepInterval);
    }
    co_await worker.sweep.async_wait(kTuple);
    const Clock::time_point now = Clock::now();
    for (Connection* conn : worker.live) {
      if (conn->deadline > now) continue;
      conn->deadline = Clock::time_point::max();
      beast::error_code ignored;
      conn->socket.cancel(ignored);
    }
  }
}
// Reads, handles and answers one request; false when the connection should close.
// A request's first byte may take the idle timeout to come, the rest of its header the header
// timeout, so that a client trickling a header cannot hold a connection for the idle timeout.
Task<bool> HttpServer::Impl::ServeOne(Connection& conn, beast::flat_buffer& buffer) {
  if (buffer.size() == 0) {
    conn.ExpiresAfter(options.idle_timeout);
    auto [ec, n] = co_await conn.socket.async_read_some(buffer.prepare(kReadChunk), kTuple);
    if (ec) co_return false;
    buffer.commit(n);
  }
  MarkBusy(conn, true);
  http::request_parser<http::string_body> parser;
  parser.body_limit(options.max_body_bytes);
  parser.header_limit(kMaxHeaderBytes);
  conn.ExpiresAfter(options.header_timeout);
  beast::error_code ec = co_await ReadHeader(conn, buffer, parser);
  if (!ec) ec = CheckFraming(parser.get());
  if (ec) {
    if (const auto refusal = RefusalFor(ec, options.max_body_bytes))
      co_await Refuse(conn, *refusal);
    co_return false;
  }
  conn.ExpiresAfter(options.body_timeout);
  if (beast::iequals(parser.get()[http::field::expect], "100-continue")) {
    http::response<http::empty_body> go_on{http::status::continue_, parser.get().version()};
    co_await http::async_write(conn.socket, go_on, kTuple);
  }
  if (!parser.is_done()) {
    auto [body_ec, body_n] = co_await http::async_read(conn.socket, buffer, parser, kTuple);
    if (body_ec) {
      const auto refusal = RefusalFor(body_ec, options.max_body_bytes);
      if (refusal) co_await Refuse(conn, *refusal);
      co_return false;
    }
  }
  auto& request = parser.get();
  const auto started = std::chrono::steady_clock::now();
  const Response handled = co_await Handle(request, conn.remote_address);
  const bool keep_alive = request.keep_alive() && !stopping;
  conn.ExpiresAfter(options.body_timeout);
  const beast::error_code write_ec = co_await WriteResponse(
      conn.socket, handled, request.version(), keep_alive, request.method() == http::verb::head);
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::steady_clock::now() - started)
                          .count();
  const std::string_view target = request.target();
  spdlog::info("request method={} path={} status={} duration_ms={:.1f}", request.method_string(),
               target.substr(0, target.find('?')), handled.status, micros / 1000.0);
  co_return !write_ec && keep_alive;
}

// Parses the request header from `buffer`, reading more under the connection's deadline;
// refuses obsolete line folding, which Beast would accept.
Task<beast::error_code> HttpServer::Impl::ReadHeader(
    Connection& conn, beast::flat_buffer& buffer, http::request_parser<http::string_body>& parser) {
  for (;;) {
    if (HasObsoleteLineFolding(HeaderBytes(buffer))) {
      co_return MakeError(FramingError::kObsoleteLineFolding);
    }
    beast::error_code ec;
    buffer.consume(parser.put(buffer.data(), ec));
    if (parser.is_header_done() || (ec && ec != http::error::need_more)) co_return ec;
    auto [read_ec, n] = co_await conn.socket.async_read_some(buffer.prepare(kReadChunk), kTuple);
    if (read_ec) co_return read_ec;
    buffer.commit(n);
  }
}

// Answers a request that was refused before it was read to its end, and closes gracefully.
Task<void> HttpServer::Impl::Refuse(Connection& conn, const Response& refusal) {
  conn.ExpiresAfter(options.body_timeout);
  const beast::error_code ec = co_await WriteResponse(conn.socket, refusal, 11, false, false);
  if (!ec) co_await Linger(conn);
}

// Closing a socket with unread data makes the kernel send a reset, which can destroy the
// answer before the client reads it, and a client still sending its body gets EPIPE. So, as
// nginx's lingering close does: stop sending, then read and discard what still comes, for a
// bounded time and amount, before the caller closes. Shutdown and eviction may cut it short.
Task<void> HttpServer::Impl::Linger(Connection& conn) {
  beast::error_code ignored;
  conn.socket.shutdown(tcp::socket::shutdown_send, ignored);
  MarkBusy(conn, false);
  conn.ExpiresAfter(kLingerTime);
  std::array<char, kReadChunk> discard;
  for (std::size_t total = 0; total < kLingerBytes;) {
    auto [ec, n] = co_await conn.socket.async_read_some(asio::buffer(discard), kTuple);
    if (ec) break;
    total += n;
  }
}

Task<Response> HttpServer::Impl::Handle(http::request<http::string_body>& request,
                                        std::string remote_address) {
  std::optional<Request> converted = ToRequest(request);
  if (!converted) {
    co_return ProblemResponse(Error::Invalid(
        "malformed HTTP request: the request target is not a valid origin-form URL"));
  }
  converted->remote_address = std::move(remote_address);
  co_return co_await Dispatch(*converted);
}

// Suspends the connection's coroutine until the router answers, from whichever thread it
// answers on; the coroutine resumes on its worker.
Task<Response> HttpServer::Impl::Dispatch(const Request& request) {
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
  auto answered =
      asio::async_initiate<decltype(kAwait), void(Response)>(std::move(initiate), kAwait);
  co_return co_await std::move(answered);
}

void HttpServer::Impl::BeginShutdown() {
  if (stopping.exchange(true)) return;
  spdlog::info("shutting down: finishing requests in flight");
  for (auto& worker : workers) {
    asio::post(worker->io, [w = worker.get()] {
      beast::error_code ignored;
      w->acceptor.close(ignored);
      w->accept_pause.cancel();
      w->sweep.cancel();
      w->running.reset();
    });
  }
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
    asio::post(conn->socket.get_executor(), [conn, idle_only] {
      if (idle_only && conn->busy) return;  // it closes after its answer, seeing `stopping`
      beast::error_code ignored;            // the connection may have closed itself meanwhile
      conn->socket.cancel(ignored);
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
  return impl_->Listen(tcp::endpoint{address, impl_->options.port});
}

void HttpServer::Run() {
  Impl& impl = *impl_;
  impl.signals.async_wait([&impl](beast::error_code ec, int) {
    if (!ec) impl.BeginShutdown();
  });
  for (auto& worker : impl.workers) {
    asio::co_spawn(worker->io, impl.Sweep(*worker), asio::detached);
    if (worker->acceptor.is_open()) {
      asio::co_spawn(worker->io, impl.Accept(*worker), asio::detached);
    }
  }
  std::vector<std::thread> threads;
  for (std::size_t i = 1; i < impl.workers.size(); ++i) {
    threads.push_back(NamedThread("http-worker", [w = impl.workers[i].get()] { w->io.run(); }));
  }
  impl.workers.front()->io.run();
  for (auto& t : threads) t.join();
  impl.blocking_pool.join();
}

void HttpServer::Shutdown() {
  asio::post(impl_->workers.front()->io, [impl = impl_.get()] { impl->BeginShutdown(); });
}

}  // namespace webhookd::api
