// bench_loadgen: posts one event payload over and over with N concurrent keep-alive
// connections (paced to --rate requests per second if given), until a duration or a request count
// is reached, whichever comes first.
//
//   --mode webhookd  POST {organizationId, eventName, payload} to URL/events with an API key;
//                    a 202 is an accepted event, logged with its time to --sent-log.
//   --mode direct    POST the payload itself straight to URL (the benchmark receiver), the way
//                    webhookd would deliver it: the ceiling webhookd is measured against.
//
// --url may be given several times (several webhookd nodes): connection i posts to the
// (i mod n)-th URL, so the connections alternate between them.
//
// Prints one JSON line of statistics (also written to --summary-file).
#include <CLI/CLI.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

#include "bench_util.hpp"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
using namespace std::chrono_literals;

namespace webhookd::bench {
namespace {

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kMaxResponseBytes = 1024 * 1024;
constexpr auto kIoTimeout = 30s;
constexpr auto kReconnectPause = 50ms;

struct Options {
  std::string mode = "webhookd";
  std::vector<std::string> urls;
  std::string api_key;
  std::string payload_file;
  std::int64_t organization = 1;
  std::string event_name = "BookAppointment";
  int connections = 16;
  double duration_s = 20;
  std::int64_t max_requests = 5'000'000;
  double rate = 0;  // requests per second in all; 0: as fast as the connections go
  std::string sent_log;
  std::string summary_file;
};

// What every connection shares. One io_context thread: no locking.
struct Run {
  Options options;
  std::vector<HttpTarget> targets;       // one per --url
  std::vector<tcp::endpoint> endpoints;  // of targets[i]
  std::string body;
  bool direct = false;
  std::chrono::steady_clock::time_point started;
  std::chrono::steady_clock::time_point deadline;

  std::int64_t issued = 0;
  std::int64_t accepted = 0;
  std::int64_t transport_errors = 0;
  std::map<unsigned, std::int64_t> statuses;
  std::vector<std::int64_t> response_ns;
  std::vector<std::pair<std::string, std::int64_t>> sent;  // accepted event id, 202 time

  // Bounded in time and in count: false once either limit is reached.
  bool TakeTicket() {
    if (issued >= options.max_requests || std::chrono::steady_clock::now() >= deadline) {
      return false;
    }
    ++issued;
    return true;
  }

  // With --rate, when the request of ticket `issued` (the last taken) may be sent: tickets are
  // spread evenly from the start, so the load is paced rather than sent in bursts.
  std::chrono::steady_clock::time_point SendAt() const {
    if (options.rate <= 0) return started;
    return started +
           std::chrono::duration_cast<std::chrono::steady_clock::duration>(
               std::chrono::duration<double>(static_cast<double>(issued - 1) / options.rate));
  }
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The event id of a 202 reply ({"id": "evt_...", "deliveries": [...]}), or "" if absent.
std::string EventIdOf(const std::string& body) {
  boost::system::error_code ec;
  const boost::json::value reply = boost::json::parse(body, ec);
  if (ec || !reply.is_object()) return {};
  const boost::json::value* id = reply.as_object().if_contains("id");
  return id != nullptr && id->is_string() ? std::string(id->as_string()) : std::string();
}

// The --url that `connection` posts to.
std::size_t TargetOf(const Run& run, int connection) {
  return static_cast<std::size_t>(connection) % run.targets.size();
}

http::request<http::string_body> MakeRequest(const Run& run, int connection, std::int64_t seq) {
  const HttpTarget& target = run.targets[TargetOf(run, connection)];
  http::request<http::string_body> request{http::verb::post, target.path, 11};
  request.set(http::field::host, target.host + ":" + std::to_string(target.port));
  request.set(http::field::content_type, "application/json");
  request.set(http::field::user_agent, "webhookd-bench");
  if (run.direct) {
    request.set("webhook-id", "direct_" + std::to_string(connection) + "_" + std::to_string(seq));
  } else {
    request.set(http::field::authorization, "Bearer " + run.options.api_key);
  }
  request.keep_alive(true);
  request.body() = run.body;
  request.prepare_payload();
  return request;
}

void RecordResponse(Run& run, const http::response<http::string_body>& response,
                    std::int64_t started, std::int64_t finished) {
  const unsigned status = response.result_int();
  ++run.statuses[status];
  run.response_ns.push_back(finished - started);
  if (run.direct) {
    if (status >= 200 && status < 300) ++run.accepted;
    return;
  }
  if (status != 202) return;
  ++run.accepted;
  if (!run.options.sent_log.empty()) run.sent.emplace_back(EventIdOf(response.body()), finished);
}

asio::awaitable<void> Pause(std::chrono::milliseconds wait) {
  asio::steady_timer timer(co_await asio::this_coro::executor, wait);
  co_await timer.async_wait(kAwait);
}

asio::awaitable<void> PauseUntil(std::chrono::steady_clock::time_point at) {
  if (std::chrono::steady_clock::now() >= at) co_return;
  asio::steady_timer timer(co_await asio::this_coro::executor, at);
  co_await timer.async_wait(kAwait);
}

// One keep-alive connection posting requests back to back.
asio::awaitable<void> Drive(Run& run, int connection) {
  beast::tcp_stream stream(co_await asio::this_coro::executor);
  beast::flat_buffer buffer;
  bool connected = false;
  std::int64_t seq = 0;
  while (run.TakeTicket()) {
    co_await PauseUntil(run.SendAt());
    if (!connected) {
      stream.expires_after(kIoTimeout);
      auto [error] =
          co_await stream.async_connect(run.endpoints[TargetOf(run, connection)], kAwait);
      if (error) {
        ++run.transport_errors;
        stream.close();
        co_await Pause(kReconnectPause);
        continue;
      }
      stream.socket().set_option(tcp::no_delay(true));
      connected = true;
    }
    http::request<http::string_body> request = MakeRequest(run, connection, seq++);
    const std::int64_t started = MonotonicNs();
    stream.expires_after(kIoTimeout);
    auto [write_error, written] = co_await http::async_write(stream, request, kAwait);
    http::response_parser<http::string_body> parser;
    parser.body_limit(kMaxResponseBytes);
    boost::system::error_code read_error = write_error;
    if (!write_error) {
      std::tie(read_error, std::ignore) = co_await http::async_read(stream, buffer, parser, kAwait);
    }
    if (read_error) {
      ++run.transport_errors;
      stream.close();
      buffer.clear();
      connected = false;
      continue;
    }
    RecordResponse(run, parser.get(), started, MonotonicNs());
    if (!parser.get().keep_alive()) {
      stream.close();
      buffer.clear();
      connected = false;
    }
  }
  stream.close();
}

boost::json::object Summary(Run& run, double elapsed_s) {
  const Percentiles p = ComputePercentiles(run.response_ns, 1e-6);
  boost::json::object statuses;
  for (const auto& [status, count] : run.statuses) statuses[std::to_string(status)] = count;
  return {{"mode", run.options.mode},
          {"connections", run.options.connections},
          {"targets", run.targets.size()},
          {"elapsedSeconds", elapsed_s},
          {"requests", run.issued},
          {"accepted", run.accepted},
          {"transportErrors", run.transport_errors},
          {"statuses", std::move(statuses)},
          {"acceptedPerSecond", elapsed_s > 0 ? static_cast<double>(run.accepted) / elapsed_s : 0},
          {"responseMs", {{"p50", p.p50}, {"p90", p.p90}, {"p99", p.p99}, {"max", p.max}}}};
}

void WriteSentLog(const Run& run) {
  std::ofstream out(run.options.sent_log);
  for (const auto& [id, ns] : run.sent) {
    if (!id.empty()) out << id << ' ' << ns << '\n';
  }
}

// Checks the options and prepares the request body; false with a message on error.
bool Prepare(Run& run) {
  const Options& o = run.options;
  run.direct = o.mode == "direct";
  boost::system::error_code ec;
  for (const std::string& url : o.urls) {
    std::optional<HttpTarget> target = ParseHttpUrl(url);
    const asio::ip::address address =
        asio::ip::make_address(target ? target->host : std::string(), ec);
    if (!target || ec || !address.is_loopback()) {
      std::fprintf(stderr, "bench_loadgen: --url must be http://<loopback address>:PORT[/path]\n");
      return false;
    }
    if (!run.direct && target->path == "/") target->path = "/events";
    run.endpoints.emplace_back(address, target->port);
    run.targets.push_back(std::move(*target));
  }
  const boost::json::value payload = boost::json::parse(ReadFile(o.payload_file), ec);
  if (ec || !payload.is_object()) {
    std::fprintf(stderr, "bench_loadgen: %s does not hold a JSON object\n", o.payload_file.c_str());
    return false;
  }
  if (run.direct) {
    run.body = boost::json::serialize(payload);
  } else {
    run.body = boost::json::serialize(boost::json::object{
        {"organizationId", o.organization}, {"eventName", o.event_name}, {"payload", payload}});
  }
  return true;
}

int Main(Options options) {
  Run run;
  run.options = std::move(options);
  if (!Prepare(run)) return 2;
  run.response_ns.reserve(1'000'000);
  asio::io_context io(1);
  const auto started = std::chrono::steady_clock::now();
  run.started = started;
  run.deadline = started + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                               std::chrono::duration<double>(run.options.duration_s));
  for (int c = 0; c < run.options.connections; ++c) {
    asio::co_spawn(io, Drive(run, c), asio::detached);
  }
  io.run();
  const double elapsed_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (!run.options.sent_log.empty()) WriteSentLog(run);
  const std::string summary = boost::json::serialize(Summary(run, elapsed_s));
  std::printf("%s\n", summary.c_str());
  if (!run.options.summary_file.empty()) std::ofstream(run.options.summary_file) << summary << '\n';
  return run.accepted > 0 ? 0 : 1;
}

}  // namespace
}  // namespace webhookd::bench

int main(int argc, char** argv) {
  webhookd::bench::Options o;
  CLI::App cli{"bench_loadgen: posts events to webhookd (or straight to a receiver) for a while."};
  cli.add_option("--mode", o.mode, "webhookd: POST /events; direct: POST the payload to --url")
      ->check(CLI::IsMember({"webhookd", "direct"}))
      ->capture_default_str();
  cli.add_option("--url", o.urls,
                 "http://127.0.0.1:PORT[/path] of webhookd or the receiver; repeat it for several "
                 "webhookd nodes (connections alternate between them)")
      ->required();
  cli.add_option("--api-key", o.api_key, "webhookd API key (mode webhookd)");
  cli.add_option("--payload-file", o.payload_file, "The event payload (a JSON object)")
      ->required()
      ->check(CLI::ExistingFile);
  cli.add_option("--organization", o.organization, "organizationId of the events")
      ->capture_default_str();
  cli.add_option("--event", o.event_name, "eventName of the events")->capture_default_str();
  cli.add_option("--connections", o.connections, "Concurrent keep-alive connections")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  cli.add_option("--duration", o.duration_s, "Seconds to keep posting")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  cli.add_option("--max-requests", o.max_requests, "Requests to send at most")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{100'000'000}))
      ->capture_default_str();
  cli.add_option("--rate", o.rate,
                 "Requests per second in all, spread evenly (0: as fast as the connections go)")
      ->check(CLI::Range(0.0, 1e6))
      ->capture_default_str();
  cli.add_option("--sent-log", o.sent_log, "Write \"EVENT_ID NS\" per 202 here (mode webhookd)");
  cli.add_option("--summary-file", o.summary_file, "Also write the summary JSON here");
  CLI11_PARSE(cli, argc, argv);
  return webhookd::bench::Main(std::move(o));
}
