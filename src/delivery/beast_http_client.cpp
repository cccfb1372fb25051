#include "delivery/beast_http_client.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/parse.hpp>
#include <cerrno>
#include <charconv>
#include <list>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <variant>

#include "core/text.hpp"
#include "core/thread_name.hpp"
#include "delivery/event_loop.hpp"

namespace webhookd::delivery {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
// Everything runs on the client's one io_context, named by its own executor type: the default
// (any_io_executor) is type-erased, and copying and querying it at each operation cost about a
// tenth of this thread's CPU per request.
using Executor = asio::io_context::executor_type;
template <class T>
using Task = asio::awaitable<T, Executor>;
using TcpStream = beast::basic_stream<tcp, Executor>;
using Timer = asio::basic_waitable_timer<SteadyClock, asio::wait_traits<SteadyClock>, Executor>;
using Resolver = asio::ip::basic_resolver<tcp, Executor>;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable_t<Executor>{});
constexpr std::size_t kReadChunk = 16 * 1024;
constexpr std::uint32_t kMaxResponseHeaderBytes = 64 * 1024;

std::int64_t MillisSince(SteadyClock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - start).count();
}

std::string_view Trim(std::string_view text) {
  constexpr std::string_view kSpace = " \t\r\n";
  std::size_t first = text.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(kSpace) - first + 1);
}

HttpResponse TransportError(std::string error) {
  HttpResponse response;
  response.transport_error = true;
  response.error = std::move(error);
  return response;
}

// A connect or total timeout, in libcurl's words: "Timeout was reached: " + what.
HttpResponse TimeoutError(const std::string& what) {
  HttpResponse response = TransportError("Timeout was reached: " + what);
  response.timed_out = true;
  return response;
}

HttpResponse CancelledResponse() {
  HttpResponse response = TransportError("cancelled: the HTTP client is shutting down");
  response.cancelled = true;
  return response;
}

// Where a request goes, from its URL.
struct Target {
  bool tls = false;
  bool host_is_ip = false;
  std::string host;  // without brackets for IPv6
  std::uint16_t port = 0;
  std::string host_header;  // "host" or "host:port", brackets around IPv6
  std::string path;         // path and query, "/" when empty
  std::string origin;       // "scheme://host:port", lowercased
};

Result<Target> ParseTarget(std::string_view url) {
  boost::system::result<boost::urls::url_view> parsed = boost::urls::parse_uri(url);
  if (!parsed)
    return Error::Invalid("URL using bad/illegal format or missing URL: " + std::string(url));
  Target target;
  const std::string scheme = Lowercase(parsed->scheme());
  if (scheme != "http" && scheme != "https") {
    return Error::Invalid("Unsupported protocol: " + scheme + " is not http or https");
  }
  target.tls = scheme == "https";
  switch (parsed->host_type()) {
    case boost::urls::host_type::ipv6:
      target.host = parsed->host_ipv6_address().to_string();
      target.host_is_ip = true;
      break;
    case boost::urls::host_type::ipv4:
      target.host = parsed->host_ipv4_address().to_string();
      target.host_is_ip = true;
      break;
    case boost::urls::host_type::name:
      target.host = Lowercase(parsed->host_name());
      break;
    default:
      return Error::Invalid("URL using bad/illegal format or missing URL: no host in " +
                            std::string(url));
  }
  if (target.host.empty()) {
    return Error::Invalid("URL using bad/illegal format or missing URL: no host in " +
                          std::string(url));
  }
  const std::uint16_t default_port = target.tls ? 443 : 80;
  target.port = parsed->has_port() ? parsed->port_number() : default_port;
  if (parsed->has_port() && target.port == 0) {
    return Error::Invalid("URL using bad/illegal format or missing URL: bad port in " +
                          std::string(url));
  }
  const bool v6 = parsed->host_type() == boost::urls::host_type::ipv6;
  const std::string bracketed = v6 ? "[" + target.host + "]" : target.host;
  target.host_header =
      target.port == default_port ? bracketed : bracketed + ":" + std::to_string(target.port);
  target.path = std::string(parsed->encoded_target());
  if (target.path.empty() || target.path.front() != '/') target.path.insert(0, "/");
  target.origin = scheme + "://" + bracketed + ":" + std::to_string(target.port);
  return target;
}

// The request line and headers, with Host and Content-Length; the body is sent after it.
Result<std::string> RequestHead(const Target& target, const HttpRequest& request) {
  std::string head;
  head.reserve(256 + target.path.size());
  head.append("POST ").append(target.path).append(" HTTP/1.1\r\nHost: ");
  head.append(target.host_header).append("\r\n");
  for (const auto& [name, value] : request.headers) {
    if (HasLineBreak(name) || HasLineBreak(value)) {
      return Error::Invalid("invalid request header '" + name + "': it contains a line break");
    }
    head.append(name).append(": ").append(value).append("\r\n");
  }
  head.append("Content-Length: ").append(std::to_string(request.body.size())).append("\r\n\r\n");
  return head;
}

// "HOST:PORT:ADDRESS[,ADDRESS...]" (libcurl's CURLOPT_RESOLVE) as "host:port" -> addresses.
using StaticHosts = std::unordered_map<std::string, std::vector<tcp::endpoint>>;

Result<StaticHosts> ParseStaticHosts(const std::vector<std::string>& entries) {
  StaticHosts hosts;
  for (const std::string& entry : entries) {
    const std::size_t first = entry.find(':');
    const std::size_t second = first == std::string::npos ? first : entry.find(':', first + 1);
    std::uint16_t port = 0;
    if (second == std::string::npos ||
        std::from_chars(entry.data() + first + 1, entry.data() + second, port).ec != std::errc()) {
      return Error::Invalid("resolve entry '" + entry + "' is not HOST:PORT:ADDRESS[,ADDRESS]");
    }
    std::vector<tcp::endpoint>& endpoints = hosts[Lowercase(entry.substr(0, second))];
    std::string_view rest = std::string_view(entry).substr(second + 1);
    while (!rest.empty()) {
      const std::string_view text = rest.substr(0, rest.find(','));
      rest.remove_prefix(std::min(rest.size(), text.size() + 1));
      boost::system::error_code ec;
      const std::string bare(Trim(text).starts_with('[') ? Trim(text).substr(1, text.size() - 2)
                                                         : Trim(text));
      asio::ip::address address = asio::ip::make_address(bare, ec);
      if (ec) return Error::Invalid("resolve entry '" + entry + "' has a bad address");
      endpoints.emplace_back(address, port);
    }
  }
  return hosts;
}

// What Stop() needs to cancel one request wherever it waits.
struct Exchange {
  HttpRequest request;
  HttpClient::Callback done;
  SteadyClock::time_point started;
  SteadyClock::time_point deadline;
  bool cancelled = false;
  std::size_t bytes_received = 0;
  // At most one of these is set: what the request waits on now.
  Resolver* resolver = nullptr;
  Timer* timer = nullptr;
  TcpStream* stream = nullptr;

  void Cancel() {
    cancelled = true;
    if (resolver != nullptr) resolver->cancel();
    if (timer != nullptr) timer->cancel();
    if (stream != nullptr) {
      beast::error_code ignored;
      stream->socket().close(ignored);
    }
  }

  HttpResponse TimedOut() const {
    return TimeoutError("Operation timed out after " + std::to_string(MillisSince(started)) +
                        " milliseconds with " + std::to_string(bytes_received) + " bytes received");
  }
};

struct Origin;

// One keep-alive connection, plain or TLS.
struct Connection {
  Connection(TcpStream tcp, Origin& origin) : origin(&origin), plain(std::move(tcp)) {}
  Connection(TcpStream tcp, ssl::context& context, Origin& origin)
      : origin(&origin), secure(std::in_place, std::move(tcp), context) {}

  TcpStream& Tcp() { return secure ? beast::get_lowest_layer(*secure) : *plain; }

  // True when the peer has neither closed the connection nor sent anything since the last
  // response: a reused connection must be quiet, or its next request may be lost.
  bool IsQuiet() {
    if (buffer.size() != 0) return false;
    if (secure && SSL_pending(secure->native_handle()) > 0) return false;
    char byte;
    const ssize_t n =
        recv(Tcp().socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT | MSG_NOSIGNAL);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }

  void Close() {
    // OpenSSL makes the session of a connection freed without a close_notify sent unresumable.
    // Closing here is not a truncation attack on us, so the session stays good.
    if (secure) SSL_set_shutdown(secure->native_handle(), SSL_SENT_SHUTDOWN);
    beast::error_code ignored;
    Tcp().socket().close(ignored);
  }

  Origin* origin;
  std::optional<TcpStream> plain;
  std::optional<beast::ssl_stream<TcpStream>> secure;
  beast::flat_buffer buffer;
  SteadyClock::time_point idle_since;
  bool reused = false;
};

// A request waiting for a connection slot.
struct Waiter {
  Origin* origin;
  Timer* timer;
  bool woken = false;
};

// The connections to one scheme+host+port and its TLS session.
struct Origin {
  ~Origin() {
    if (session != nullptr) SSL_SESSION_free(session);
  }
  std::vector<std::unique_ptr<Connection>> idle;  // the most recently used last
  int open = 0;                                   // busy and idle
  SSL_SESSION* session = nullptr;                 // the latest, for resumption
};

struct CachedAddresses {
  std::vector<tcp::endpoint> endpoints;
  SteadyClock::time_point expires;
};

// What came of writing a request and reading its response on one connection.
struct Talk {
  HttpResponse response;
  bool nothing_sent = false;  // the request did not leave: safe to send on another connection
  bool reusable = false;
};

// The slot of an SSL's ex data that points to its Origin (the app data slot is asio's).
int OriginIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

// Stores a new TLS session in the connection's origin, for resumption.
int RememberSession(SSL* ssl, SSL_SESSION* session) {
  auto* origin = static_cast<Origin*>(SSL_get_ex_data(ssl, OriginIndex()));
  if (origin == nullptr) return 0;
  if (origin->session != nullptr) SSL_SESSION_free(origin->session);
  origin->session = session;
  return 1;  // we own the reference now
}

std::string TlsErrorText(SSL* ssl, const Target& target, const beast::error_code& ec) {
  const long verify = SSL_get_verify_result(ssl);
  if (verify == X509_V_OK) return "SSL connect error: " + ec.message();
  std::string text = "SSL peer certificate or SSH remote key was not OK: SSL certificate problem: ";
  text += X509_verify_cert_error_string(verify);
  if (verify == X509_V_ERR_HOSTNAME_MISMATCH || verify == X509_V_ERR_IP_ADDRESS_MISMATCH) {
    text += " (the certificate is not valid for '" + target.host + "')";
  }
  return text;
}

// A socket opened close-on-exec, so that a child process never inherits it.
beast::error_code OpenSocket(TcpStream& stream, const tcp::endpoint& endpoint) {
  const int fd = socket(endpoint.protocol().family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return {errno, boost::system::system_category()};
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  beast::error_code ec;
  stream.socket().assign(endpoint.protocol(), fd, ec);
  return ec;
}

}  // namespace

struct BeastHttpClient::Impl {
  explicit Impl(BeastHttpClientOptions opts, StaticHosts hosts)
      : options(std::move(opts)), static_hosts(std::move(hosts)) {}

  ~Impl() {
    // The idle connections' sockets belong to io: close them while it lives.
    origins.clear();
  }

  Status ConfigureTls() {
    SSL_CTX* context = tls.native_handle();
    SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION);
    tls.set_verify_mode(ssl::verify_peer);
    beast::error_code ec;
    if (options.ca_file.empty()) {
      tls.set_default_verify_paths(ec);
    } else {
      tls.load_verify_file(options.ca_file, ec);
    }
    if (ec)
      return Error::Invalid("cannot load the CA file '" + options.ca_file + "': " + ec.message());
    SSL_CTX_set_session_cache_mode(context,
                                   SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(context, &RememberSession);
    return Status::Ok();
  }

  void Launch(std::unique_ptr<Exchange> exchange) {
    active.insert(exchange.get());
    asio::co_spawn(io, Run(std::move(exchange)), asio::detached);
  }

  Task<void> Run(std::unique_ptr<Exchange> exchange) {
    HttpResponse response;
    try {
      response = co_await Perform(*exchange);
    } catch (const std::exception& e) {
      response = TransportError(std::string("internal error in the HTTP client: ") + e.what());
    }
    if (exchange->cancelled) response = CancelledResponse();
    response.duration_ms = MillisSince(exchange->started);
    active.erase(exchange.get());
    exchange->done(std::move(response));
    if (shutting_down && active.empty()) grace_timer.cancel();
  }

  // A configuration's URL is parsed once, not per request. Shared, so that a request keeps its
  // target while others change the cache; cleared when full (URLs come and go with
  // configurations).
  Result<std::shared_ptr<const Target>> TargetFor(const std::string& url) {
    constexpr std::size_t kMaxCachedTargets = 4'096;
    if (auto it = targets.find(url); it != targets.end()) return it->second;
    Result<Target> parsed = ParseTarget(url);
    if (!parsed.ok()) return parsed.error();
    if (targets.size() >= kMaxCachedTargets) targets.clear();
    auto target = std::make_shared<const Target>(std::move(*parsed));
    targets.emplace(url, target);
    return target;
  }

  Task<HttpResponse> Perform(Exchange& exchange) {
    Result<std::shared_ptr<const Target>> cached = TargetFor(exchange.request.url);
    if (!cached.ok()) co_return TransportError(cached.error().message);
    const std::shared_ptr<const Target> target = *cached;
    Result<std::string> head = RequestHead(*target, exchange.request);
    if (!head.ok()) co_return TransportError(head.error().message);
    Origin& origin = OriginFor(target->origin);
    // A second try only when a reused connection turned out closed before the request left.
    for (int attempt = 0;; ++attempt) {
      std::variant<std::unique_ptr<Connection>, HttpResponse> acquired =
          co_await Acquire(exchange, origin, *target);
      if (auto* failed = std::get_if<HttpResponse>(&acquired)) co_return std::move(*failed);
      std::unique_ptr<Connection> connection = std::move(std::get<0>(acquired));
      exchange.stream = &connection->Tcp();
      Talk talk;
      if (connection->secure) {
        talk = co_await Send(*connection->secure, *connection, exchange, *head);
      } else {
        talk = co_await Send(*connection->plain, *connection, exchange, *head);
      }
      exchange.stream = nullptr;
      const bool retry = talk.nothing_sent && connection->reused && attempt == 0;
      Release(std::move(connection), talk.reusable);
      if (!retry || exchange.cancelled) co_return std::move(talk.response);
    }
  }

  Origin& OriginFor(const std::string& key) {
    std::unique_ptr<Origin>& origin = origins[key];
    if (!origin) origin = std::make_unique<Origin>();
    return *origin;
  }

  // An idle connection to `origin`, a new one, or the reason there is none. Waits for a slot
  // while the origin or the whole client is at its connection cap.
  Task<std::variant<std::unique_ptr<Connection>, HttpResponse>> Acquire(Exchange& exchange,
                                                                        Origin& origin,
                                                                        const Target& target) {
    for (;;) {
      if (exchange.cancelled) co_return CancelledResponse();
      if (std::unique_ptr<Connection> idle = TakeIdle(origin)) co_return std::move(idle);
      if (ReserveSlot(origin)) co_return co_await Connect(exchange, origin, target);
      if (!co_await WaitForSlot(exchange, origin)) {
        if (exchange.cancelled) co_return CancelledResponse();
        co_return exchange.TimedOut();
      }
    }
  }

  std::unique_ptr<Connection> TakeIdle(Origin& origin) {
    while (!origin.idle.empty()) {
      std::unique_ptr<Connection> connection = std::move(origin.idle.back());
      origin.idle.pop_back();
      if (SteadyClock::now() - connection->idle_since < options.max_idle && connection->IsQuiet()) {
        connection->reused = true;
        return connection;
      }
      connection->Close();
      ReleaseSlot(origin);
    }
    return nullptr;
  }

  bool ReserveSlot(Origin& origin) {
    if (origin.open >= options.max_host_connections) return false;
    if (total_open >= options.max_total_connections && !CloseOneIdle()) return false;
    ++origin.open;
    ++total_open;
    return true;
  }

  // Closes the connection idle the longest in some origin; false when none is idle.
  bool CloseOneIdle() {
    for (auto& [key, origin] : origins) {
      if (origin->idle.empty()) continue;
      origin->idle.front()->Close();
      origin->idle.erase(origin->idle.begin());
      --origin->open;
      --total_open;
      return true;
    }
    return false;
  }

  void ReleaseSlot(Origin& origin) {
    --origin.open;
    --total_open;
    WakeOne(origin);
  }

  void Release(std::unique_ptr<Connection> connection, bool reusable) {
    Origin& origin = *connection->origin;
    if (!reusable || shutting_down) {
      connection->Close();
      ReleaseSlot(origin);
      return;
    }
    connection->idle_since = SteadyClock::now();
    origin.idle.push_back(std::move(connection));
    WakeOne(origin);
  }

  // Wakes the first request waiting for `origin`, or else the first waiting at all (it may
  // close an idle connection to make room).
  void WakeOne(Origin& origin) {
    if (waiters.empty()) return;
    auto it = std::find_if(waiters.begin(), waiters.end(),
                           [&](const Waiter* w) { return w->origin == &origin; });
    if (it == waiters.end()) it = waiters.begin();
    (*it)->woken = true;
    (*it)->timer->cancel();
    waiters.erase(it);
  }

  // False when the request's deadline passed (or it was cancelled) before a slot freed.
  Task<bool> WaitForSlot(Exchange& exchange, Origin& origin) {
    Timer timer(io, exchange.deadline);
    Waiter waiter{&origin, &timer};
    waiters.push_back(&waiter);
    exchange.timer = &timer;
    co_await timer.async_wait(kTuple);
    exchange.timer = nullptr;
    if (!waiter.woken) waiters.remove(&waiter);
    co_return waiter.woken && !exchange.cancelled;
  }

  // A connected (and for https, handshaken) connection in the slot reserved for it; on failure
  // the slot is released.
  Task<std::variant<std::unique_ptr<Connection>, HttpResponse>> Connect(Exchange& exchange,
                                                                        Origin& origin,
                                                                        const Target& target) {
    const SteadyClock::time_point deadline =
        std::min(exchange.deadline,
                 exchange.started + std::chrono::milliseconds(exchange.request.connect_timeout_ms));
    std::variant<std::unique_ptr<Connection>, HttpResponse> result =
        co_await ConnectInSlot(exchange, origin, target, deadline);
    if (std::holds_alternative<HttpResponse>(result)) ReleaseSlot(origin);
    co_return result;
  }

  Task<std::variant<std::unique_ptr<Connection>, HttpResponse>> ConnectInSlot(
      Exchange& exchange, Origin& origin, const Target& target, SteadyClock::time_point deadline) {
    std::variant<std::vector<tcp::endpoint>, HttpResponse> resolved =
        co_await Resolve(exchange, target, deadline);
    if (auto* failed = std::get_if<HttpResponse>(&resolved)) co_return std::move(*failed);
    std::variant<TcpStream, HttpResponse> connected =
        co_await ConnectToFirstAllowed(exchange, target, std::get<0>(resolved), deadline);
    if (auto* failed = std::get_if<HttpResponse>(&connected)) co_return std::move(*failed);
    TcpStream& tcp = std::get<0>(connected);
    if (!target.tls) co_return std::make_unique<Connection>(std::move(tcp), origin);
    auto connection = std::make_unique<Connection>(std::move(tcp), tls, origin);
    if (std::optional<HttpResponse> failed =
            co_await Handshake(exchange, *connection, target, deadline)) {
      connection->Close();
      co_return std::move(*failed);
    }
    co_return std::move(connection);
  }

  // The target's addresses: from the resolve entries, the cache, or an asynchronous lookup.
  Task<std::variant<std::vector<tcp::endpoint>, HttpResponse>> Resolve(
      Exchange& exchange, const Target& target, SteadyClock::time_point deadline) {
    const std::string key = target.host + ":" + std::to_string(target.port);
    if (auto found = static_hosts.find(key); found != static_hosts.end()) co_return found->second;
    if (auto cached = dns_cache.find(key);
        cached != dns_cache.end() && cached->second.expires > SteadyClock::now()) {
      co_return cached->second.endpoints;
    }
    // The timer's handler may run after this frame is gone (it cannot be withdrawn once due),
    // so what it touches is shared.
    struct Lookup {
      explicit Lookup(asio::io_context& io) : resolver(io), timer(io) {}
      Resolver resolver;
      Timer timer;
      bool timed_out = false;
    };
    auto lookup = std::make_shared<Lookup>(io);
    lookup->timer.expires_at(deadline);
    lookup->timer.async_wait([lookup](const beast::error_code& ec) {
      if (ec) return;
      lookup->timed_out = true;
      lookup->resolver.cancel();
    });
    exchange.resolver = &lookup->resolver;
    auto [ec, results] = co_await lookup->resolver.async_resolve(
        target.host, std::to_string(target.port), Resolver::flags(), kTuple);
    exchange.resolver = nullptr;
    lookup->timer.cancel();
    if (lookup->timed_out) {
      co_return TimeoutError("Resolving timed out after " +
                             std::to_string(MillisSince(exchange.started)) + " milliseconds");
    }
    if (ec || results.empty()) {
      co_return TransportError("Couldn't resolve host name: Could not resolve host: " +
                               target.host);
    }
    std::vector<tcp::endpoint> endpoints;
    for (const auto& entry : results) endpoints.push_back(entry.endpoint());
    Remember(key, endpoints);
    co_return endpoints;
  }

  void Remember(const std::string& key, const std::vector<tcp::endpoint>& endpoints) {
    constexpr std::size_t kPruneAbove = 1024;  // hosts; expired ones go when there are more
    const SteadyClock::time_point now = SteadyClock::now();
    if (dns_cache.size() > kPruneAbove) {
      std::erase_if(dns_cache, [now](const auto& entry) { return entry.second.expires <= now; });
    }
    dns_cache[key] = {endpoints, now + options.dns_cache_ttl};
  }

  // Tries the addresses in order, skipping those the SSRF guard refuses (before any socket is
  // opened to them) and those that do not answer.
  Task<std::variant<TcpStream, HttpResponse>> ConnectToFirstAllowed(
      Exchange& exchange, const Target& target, const std::vector<tcp::endpoint>& endpoints,
      SteadyClock::time_point deadline) {
    std::string refusals;
    std::string failure;
    for (const tcp::endpoint& endpoint : endpoints) {
      SsrfDecision decision = options.ssrf_guard.Check(endpoint.data());
      if (!decision.allowed) {
        refusals += (refusals.empty() ? "" : "; ") + decision.message;
        continue;
      }
      TcpStream stream(io);
      if (beast::error_code ec = OpenSocket(stream, endpoint)) {
        failure = "Failed to connect to " + target.host + " port " + std::to_string(target.port) +
                  ": " + ec.message();
        continue;
      }
      stream.expires_at(deadline);
      exchange.stream = &stream;
      auto [ec] = co_await stream.async_connect(endpoint, kTuple);
      exchange.stream = nullptr;
      if (exchange.cancelled) co_return CancelledResponse();
      if (!ec) co_return std::move(stream);
      if (ec == beast::error::timeout) {
        co_return TimeoutError("Connection timed out after " +
                               std::to_string(MillisSince(exchange.started)) + " milliseconds");
      }
      failure = "Failed to connect to " + target.host + " port " + std::to_string(target.port) +
                " (" + endpoint.address().to_string() + "): " + ec.message();
    }
    if (failure.empty()) co_return TransportError(refusals);
    std::string text = "Couldn't connect to server: " + failure;
    if (!refusals.empty()) text += "; " + refusals;
    co_return TransportError(std::move(text));
  }

  // Verifies the peer's certificate chain and that it is for the target's host; sends SNI and
  // offers the origin's last session. nullopt on success.
  Task<std::optional<HttpResponse>> Handshake(Exchange& exchange, Connection& connection,
                                              const Target& target,
                                              SteadyClock::time_point deadline) {
    SSL* handle = connection.secure->native_handle();
    if (target.host_is_ip) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(handle), target.host.c_str());
    } else {
      SSL_set_tlsext_host_name(handle, target.host.c_str());
      SSL_set1_host(handle, target.host.c_str());
    }
    SSL_set_ex_data(handle, OriginIndex(), connection.origin);
    if (connection.origin->session != nullptr) SSL_set_session(handle, connection.origin->session);
    connection.Tcp().expires_at(deadline);
    exchange.stream = &connection.Tcp();
    auto [ec] = co_await connection.secure->async_handshake(ssl::stream_base::client, kTuple);
    exchange.stream = nullptr;
    if (exchange.cancelled) co_return CancelledResponse();
    if (!ec) co_return std::nullopt;
    if (ec == beast::error::timeout) {
      co_return TimeoutError("Connection timed out after " +
                             std::to_string(MillisSince(exchange.started)) + " milliseconds");
    }
    co_return TransportError(TlsErrorText(handle, target, ec));
  }

  // Writes the request and reads the response, keeping the first kMaxResponseBodyBytes of its
  // body and dropping the rest.
  template <class Stream>
  Task<Talk> Send(Stream& stream, Connection& connection, Exchange& exchange,
                  const std::string& head) {
    Talk talk;
    connection.Tcp().expires_at(exchange.deadline);
    const std::array<asio::const_buffer, 2> request{asio::buffer(head),
                                                    asio::buffer(exchange.request.body)};
    auto [write_error, written] = co_await asio::async_write(stream, request, kTuple);
    if (write_error) {
      talk.nothing_sent = written == 0 && write_error != beast::error::timeout;
      talk.response =
          write_error == beast::error::timeout
              ? exchange.TimedOut()
              : TransportError("Failed sending data to the peer: " + write_error.message());
      co_return talk;
    }
    // Interim (1xx) responses are skipped: the final one follows.
    std::optional<http::response_parser<http::buffer_body>> interim_or_final;
    int status = 0;
    do {
      auto& parser = interim_or_final.emplace();
      parser.body_limit(boost::none);  // the total timeout bounds it; the rest is dropped
      parser.header_limit(kMaxResponseHeaderBytes);
      auto [ec, read] = co_await http::async_read_header(stream, connection.buffer, parser, kTuple);
      exchange.bytes_received += read;
      if (ec) {
        talk.response = ReadError(exchange, ec);
        co_return talk;
      }
      status = parser.get().result_int();
    } while (status >= 100 && status < 200 && status != 101);
    http::response_parser<http::buffer_body>& parser = *interim_or_final;
    HttpResponse& response = talk.response;
    response.status_code = status;
    for (const auto& field : parser.get()) {
      response.headers.emplace_back(Lowercase(field.name_string()),
                                    std::string(Trim(field.value())));
    }
    std::array<char, kReadChunk> chunk;
    while (!parser.is_done()) {
      parser.get().body().data = chunk.data();
      parser.get().body().size = chunk.size();
      auto [ec, read] = co_await http::async_read(stream, connection.buffer, parser, kTuple);
      exchange.bytes_received += read;
      if (ec == http::error::need_buffer) ec = {};
      if (ec) {
        talk.response = ReadError(exchange, ec);
        co_return talk;
      }
      const std::size_t got = chunk.size() - parser.get().body().size;
      const std::size_t room = kMaxResponseBodyBytes - response.body.size();
      response.body.append(chunk.data(), std::min(got, room));
      if (got > room) response.body_truncated = true;
    }
    talk.reusable = parser.keep_alive() && response.status_code != 101;
    co_return talk;
  }

  static HttpResponse ReadError(const Exchange& exchange, const beast::error_code& ec) {
    if (ec == beast::error::timeout) return exchange.TimedOut();
    return TransportError(ReadErrorText(exchange, ec));
  }

  static std::string ReadErrorText(const Exchange& exchange, const beast::error_code& ec) {
    if (exchange.bytes_received == 0 &&
        (ec == http::error::end_of_stream || ec == asio::error::eof)) {
      return "Server returned nothing (no headers, no data): Empty reply from server";
    }
    if (ec.category() == http::make_error_code(http::error::bad_version).category()) {
      return "Weird server reply: " + ec.message();
    }
    return "Failure when receiving data from the peer: " + ec.message();
  }

  // Lends this thread to the dispatcher (HttpClient::loop()).
  class Loop final : public EventLoop {
   public:
    explicit Loop(Impl& impl) : impl_(impl) {}
    void Post(Work work) override { asio::post(impl_.io, std::move(work)); }
    void PostAt(TimePoint when, Work work) override {
      asio::post(impl_.io, [impl = &impl_, when, work = std::move(work)]() mutable {
        impl->StartTimedWork(when, std::move(work));
      });
    }

   private:
    Impl& impl_;
  };

  void StartTimedWork(EventLoop::TimePoint when, EventLoop::Work work) {
    if (shutting_down) return;
    auto timer = std::make_shared<Timer>(io, when);
    timed_work.insert(timer.get());
    timer->async_wait([this, timer, work = std::move(work)](const beast::error_code& ec) {
      timed_work.erase(timer.get());
      if (!ec) work();
    });
  }

  void BeginShutdown() {
    shutting_down = true;
    work.reset();
    for (Timer* timer : timed_work) timer->cancel();
    for (auto& [key, origin] : origins) {
      for (auto& connection : origin->idle) connection->Close();
      total_open -= static_cast<int>(origin->idle.size());
      origin->open -= static_cast<int>(origin->idle.size());
      origin->idle.clear();
    }
    if (active.empty()) return;
    grace_timer.expires_after(options.shutdown_grace);
    grace_timer.async_wait([this](const beast::error_code&) {
      for (Exchange* exchange : active) exchange->Cancel();
    });
  }

  const BeastHttpClientOptions options;
  const StaticHosts static_hosts;
  asio::io_context io{1};
  ssl::context tls{ssl::context::tls_client};
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  Timer grace_timer{io};
  Loop loop{*this};
  std::thread thread;
  std::mutex stop_mutex;  // serialises Stop() callers
  std::mutex mutex;
  bool stopping = false;  // guarded by mutex

  // The client's thread only.
  std::unordered_map<std::string, std::unique_ptr<Origin>> origins;
  int total_open = 0;
  std::list<Waiter*> waiters;  // in arrival order
  std::unordered_map<std::string, CachedAddresses> dns_cache;
  std::unordered_set<Exchange*> active;
  std::unordered_set<Timer*> timed_work;  // the loop's PostAt work, waiting
  std::unordered_map<std::string, std::shared_ptr<const Target>> targets;  // by URL
  bool shutting_down = false;
};

Result<std::unique_ptr<BeastHttpClient>> BeastHttpClient::Create(BeastHttpClientOptions options) {
  Result<StaticHosts> hosts = ParseStaticHosts(options.resolve);
  if (!hosts.ok()) return hosts.error();
  auto impl = std::make_unique<Impl>(std::move(options), std::move(*hosts));
  if (Status tls = impl->ConfigureTls(); !tls.ok()) return tls.error();
  return std::unique_ptr<BeastHttpClient>(new BeastHttpClient(std::move(impl)));
}

BeastHttpClient::BeastHttpClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {
  impl_->thread = NamedThread("http-client", [impl = impl_.get()] { impl->io.run(); });
}

BeastHttpClient::~BeastHttpClient() { Stop(); }

void BeastHttpClient::Send(HttpRequest request, Callback done) {
  auto exchange = std::make_unique<Exchange>();
  exchange->started = SteadyClock::now();
  exchange->deadline = exchange->started + std::chrono::milliseconds(request.timeout_ms);
  exchange->request = std::move(request);
  exchange->done = std::move(done);
  bool stopping = false;
  {
    std::lock_guard lock(impl_->mutex);
    stopping = impl_->stopping;
    if (!stopping && !impl_->io.get_executor().running_in_this_thread()) {
      asio::post(impl_->io, [impl = impl_.get(), exchange = std::move(exchange)]() mutable {
        impl->Launch(std::move(exchange));
      });
      return;
    }
  }
  // The dispatcher runs on this client's thread (HttpClient::loop()) and sends from there:
  // the request starts at once instead of after a hop through the queue.
  if (!stopping) {
    impl_->Launch(std::move(exchange));
    return;
  }
  HttpResponse response = CancelledResponse();
  response.duration_ms = MillisSince(exchange->started);
  exchange->done(std::move(response));
}

EventLoop* BeastHttpClient::loop() { return &impl_->loop; }

void BeastHttpClient::Stop() {
  std::lock_guard stop_lock(impl_->stop_mutex);
  {
    std::lock_guard lock(impl_->mutex);
    if (!impl_->stopping) {
      impl_->stopping = true;
      asio::post(impl_->io, [impl = impl_.get()] { impl->BeginShutdown(); });
    }
  }
  if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace webhookd::delivery
