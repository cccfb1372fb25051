#include <fmt/ranges.h>
#include <malloc.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <thread>

#include "api/api.hpp"
#include "api/catalog_sync.hpp"
#include "api/server.hpp"
#include "app/commands.hpp"
#include "app/duration.hpp"
#include "app/encryption.hpp"
#include "core/clock.hpp"
#include "delivery/beast_http_client.hpp"
#include "delivery/curl_http_client.hpp"
#include "delivery/dispatcher.hpp"
#include "store/encrypting_store.hpp"
#include "store/open_store.hpp"
#include "store/retention_janitor.hpp"

namespace webhookd::app {
namespace {

struct HostPort {
  std::string host;
  std::uint16_t port = 0;
};

// "HOST:PORT" or "[IPV6]:PORT".
std::optional<HostPort> ParseListen(const std::string& text) {
  const std::size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) return std::nullopt;
  HostPort out;
  out.host = text.substr(0, colon);
  if (out.host.front() == '[' && out.host.back() == ']') {
    out.host = out.host.substr(1, out.host.size() - 2);
  }
  if (out.host == "localhost") out.host = "127.0.0.1";
  const char* begin = text.data() + colon + 1;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(begin, end, out.port);
  if (ec != std::errc() || ptr != end || begin == end) return std::nullopt;
  return out;
}

// A brand-new database gets one admin key, shown once, so that the API can be used at all.
bool PrintFirstAdminKey(Store& store, const std::string& base_url) {
  Result<std::int64_t> count = store.CountApiKeys();
  if (!count.ok()) {
    spdlog::error("cannot read API keys: {}", count.error().message);
    return false;
  }
  if (*count > 0) return true;
  Result<api::IssuedKey> issued = api::IssueApiKey(store, std::nullopt, "first admin key");
  if (!issued.ok()) {
    spdlog::error("cannot create the first admin key: {}", issued.error().message);
    return false;
  }
  std::printf(
      "\nThis is a new database. Admin API key (shown once): %s\n"
      "Keep it safe; create more with POST /api-keys or `webhookd keys create`.\n"
      "Sign in with it at %s/console/ or try:\n"
      "  curl -H 'Authorization: Bearer %s' %s/event-types\n\n",
      issued->key.c_str(), base_url.c_str(), issued->key.c_str(), base_url.c_str());
  return true;
}

Result<delivery::DispatcherOptions> DispatcherOptionsFrom(const ServeOptions& options) {
  Result<std::vector<std::int64_t>> schedule = RetryPolicy::ParseSchedule(options.retry_schedule);
  if (!schedule.ok()) return Error::Invalid("--retry-schedule: " + schedule.error().message);
  delivery::DispatcherOptions out;
  out.global_in_flight_cap = options.max_in_flight;
  out.per_config_cap = options.per_config_in_flight;
  out.per_origin_cap = options.per_origin_in_flight;
  out.connect_timeout_ms = options.connect_timeout_ms;
  out.request_timeout_ms = options.request_timeout_ms;
  out.outcome.retry_schedule_seconds = std::move(*schedule);
  out.outcome.auto_disable_after_ms = std::llround(options.auto_disable_after_hours * 3600 * 1000);
  out.lease_margin_ms = options.lease_margin_ms;
  out.max_request_timeout_ms = options.max_request_timeout_ms;
  return out;
}

Result<delivery::SsrfGuard> SsrfGuardFrom(const ServeOptions& options) {
  Result<delivery::SsrfGuard> guard = delivery::SsrfGuard::WithAllowList(options.allow_targets);
  if (!guard.ok()) {
    return Error::Invalid("--allow-target (WEBHOOKD_ALLOW_TARGETS): " + guard.error().message);
  }
  return guard;
}

// The HTTP client deliveries go out through, and how to stop it.
struct OutboundHttp {
  std::unique_ptr<delivery::HttpClient> client;
  std::function<void()> stop;
};

template <class Client, class Options>
Result<OutboundHttp> MakeClient(const ServeOptions& options, delivery::SsrfGuard guard) {
  Options client_options;
  client_options.ssrf_guard = std::move(guard);
  client_options.max_host_connections = options.per_origin_in_flight;
  client_options.max_total_connections = options.max_in_flight;
  client_options.ca_file = options.ca_file;
  Result<std::unique_ptr<Client>> client = Client::Create(std::move(client_options));
  if (!client.ok()) return client.error();
  Client* raw = client->get();
  return OutboundHttp{std::move(*client), [raw] { raw->Stop(); }};
}

Result<OutboundHttp> MakeHttpClient(const ServeOptions& options, delivery::SsrfGuard guard) {
  if (!options.ca_file.empty() && !std::filesystem::is_regular_file(options.ca_file)) {
    return Error::Invalid("--ca-file (WEBHOOKD_CA_FILE): no such file: " + options.ca_file);
  }
  Result<OutboundHttp> made =
      options.http_client == "curl"
          ? MakeClient<delivery::CurlHttpClient, delivery::CurlHttpClientOptions>(options, guard)
          : MakeClient<delivery::BeastHttpClient, delivery::BeastHttpClientOptions>(options, guard);
  if (!made.ok())
    return Error::Invalid("--http-client " + options.http_client + ": " + made.error().message);
  return made;
}

// The period of a retention flag; `fallback` when it is not set.
Result<std::chrono::milliseconds> PeriodFlag(const std::string& text, std::string_view flag,
                                             std::chrono::milliseconds fallback) {
  if (text.empty()) return fallback;
  Result<std::chrono::milliseconds> period = ParseRetention(text);
  if (!period.ok()) return Error::Invalid(std::string(flag) + ": " + period.error().message);
  return period;
}

// --retention, --payload-retention (unset: keep) and --audit-retention.
Result<RetentionOptions> RetentionFrom(const ServeOptions& options) {
  RetentionOptions out;
  Result<std::chrono::milliseconds> retention =
      PeriodFlag(options.retention, "--retention", std::chrono::milliseconds(0));
  if (!retention.ok()) return retention.error();
  out.retention = *retention;
  Result<std::chrono::milliseconds> payload =
      PeriodFlag(options.payload_retention, "--payload-retention", std::chrono::milliseconds(0));
  if (!payload.ok()) return payload.error();
  out.payload_retention = *payload;
  Result<std::chrono::milliseconds> audit =
      PeriodFlag(options.audit_retention, "--audit-retention", kDefaultAuditRetention);
  if (!audit.ok()) return audit.error();
  out.audit_retention = *audit;
  return out;
}

// glibc gives freed memory back to the kernel as soon as an arena's top reaches 128 KiB, and
// maps each allocation above 128 KiB afresh: under load the writer and dispatcher threads then
// spend most of their time in madvise/munmap and the page faults after them, each a TLB
// shoot-down across every core. Keeping a few MiB per arena costs little memory.
void KeepFreedMemory() {
  constexpr int kTrimThreshold = 32 * 1024 * 1024;
  constexpr int kMmapThreshold = 4 * 1024 * 1024;
  mallopt(M_TRIM_THRESHOLD, kTrimThreshold);
  mallopt(M_MMAP_THRESHOLD, kMmapThreshold);
}

// Every API connection, delivery, database handle and file needs a descriptor, and the soft
// limit is often 1024 under a far higher hard one: raises the soft limit to the hard one and
// returns it.
rlim_t RaiseOpenFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 1024;
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  return limit.rlim_cur;
}

// --max-connections, or by default half the open-file limit: the other half is left to
// deliveries (--max-in-flight), the database and files.
std::size_t MaxConnections(const ServeOptions& options, rlim_t open_files) {
  constexpr rlim_t kMostByDefault = 10'000;
  if (options.max_connections == 0) {
    return static_cast<std::size_t>(std::max<rlim_t>(1, std::min(open_files / 2, kMostByDefault)));
  }
  const auto max_connections = static_cast<std::size_t>(options.max_connections);
  if (max_connections >= open_files) {
    spdlog::warn(
        "--max-connections {} is not below the open-file limit ({}): when descriptors run out, "
        "accepting pauses and idle connections are closed",
        max_connections, open_files);
  }
  return max_connections;
}

Result<api::ServerOptions> ServerOptionsFrom(const ServeOptions& options, const HostPort& listen) {
  Result<std::chrono::milliseconds> header_timeout = ParseDuration(options.header_timeout);
  if (!header_timeout.ok() || header_timeout->count() == 0) {
    return Error::Invalid(
        "--header-timeout must be a positive duration such as 10s or 500ms (got '" +
        options.header_timeout + "')");
  }
  api::ServerOptions out;
  out.host = listen.host;
  out.port = listen.port;
  out.io_threads = options.io_threads > 0
                       ? options.io_threads
                       : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  out.threads = options.threads;
  out.max_body_bytes = options.max_body_bytes;
  out.max_connections = MaxConnections(options, RaiseOpenFileLimit());
  out.header_timeout = *header_timeout;
  return out;
}

}  // namespace

int RunServe(const ServeOptions& options) {
  KeepFreedMemory();
  if (!ConfigureLogging(options.log_level)) return 2;
  const std::optional<HostPort> listen = ParseListen(options.listen);
  if (!listen) {
    std::fprintf(stderr, "webhookd: --listen must be HOST:PORT, e.g. 127.0.0.1:8080 (got '%s')\n",
                 options.listen.c_str());
    return 2;
  }
  Result<delivery::DispatcherOptions> dispatcher_options = DispatcherOptionsFrom(options);
  if (!dispatcher_options.ok()) {
    std::fprintf(stderr, "webhookd: %s\n", dispatcher_options.error().message.c_str());
    return 2;
  }
  const Result<delivery::SsrfGuard> ssrf_guard = SsrfGuardFrom(options);
  if (!ssrf_guard.ok()) {
    std::fprintf(stderr, "webhookd: %s\n", ssrf_guard.error().message.c_str());
    return 2;
  }
  Result<OutboundHttp> http_client = MakeHttpClient(options, *ssrf_guard);
  if (!http_client.ok()) {
    std::fprintf(stderr, "webhookd: %s\n", http_client.error().message.c_str());
    return 2;
  }
  const Result<RetentionOptions> retention = RetentionFrom(options);
  if (!retention.ok()) {
    std::fprintf(stderr, "webhookd: %s\n", retention.error().message.c_str());
    return 2;
  }
  const Result<api::ServerOptions> server_options = ServerOptionsFrom(options, *listen);
  if (!server_options.ok()) {
    std::fprintf(stderr, "webhookd: %s\n", server_options.error().message.c_str());
    return 2;
  }
  SystemClock clock;
  Result<std::unique_ptr<Store>> store = OpenStore(options.db, clock, {options.node_id});
  if (!store.ok()) {
    std::fprintf(stderr, "webhookd: cannot open the database %s: %s\n",
                 RedactedStoreUrl(options.db).c_str(), store.error().message.c_str());
    return 1;
  }
  Result<Encryption> encryption = SetUpEncryption(options.db, options.encryption_key_file, clock);
  if (!encryption.ok()) {
    std::fprintf(stderr, "webhookd: encryption at rest: %s\n", encryption.error().message.c_str());
    return 1;
  }
  EncryptingStore encrypting_store(**store, encryption->cipher, clock, encryption->store_options);
  Store& sealed_store = encrypting_store;
  Catalog catalog;
  if (Status s = api::SyncCatalog(**store, catalog); !s.ok()) {
    std::fprintf(stderr, "webhookd: cannot read the event-type catalog: %s\n",
                 s.error().message.c_str());
    return 1;
  }
  delivery::Dispatcher dispatcher(sealed_store, *http_client->client, clock, catalog,
                                  std::move(*dispatcher_options));
  sealed_store.SetWorkListener([&dispatcher] { dispatcher.Wake(); });
  sealed_store.SetDeliveryHandoff(dispatcher.handoff());

  api::ApiContext context{sealed_store, catalog, clock, {}, &dispatcher, {}};
  context.options.allow_insecure_urls = options.allow_insecure_urls;
  context.options.max_configs_per_org = options.max_configs_per_org;
  context.options.max_deliveries_per_request = options.max_deliveries_per_request;
  context.options.ingest_rate_limit = {options.ingest_rate_limit, options.ingest_burst};
  context.options.ssrf_guard = *ssrf_guard;
  context.options.retention = retention->retention;
  context.options.payload_retention = retention->payload_retention;
  const std::unique_ptr<api::Router> router = api::BuildRouter(context);

  api::HttpServer server(*server_options, *router);
  Result<std::uint16_t> port = server.Listen();
  if (!port.ok()) {
    std::fprintf(stderr, "webhookd: %s\n", port.error().message.c_str());
    return 1;
  }
  const bool v6 = listen->host.find(':') != std::string::npos;
  const std::string base_url = "http://" + std::string(v6 ? "[" : "") + listen->host +
                               (v6 ? "]" : "") + ":" + std::to_string(*port);
  if (!PrintFirstAdminKey(sealed_store, base_url)) return 1;
  spdlog::info(
      "serving db={} io_threads={} threads={} max_connections={} insecure_urls={} "
      "allow_targets={} http_client={}",
      options.db.substr(0, options.db.find(':')), server_options->io_threads, options.threads,
      server_options->max_connections, options.allow_insecure_urls,
      fmt::join(options.allow_targets, ","), options.http_client);
  // Whoever waits for the listening line finds the start-up's log lines already written.
  spdlog::default_logger()->flush();
  std::printf("webhookd listening on %s\nwebhookd console: %s/console/\n", base_url.c_str(),
              base_url.c_str());
  std::fflush(stdout);
  dispatcher.Start();
  // Other nodes change the shared catalog too; one second keeps them well within the 5 s that
  // docs/event-types.md promises. A single SQLite node changes it only through its own API.
  std::unique_ptr<api::CatalogRefresher> refresher;
  if (IsSharedStoreUrl(options.db)) {
    refresher = std::make_unique<api::CatalogRefresher>(**store, catalog, std::chrono::seconds(1));
    refresher->Start();
  }
  // Always: the audit log has a retention period, and organizations may set their own.
  RetentionJanitor janitor(sealed_store, clock, *retention);
  janitor.Start();
  server.Run();
  janitor.Stop();
  if (refresher) refresher->Stop();
  dispatcher.Stop();
  http_client->stop();
  sealed_store.SetWorkListener({});
  sealed_store.SetDeliveryHandoff(nullptr);
  spdlog::info("stopped");
  return 0;
}

}  // namespace webhookd::app
