// bench_receiver: a fast webhook receiver for the benchmark. It answers every request with an
// empty 200 at once and records when each one arrived and its webhook-id header. With
// --blackhole it accepts connections and reads requests but never answers; with --hold-prefix P
// it answers every request except those whose path starts with P, which it reads and never
// answers (a black hole on the same origin as the healthy routes).
//
// On SIGTERM or SIGINT it stops and prints its statistics as one JSON line (also written to
// --stats-file): request count and rate, duplicate arrivals (the same webhook-id at the same
// path twice) and, given the load generator's --sent-log, the latency from each event's 202 to
// its arrival here.
#include <CLI/CLI.hpp>
#include <array>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <mutex>
#include <thread>
#include <unordered_set>

#include "bench_util.hpp"

namespace asio = boost::asio;
namespace http = boost::beast::http;
using asio::ip::tcp;

namespace webhookd::bench {
namespace {

constexpr std::size_t kMaxBodyBytes = 8 * 1024 * 1024;
constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);

struct Options {
  std::string listen = "127.0.0.1:0";
  bool blackhole = false;
  std::string hold_prefix;  // "" : answer every path
  int threads = 1;
  std::string sent_log;
  std::string stats_file;
  std::string record_file;
  std::size_t max_records = 4'000'000;
};

struct Arrival {
  std::string webhook_id;
  std::string path;  // each configuration of a fan-out has its own path
  std::int64_t ns = 0;
};

// Every request's arrival. Thread-safe; keeps at most `max_records` (the count goes on).
class Recorder {
 public:
  explicit Recorder(std::size_t max_records) : max_records_(max_records) {
    arrivals_.reserve(std::min<std::size_t>(max_records, 1'000'000));
  }

  void Add(std::string_view webhook_id, std::string_view path, std::int64_t ns) {
    count_.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lock(mutex_);
    if (arrivals_.size() < max_records_) {
      arrivals_.push_back({std::string(webhook_id), std::string(path), ns});
    }
  }
  void AddConnection() { connections_.fetch_add(1, std::memory_order_relaxed); }
  void AddHeld() { held_.fetch_add(1, std::memory_order_relaxed); }

  std::int64_t count() const { return count_.load(); }
  std::int64_t connections() const { return connections_.load(); }
  std::int64_t held() const { return held_.load(); }
  // Call only after every thread that calls Add() has stopped.
  const std::vector<Arrival>& arrivals() const { return arrivals_; }

 private:
  const std::size_t max_records_;
  std::atomic<std::int64_t> count_{0};
  std::atomic<std::int64_t> connections_{0};
  std::atomic<std::int64_t> held_{0};
  std::mutex mutex_;
  std::vector<Arrival> arrivals_;  // guarded by mutex_
};

// Reads whatever else comes so that the sender's writes complete, until it hangs up.
asio::awaitable<void> ReadUntilClosed(tcp::socket& socket) {
  std::array<char, 16 * 1024> sink;
  for (;;) {
    auto [error, bytes] = co_await socket.async_read_some(asio::buffer(sink), kAwait);
    if (error) co_return;
  }
}

// One coroutine per connection: read a request, record it, answer 200, repeat. A request
// under `hold_prefix` is counted as held and never answered.
asio::awaitable<void> Answer(tcp::socket socket, Recorder& recorder, std::string_view hold_prefix) {
  boost::beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(kMaxBodyBytes);
    auto [read_error, read_bytes] = co_await http::async_read(socket, buffer, parser, kAwait);
    if (read_error) co_return;
    const std::int64_t arrived = MonotonicNs();
    const http::request<http::string_body>& request = parser.get();
    if (!hold_prefix.empty() && request.target().starts_with(hold_prefix)) {
      recorder.AddHeld();
      co_await ReadUntilClosed(socket);
      co_return;
    }
    recorder.Add(request["webhook-id"], request.target(), arrived);
    http::response<http::empty_body> response{http::status::ok, request.version()};
    response.keep_alive(request.keep_alive());
    response.content_length(0);
    auto [write_error, written] = co_await http::async_write(socket, response, kAwait);
    if (write_error || !response.keep_alive()) co_return;
  }
}

// The black hole: reads whatever comes so that the sender's writes complete, never answers.
asio::awaitable<void> Swallow(tcp::socket socket, Recorder& recorder) {
  std::array<char, 1> first;
  auto [error, bytes] = co_await socket.async_read_some(asio::buffer(first), kAwait);
  if (error) co_return;
  recorder.Add("", "", MonotonicNs());
  co_await ReadUntilClosed(socket);
}

asio::awaitable<void> Accept(tcp::acceptor& acceptor, Recorder& recorder, const Options& options) {
  for (;;) {
    auto [error, socket] = co_await acceptor.async_accept(kAwait);
    if (error) {
      if (error == asio::error::operation_aborted) co_return;
      continue;
    }
    socket.set_option(tcp::no_delay(true));
    recorder.AddConnection();
    auto executor = socket.get_executor();
    if (options.blackhole) {
      asio::co_spawn(executor, Swallow(std::move(socket), recorder), asio::detached);
    } else {
      asio::co_spawn(executor, Answer(std::move(socket), recorder, options.hold_prefix),
                     asio::detached);
    }
  }
}

boost::json::object LatencyJson(Percentiles p) {
  return {{"count", p.count}, {"p50", p.p50}, {"p90", p.p90}, {"p99", p.p99}, {"max", p.max}};
}

// Joins the arrivals with the generator's 202 times. Arrival before the 202 reached the
// generator is possible (the dispatcher starts right after the commit), so values are signed.
void AddLatency(const Options& options, const std::vector<Arrival>& arrivals,
                boost::json::object& stats) {
  const std::unordered_map<std::string, std::int64_t> sent = ReadSentLog(options.sent_log);
  std::vector<std::int64_t> latencies;
  latencies.reserve(arrivals.size());
  std::unordered_set<std::string_view> distinct;
  std::int64_t unmatched = 0;
  for (const Arrival& a : arrivals) {
    const auto it = sent.find(a.webhook_id);
    if (it == sent.end()) {
      ++unmatched;
      continue;
    }
    distinct.insert(a.webhook_id);
    latencies.push_back(a.ns - it->second);
  }
  stats["sentEvents"] = sent.size();
  stats["matched"] = latencies.size();
  stats["unmatched"] = unmatched;
  stats["distinctEvents"] = distinct.size();
  stats["latencyMs"] = LatencyJson(ComputePercentiles(latencies, 1e-6));
}

// Arrivals of a webhook-id at a path that already had it: a delivery sent twice. Requests
// without a webhook-id (the ceiling's) are not counted.
std::int64_t CountDuplicates(const std::vector<Arrival>& arrivals) {
  std::unordered_set<std::string> seen;
  seen.reserve(arrivals.size());
  std::int64_t duplicates = 0;
  for (const Arrival& a : arrivals) {
    if (a.webhook_id.empty()) continue;
    if (!seen.insert(a.webhook_id + ' ' + a.path).second) ++duplicates;
  }
  return duplicates;
}

boost::json::object Statistics(const Options& options, const Recorder& recorder) {
  const std::vector<Arrival>& arrivals = recorder.arrivals();
  boost::json::object stats{{"mode", options.blackhole ? "blackhole" : "answer"},
                            {"requests", recorder.count()},
                            {"connections", recorder.connections()},
                            {"heldRequests", recorder.held()},
                            {"recorded", arrivals.size()},
                            {"duplicateArrivals", CountDuplicates(arrivals)}};
  if (arrivals.size() >= 2) {
    const auto [first, last] =
        std::minmax_element(arrivals.begin(), arrivals.end(),
                            [](const Arrival& a, const Arrival& b) { return a.ns < b.ns; });
    const double seconds = static_cast<double>(last->ns - first->ns) / 1e9;
    stats["firstArrivalNs"] = first->ns;
    stats["lastArrivalNs"] = last->ns;
    stats["ratePerSecond"] = seconds > 0 ? static_cast<double>(arrivals.size() - 1) / seconds : 0.0;
  }
  if (!options.sent_log.empty()) AddLatency(options, arrivals, stats);
  return stats;
}

void WriteRecords(const std::string& path, const std::vector<Arrival>& arrivals) {
  std::ofstream out(path);
  for (const Arrival& a : arrivals)
    out << (a.webhook_id.empty() ? "-" : a.webhook_id) << ' ' << a.ns << '\n';
}

std::optional<tcp::endpoint> ListenEndpoint(const std::string& listen) {
  const std::optional<HttpTarget> target = ParseHttpUrl("http://" + listen);
  if (!target) return std::nullopt;
  boost::system::error_code ec;
  const asio::ip::address address = asio::ip::make_address(target->host, ec);
  if (ec || !address.is_loopback()) return std::nullopt;
  return tcp::endpoint(address, target->port);
}

int Run(const Options& options) {
  const std::optional<tcp::endpoint> endpoint = ListenEndpoint(options.listen);
  if (!endpoint) {
    std::fprintf(stderr, "bench_receiver: --listen must be a loopback HOST:PORT\n");
    return 2;
  }
  asio::io_context io(options.threads);
  tcp::acceptor acceptor(io);
  boost::system::error_code ec;
  acceptor.open(endpoint->protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(*endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    std::fprintf(stderr, "bench_receiver: cannot listen on %s: %s\n", options.listen.c_str(),
                 ec.message().c_str());
    return 1;
  }
  Recorder recorder(options.max_records);
  asio::co_spawn(io, Accept(acceptor, recorder, options), asio::detached);
  asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&io](const boost::system::error_code&, int) { io.stop(); });

  std::printf("bench_receiver listening on http://127.0.0.1:%u\n",
              unsigned{acceptor.local_endpoint().port()});
  std::fflush(stdout);
  std::vector<std::thread> threads;
  for (int i = 1; i < options.threads; ++i) threads.emplace_back([&io] { io.run(); });
  io.run();
  for (std::thread& t : threads) t.join();

  const std::string stats = boost::json::serialize(Statistics(options, recorder));
  std::printf("%s\n", stats.c_str());
  if (!options.stats_file.empty()) std::ofstream(options.stats_file) << stats << '\n';
  if (!options.record_file.empty()) WriteRecords(options.record_file, recorder.arrivals());
  return 0;
}

}  // namespace
}  // namespace webhookd::bench

int main(int argc, char** argv) {
  webhookd::bench::Options options;
  CLI::App cli{"bench_receiver: answers webhooks with 200 at once and measures their arrival."};
  cli.add_option("--listen", options.listen, "Loopback HOST:PORT (port 0 picks a free one)")
      ->capture_default_str();
  cli.add_flag("--blackhole", options.blackhole, "Accept and read requests but never answer");
  cli.add_option("--hold-prefix", options.hold_prefix,
                 "Read requests whose path starts with this prefix but never answer them "
                 "(the other paths are answered as usual)");
  cli.add_option("--threads", options.threads, "Threads serving connections")
      ->check(CLI::Range(1, 16))
      ->capture_default_str();
  cli.add_option("--sent-log", options.sent_log,
                 "The load generator's log of accepted events (\"ID NS\" lines), read at exit "
                 "to compute the latency from each 202 to its arrival");
  cli.add_option("--stats-file", options.stats_file, "Also write the statistics JSON here");
  cli.add_option("--record-file", options.record_file,
                 "Write every arrival as \"WEBHOOK_ID NS\" here at exit");
  cli.add_option("--max-records", options.max_records, "Arrivals kept in memory at most")
      ->capture_default_str();
  CLI11_PARSE(cli, argc, argv);
  return webhookd::bench::Run(options);
}
