// Per-stage microbenchmarks of the delivery engine's CPU work: building a signed delivery
// request, validating an event against its catalog schema (both without I/O), one client
// exchange over a kept-alive loopback connection with each HttpClient, and the SQLite store's
// commit of a batch of events. Run with
//   build/bench/bench_micro --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
// (docs/benchmarks.md, "Per-stage microbenchmarks").
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <boost/json.hpp>
#include <filesystem>
#include <future>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "api/response_head.hpp"
#include "catalog/catalog.hpp"
#include "core/clock.hpp"
#include "core/ids.hpp"
#include "core/json_parse.hpp"
#include "crypto/field_cipher.hpp"
#include "crypto/secret.hpp"
#include "delivery/beast_http_client.hpp"
#include "delivery/curl_http_client.hpp"
#include "delivery/request_builder.hpp"
#include "store/sqlite/sqlite_store.hpp"

namespace webhookd {
namespace {

constexpr UnixMillis kNow = 1'700'000'123'456;

const EventType& BookAppointment() { return *Catalog::Builtin().Find("BookAppointment"); }

// A configuration as the platform sets them up: both known attributes, two headers, and a
// rotation in progress (two signatures per send).
WebhookConfig RealisticConfig() {
  WebhookConfig config;
  config.id = 7;
  config.url = "https://receiver.example/hooks/appointments";
  config.event_type_id = BookAppointment().id;
  config.attributes_json = R"({"apiKey":"ak_live_0123456789abcdef","organizationCode":"ACME"})";
  config.headers_json = R"({"X-Tenant":"acme-health","X-Trace-Source":"webhookd"})";
  config.secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  config.previous_secret = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
  config.previous_secret_expires_at = kNow + 3'600'000;
  return config;
}

delivery::MessageToSend Message(const std::string& payload) {
  return {"evt_01HXYZABCDEFGHJKMNPQRSTVWX", BookAppointment().name, payload, kNow};
}

void BM_BuildDeliveryRequest(benchmark::State& state) {
  const WebhookConfig config = RealisticConfig();
  const std::string payload = BookAppointment().sample_json;
  const delivery::RequestSettings settings;
  for (auto _ : state) {
    Result<delivery::HttpRequest> request =
        delivery::BuildDeliveryRequest(config, Message(payload), settings);
    benchmark::DoNotOptimize(request);
  }
}
BENCHMARK(BM_BuildDeliveryRequest);

// What the dispatcher does per send: the configuration prepared once, outside the loop.
void BM_BuildPreparedRequest(benchmark::State& state) {
  const delivery::PreparedConfig prepared(RealisticConfig(), delivery::RequestSettings{});
  const std::string payload = BookAppointment().sample_json;
  for (auto _ : state) {
    Result<delivery::HttpRequest> request =
        delivery::BuildDeliveryRequest(prepared, Message(payload));
    benchmark::DoNotOptimize(request);
  }
}
BENCHMARK(BM_BuildPreparedRequest);

// Parsing a POST /events body (the catalog's BookAppointment sample, as bench/run posts it),
// destruction included: the nodes on the heap (0), or in an arena on the stack as the ingest
// handlers do (1).
void BM_ParseIngestBody(benchmark::State& state) {
  const std::string body = R"({"eventName":"BookAppointment","organizationId":1,"payload":)" +
                           BookAppointment().sample_json + "}";
  const bool in_arena = state.range(0) == 1;
  for (auto _ : state) {
    std::array<unsigned char, 8 * 1024> block;
    boost::json::monotonic_resource arena(block.data(), block.size());
    Result<boost::json::value> parsed = in_arena ? ParseJson(body, 64, &arena) : ParseJson(body);
    if (!parsed.ok()) state.SkipWithError("the body does not parse");
    benchmark::DoNotOptimize(parsed);
  }
}
BENCHMARK(BM_ParseIngestBody)->Arg(0)->Arg(1);

// Finding the payload's text in the same body, as POST /events does to store it as written.
void BM_RawMemberText(benchmark::State& state) {
  const std::string body = R"({"eventName":"BookAppointment","organizationId":1,"payload":)" +
                           BookAppointment().sample_json + "}";
  for (auto _ : state) {
    std::optional<std::string_view> payload = RawMemberText(body, "payload");
    if (!payload) state.SkipWithError("no payload found");
    benchmark::DoNotOptimize(payload);
  }
}
BENCHMARK(BM_RawMemberText);

void BM_ValidateSample(benchmark::State& state) {
  const Catalog& catalog = Catalog::Builtin();
  const EventType& type = *catalog.Find(static_cast<int>(state.range(0)));
  const boost::json::value sample = boost::json::parse(type.sample_json);
  state.SetLabel(type.name);
  for (auto _ : state) {
    Status status = catalog.Validate(type, sample);
    if (!status.ok()) state.SkipWithError("the catalog's sample does not validate");
    benchmark::DoNotOptimize(status);
  }
}
BENCHMARK(BM_ValidateSample)->DenseRange(1, 12);

// Encryption at rest of one event payload (the catalog sample, padded to the 1 KB of the
// benchmark's events), as EncryptingStore seals it at ingestion and opens it at a claim.
crypto::FieldCipher BenchCipher() {
  crypto::Keyring keyring;
  keyring.Add(keyring.NewKey());
  return crypto::FieldCipher(std::move(keyring));
}

std::string KilobytePayload() {
  std::string payload = BookAppointment().sample_json;
  payload.insert(payload.size() - 1,
                 R"(,"note":")" + std::string(1024 - payload.size() - 10, 'x') + "\"");
  return payload;
}

constexpr std::string_view kPayloadContext = "events.payload/evt_01HXYZABCDEFGHJKMNPQRSTVWX";

void BM_SealPayload(benchmark::State& state) {
  const crypto::FieldCipher cipher = BenchCipher();
  const std::string payload = KilobytePayload();
  for (auto _ : state) {
    std::string sealed = cipher.Seal(payload, kPayloadContext);
    benchmark::DoNotOptimize(sealed);
  }
}
BENCHMARK(BM_SealPayload);

void BM_OpenPayload(benchmark::State& state) {
  const crypto::FieldCipher cipher = BenchCipher();
  const std::string sealed = cipher.Seal(KilobytePayload(), kPayloadContext);
  for (auto _ : state) {
    Result<std::string> plain = cipher.Open(sealed, kPayloadContext);
    benchmark::DoNotOptimize(plain);
  }
}
BENCHMARK(BM_OpenPayload);

// Authentication: every request's API key is hashed to find its record.
void BM_HashApiKey(benchmark::State& state) {
  const std::string key = crypto::GenerateApiKey();
  for (auto _ : state) {
    std::string hash = crypto::HashApiKey(key);
    benchmark::DoNotOptimize(hash);
  }
}
BENCHMARK(BM_HashApiKey);

// The bytes of an accepted event's 202, head and body, as the HTTP workers write them.
void BM_ResponseHead(benchmark::State& state) {
  api::Response accepted;
  accepted.status = 202;
  accepted.body = R"({"eventId":"evt_01JDW9Z8Q0M5Y7N3K2H1G0F9E8","deliveries":1})";
  for (auto _ : state) {
    std::string head = api::ResponseHead(accepted, 11, true);
    benchmark::DoNotOptimize(head);
    benchmark::DoNotOptimize(api::ResponseBody(accepted, false));
  }
}
BENCHMARK(BM_ResponseHead);

// A loopback receiver for the client exchange: a thread per connection answering every
// request with an empty 200 and keeping the connection.
class LoopbackReceiver {
 public:
  LoopbackReceiver() {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), length);
    listen(listen_fd_, 16);
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    acceptor_ = std::thread([this] { Accept(); });
  }
  ~LoopbackReceiver() {
    shutdown(listen_fd_, SHUT_RDWR);
    close(listen_fd_);
    acceptor_.join();
    for (int fd : connections_) shutdown(fd, SHUT_RDWR);
    for (std::thread& thread : threads_) thread.join();
    for (int fd : connections_) close(fd);
  }
  std::string Url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/hook"; }

 private:
  void Accept() {
    for (;;) {
      const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) return;
      connections_.push_back(fd);
      threads_.emplace_back([fd] { Serve(fd); });
    }
  }
  // Answers each request once its head and Content-Length body have arrived.
  static void Serve(int fd) {
    static constexpr std::string_view kAnswer = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    std::string data;
    char buffer[8192];
    for (;;) {
      const std::size_t head_end = data.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        const std::size_t at = data.find("Content-Length: ");
        const std::size_t length = at < head_end ? std::stoul(data.substr(at + 16)) : 0;
        if (data.size() >= head_end + 4 + length) {
          data.erase(0, head_end + 4 + length);
          if (send(fd, kAnswer.data(), kAnswer.size(), MSG_NOSIGNAL) < 0) return;
          continue;
        }
      }
      const ssize_t n = read(fd, buffer, sizeof buffer);
      if (n <= 0) return;
      data.append(buffer, static_cast<std::size_t>(n));
    }
  }

  int listen_fd_ = -1;
  int port_ = 0;
  std::thread acceptor_;
  std::vector<int> connections_;  // acceptor thread, then the destructor
  std::vector<std::thread> threads_;
};

template <class Client, class Options>
void ClientExchange(benchmark::State& state) {
  LoopbackReceiver receiver;
  Options options;
  options.ssrf_guard = *delivery::SsrfGuard::WithAllowList({"127.0.0.0/8"});
  auto client = Client::Create(std::move(options)).value();
  const std::string payload = BookAppointment().sample_json;
  delivery::HttpRequest request;
  request.url = receiver.Url();
  request.headers = {{"content-type", "application/json"}, {"webhook-id", "evt_1"}};
  request.body = payload;
  for (auto _ : state) {
    std::promise<int> answered;
    client->Send(request, [&](delivery::HttpResponse r) { answered.set_value(r.status_code); });
    if (answered.get_future().get() != 200) state.SkipWithError("no 200");
  }
  client->Stop();
}

// One POST and its 200 over a kept-alive loopback connection, one at a time: real time per
// exchange, and the whole process's CPU (client, its thread, and the receiver's).
void BM_ClientExchangeCurl(benchmark::State& state) {
  ClientExchange<delivery::CurlHttpClient, delivery::CurlHttpClientOptions>(state);
}
BENCHMARK(BM_ClientExchangeCurl)->MeasureProcessCPUTime()->UseRealTime();

void BM_ClientExchangeBeast(benchmark::State& state) {
  ClientExchange<delivery::BeastHttpClient, delivery::BeastHttpClientOptions>(state);
}
BENCHMARK(BM_ClientExchangeBeast)->MeasureProcessCPUTime()->UseRealTime();

// Runs `body(store, config, clock)` on a new SQLite store in a temporary directory, with one
// realistic configuration of organization 1; removes the directory afterwards.
template <class Body>
void WithBenchStore(benchmark::State& state, sqlite::Connection::WalWrites wal_writes, Body body) {
  std::string dir = (std::filesystem::temp_directory_path() / "bench-commit-XXXXXX").string();
  if (mkdtemp(dir.data()) == nullptr) return state.SkipWithError("mkdtemp failed");
  SystemClock clock;
  {
    auto store = sqlite::SqliteStore::Open(dir + "/bench.db", clock, wal_writes);
    if (!store.ok()) return state.SkipWithError(store.error().message.c_str());
    WebhookConfig config = RealisticConfig();
    config.organization_id = 1;
    config.name = "bench";
    Result<WebhookConfig> created =
        (*store)->CreateConfig(config, std::numeric_limits<std::int64_t>::max());
    if (!created.ok()) return state.SkipWithError("cannot create the configuration");
    body(**store, *created, clock);
  }
  std::filesystem::remove_all(dir);
}

// `count` ~1 KB events (BookAppointment's sample) for `config`.
std::vector<NewEvent> BenchEvents(std::int64_t count, const WebhookConfig& config,
                                  const Clock& clock) {
  static const std::string payload = BookAppointment().sample_json;
  std::vector<NewEvent> events(static_cast<std::size_t>(count));
  for (NewEvent& event : events) {
    event.id = NewSortableId("evt", clock.Now());
    event.organization_id = config.organization_id;
    event.event_type_id = config.event_type_id;
    event.payload_json = payload;
  }
  return events;
}

// One IngestEvents call of `state.range(0)` ~1 KB events (BookAppointment's sample), each with
// one delivery, committed by the SQLite store's writer with synchronous=FULL: one transaction
// and one fsync per iteration. The whole process's CPU (the writer and completer threads) per
// iteration; items are events. `kWalWrites`: the writer's WAL writes buffered (what webhookd
// does) or direct, side by side.
template <sqlite::Connection::WalWrites kWalWrites>
void BM_CommitEvents(benchmark::State& state) {
  WithBenchStore(state, kWalWrites, [&](Store& store, const WebhookConfig& config, Clock& clock) {
    for (auto _ : state) {
      for (const auto& result : store.IngestEvents(BenchEvents(state.range(0), config, clock))) {
        if (!result.ok()) return state.SkipWithError(result.error().message.c_str());
      }
    }
    state.SetItemsProcessed(state.iterations() * state.range(0));
  });
}
BENCHMARK(BM_CommitEvents<sqlite::Connection::WalWrites::kDirect>)
    ->Arg(16)
    ->MeasureProcessCPUTime()
    ->UseRealTime();
BENCHMARK(BM_CommitEvents<sqlite::Connection::WalWrites::kBuffered>)
    ->Arg(16)
    ->MeasureProcessCPUTime()
    ->UseRealTime();

// A delivered event's two commits as the SQLite writer makes them: `state.range(0)` events
// ingested in one IngestEvents call, then their successful attempts recorded in one
// RecordAttempts call (what the dispatcher's recorder sends). The whole process's CPU per
// iteration; items are delivered events.
void BM_CommitDeliveredEvents(benchmark::State& state) {
  WithBenchStore(state, sqlite::Connection::WalWrites::kBuffered,
                 [&](Store& store, const WebhookConfig& config, Clock& clock) {
                   for (auto _ : state) {
                     std::vector<AttemptOutcome> outcomes;
                     for (const auto& result :
                          store.IngestEvents(BenchEvents(state.range(0), config, clock))) {
                       if (!result.ok()) return state.SkipWithError(result.error().message.c_str());
                       for (const Delivery& delivery : result->deliveries) {
                         AttemptOutcome& outcome = outcomes.emplace_back();
                         outcome.attempt.delivery_id = delivery.id;
                         outcome.attempt.attempted_at = clock.Now();
                         outcome.attempt.duration_ms = 1;
                         outcome.attempt.status_code = 200;
                         outcome.attempt.request_headers_json =
                             R"({"content-type":"application/json","webhook-id":"evt_1"})";
                         outcome.new_status = DeliveryStatus::kSucceeded;
                         outcome.config_id = config.id;
                         outcome.config_effect = ConfigEffect::kHealthy;
                       }
                     }
                     if (!store.RecordAttempts(outcomes).ok())
                       return state.SkipWithError("not recorded");
                   }
                   state.SetItemsProcessed(state.iterations() * state.range(0));
                 });
}
BENCHMARK(BM_CommitDeliveredEvents)->Arg(16)->MeasureProcessCPUTime()->UseRealTime();

}  // namespace
}  // namespace webhookd

BENCHMARK_MAIN();
