// The HTTP API: what it needs from the rest of the process, and the routes it registers.
#pragma once

#include <array>
#include <atomic>
#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string_view>

#include "api/rate_limiter.hpp"
#include "api/router.hpp"
#include "catalog/catalog.hpp"
#include "core/clock.hpp"
#include "delivery/ssrf_guard.hpp"
#include "store/store.hpp"

namespace webhookd::delivery {
class Dispatcher;
}

namespace webhookd::api {

// Counters the API keeps for /metrics (relaxed atomics).
struct ApiMetrics {
  // By event type id (1..kMaxEventTypeId).
  std::array<std::atomic<std::int64_t>, kMaxEventTypeId + 1> events_ingested{};
  std::atomic<std::int64_t> ingest_commits{0};        // IngestEvents calls
  std::atomic<std::int64_t> ingest_commit_micros{0};  // their total latency
};

struct ApiOptions {
  // Accept http:// configuration URLs (development only).
  bool allow_insecure_urls = false;
  // The dispatcher's SSRF guard: configuration URLs it would refuse at every delivery (an
  // address literal or localhost) are refused when they are set.
  delivery::SsrfGuard ssrf_guard;
  // How long a rotated-out secret keeps signing deliveries, unless the request says otherwise.
  std::int64_t secret_grace_ms = 24LL * 3600 * 1000;
  // Tenant limits (docs/operations.md, "Tenant limits"); the defaults are the serve flags'.
  // Configurations an organization may have, deleted ones not counted (--max-configs-per-org).
  std::int64_t max_configs_per_org = 1000;
  // Deliveries one POST /events or /events/batch may create (--max-deliveries-per-request).
  std::int64_t max_deliveries_per_request = 5000;
  // Events per second each API key may ingest, per node (--ingest-rate-limit, --ingest-burst).
  RateLimit ingest_rate_limit{1000, 2000};
  // The server's retention periods (--retention, --payload-retention), which organizations
  // without their own use; 0: kept.
  std::chrono::milliseconds retention{0};
  std::chrono::milliseconds payload_retention{0};
};

// Everything a handler may use. Owned by the application; outlives the router.
struct ApiContext {
  Store& store;
  // The built-in types and the stored ones (kept current by api/catalog_sync.hpp).
  Catalog& catalog;
  const Clock& clock;
  ApiOptions options;
  // Sends test deliveries and reports delivery metrics; null when the server runs without one.
  delivery::Dispatcher* dispatcher = nullptr;
  ApiMetrics metrics;
};

// Resolves "Authorization: Bearer <key>" against the store's key hashes.
Authenticator MakeAuthenticator(Store& store);

void AddHealthRoutes(Router& router, ApiContext& context);
void AddEventTypeRoutes(Router& router, ApiContext& context);
void AddConfigRoutes(Router& router, ApiContext& context);
void AddApiKeyRoutes(Router& router, ApiContext& context);
void AddEventRoutes(Router& router, ApiContext& context);
void AddDeliveryRoutes(Router& router, ApiContext& context);
void AddMetricsRoutes(Router& router, ApiContext& context);
// GET /stats: the console's overview (deliveries per bucket, open counts, latency, failures).
void AddStatsRoutes(Router& router, ApiContext& context);
// GET /audit-log.
void AddAuditRoutes(Router& router, ApiContext& context);
// GET and PUT /organizations/{id}/settings.
void AddOrganizationRoutes(Router& router, ApiContext& context);
// GET /openapi.json, public: OpenApiDocument(catalog).
void AddOpenApiRoutes(Router& router, const Catalog& catalog);
// GET /console/ and its files (public), and / redirecting there.
void AddConsoleRoutes(Router& router);

// docs/openapi.yaml as JSON text, converted at build time (src/api/openapi/openapi_embed.cpp).
std::string_view OpenApiJson();
// OpenApiJson() with the catalog as it is now: each event type's payload schema as
// components/schemas/<Name>Payload, chosen by eventName in EventCreate, and every name in
// EventName.
boost::json::object OpenApiDocument(const Catalog& catalog);

// A router with every route above.
std::unique_ptr<Router> BuildRouter(ApiContext& context);

}  // namespace webhookd::api

namespace webhookd::api {

// A freshly made API key: the stored record, and the key text, which exists only here.
struct IssuedKey {
  ApiKey record;
  std::string key;
};
// Makes and stores a key for one organization, or an admin key when `organization` is empty;
// `audit` as Store::CreateApiKey takes it.
Result<IssuedKey> IssueApiKey(Store& store, std::optional<std::int64_t> organization,
                              std::string name, const AuditEntry* audit = nullptr);

}  // namespace webhookd::api
