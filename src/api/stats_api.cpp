// GET /stats: the console's overview of deliveries over a recent window, in the caller's scope.
#include "api/api.hpp"
#include "api/json_io.hpp"
#include "api/problem.hpp"
#include "core/time_format.hpp"

namespace webhookd::api {
namespace {

constexpr UnixMillis kHourMs = 3600'000;
constexpr UnixMillis kMaxWindowMs = 7 * 24 * kHourMs;
constexpr IntegerRange kBucketSeconds{60, 86'400};
constexpr std::int64_t kMaxBuckets = 1440;  // a day of minutes
constexpr int kTopFailing = 5;

Result<UnixMillis> SinceFromQuery(const Request& request, UnixMillis now) {
  const auto it = request.query.find("since");
  if (it == request.query.end() || it->second.empty()) return now - kHourMs;
  const std::optional<UnixMillis> since = ParseRfc3339(it->second);
  if (!since) {
    return Error::Invalid("since must be an RFC 3339 time, e.g. 2026-11-27T00:00:00Z", "since");
  }
  if (*since > now || *since < now - kMaxWindowMs) {
    return Error::Invalid("since must be within the last 7 days", "since");
  }
  return *since;
}

Result<StatsQuery> QueryFromRequest(const Request& request, UnixMillis now) {
  StatsQuery query;
  query.top_failing = kTopFailing;
  Result<UnixMillis> since = SinceFromQuery(request, now);
  if (!since.ok()) return since.error();
  query.since = *since;
  Result<std::optional<std::int64_t>> bucket = QueryInteger(request, "bucket", kBucketSeconds);
  if (!bucket.ok()) return bucket.error();
  query.bucket_ms = bucket->value_or(60) * 1000;
  const std::int64_t buckets = (now - query.since) / query.bucket_ms + 1;
  if (buckets > kMaxBuckets) {
    return Error::Invalid("since to now spans " + std::to_string(buckets) + " buckets of " +
                              std::to_string(query.bucket_ms / 1000) + " s; at most " +
                              std::to_string(kMaxBuckets) + ": choose a longer bucket",
                          "bucket");
  }
  return query;
}

// An admin key may narrow the overview to one organization; an organization key sees its own.
Result<OrgScope> ScopeFromRequest(const Request& request, const Principal& principal) {
  Result<std::optional<std::int64_t>> org =
      QueryInteger(request, "organizationId", kPositiveIntegers);
  if (!org.ok()) return org.error();
  if (principal.is_admin()) return OrgScope(*org);
  if (*org && **org != *principal.scope) {
    return Error::Forbidden("organizationId " + std::to_string(**org) +
                            " is not the organization of this API key");
  }
  return principal.scope;
}

boost::json::object CountsJson(const DeliveryCounts& counts) {
  return {{"pending", counts.pending},
          {"delivering", counts.delivering},
          {"succeeded", counts.succeeded},
          {"failed", counts.failed}};
}

// Every bucket from `since` to `now`, empty ones included, so that a chart needs no gaps logic.
boost::json::array BucketsJson(const DeliveryStats& stats, const StatsQuery& query,
                               UnixMillis now) {
  boost::json::array out;
  auto stored = stats.buckets.begin();
  for (UnixMillis start = query.since; start <= now; start += query.bucket_ms) {
    DeliveryCounts counts;
    if (stored != stats.buckets.end() && stored->start == start) counts = (stored++)->counts;
    boost::json::object bucket = CountsJson(counts);
    bucket["start"] = FormatRfc3339(start);
    out.push_back(std::move(bucket));
  }
  return out;
}

boost::json::value OptionalMillis(const std::optional<std::int64_t>& value) {
  return value ? boost::json::value(*value) : boost::json::value(nullptr);
}

boost::json::object StatsJson(const DeliveryStats& stats, const StatsQuery& query, UnixMillis now) {
  boost::json::array top;
  for (const ConfigFailures& c : stats.top_failing) {
    top.push_back({{"externalEventId", c.config_id},
                   {"name", c.name},
                   {"failed", c.failed},
                   {"retrying", c.retrying}});
  }
  boost::json::array disabled;
  for (const DisabledConfig& c : stats.disabled) {
    disabled.push_back({{"externalEventId", c.config_id},
                        {"name", c.name},
                        {"disabledReason", c.reason},
                        {"disabledAt", FormatRfc3339(c.disabled_at)}});
  }
  return {{"since", FormatRfc3339(query.since)},
          {"until", FormatRfc3339(now)},
          {"bucketSeconds", query.bucket_ms / 1000},
          {"buckets", BucketsJson(stats, query, now)},
          {"open", {{"pending", stats.open.pending}, {"delivering", stats.open.delivering}}},
          {"latencyMs",
           {{"samples", stats.latency_samples},
            {"p50", OptionalMillis(stats.latency_p50_ms)},
            {"p99", OptionalMillis(stats.latency_p99_ms)}}},
          {"topFailing", std::move(top)},
          {"disabled", std::move(disabled)}};
}

}  // namespace

void AddStatsRoutes(Router& router, ApiContext& context) {
  router.Add("GET", "/stats", Access::kAnyKey, [&context](Call& call) {
    const UnixMillis now = context.clock.Now();
    Result<StatsQuery> query = QueryFromRequest(call.request, now);
    if (!query.ok()) return ProblemResponse(query.error());
    Result<OrgScope> scope = ScopeFromRequest(call.request, call.principal);
    if (!scope.ok()) return ProblemResponse(scope.error());
    Result<DeliveryStats> stats = context.store.Stats(*query, *scope);
    if (!stats.ok()) return ProblemResponse(stats.error());
    return JsonResponse(200, StatsJson(*stats, *query, now));
  });
}

}  // namespace webhookd::api
