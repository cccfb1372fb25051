#include "store/common/store_rules.hpp"

#include <algorithm>
#include <map>

#include "core/ids.hpp"

namespace webhookd::store_common {

Error ConfigNotFound(std::int64_t id) {
  return Error::NotFound("webhook configuration " + std::to_string(id) + " not found");
}

Error DeliveryNotFound(const std::string& id) {
  return Error::NotFound("delivery " + id + " not found");
}

std::optional<OrgScope> ListedOrganization(const ConfigFilter& filter, OrgScope scope) {
  if (scope && filter.organization_id && *scope != *filter.organization_id) return std::nullopt;
  return scope ? scope : filter.organization_id;
}

DeliveryIdRange IdRangeOf(const DeliveryFilter& filter) {
  // "dlv_8" sorts above every delivery id: their first digit is 0 to 7.
  DeliveryIdRange range{filter.after_id, "dlv_8"};
  if (filter.since) {
    // The bound ends in '0', the smallest digit: the ids at or above it are exactly those above
    // it without that digit.
    std::string bound = SortableIdLowerBound("dlv", *filter.since);
    bound.pop_back();
    range.after = std::max(range.after, bound);
  }
  if (filter.until) range.before = SortableIdLowerBound("dlv", *filter.until);
  return range;
}

DeliveryListing ListingFor(const DeliveryFilter& filter) {
  if (filter.event_id) return DeliveryListing::kOfEvent;
  const bool of_config = filter.config_id.has_value();
  if (filter.status == DeliveryStatus::kPending || filter.status == DeliveryStatus::kDelivering) {
    return of_config ? DeliveryListing::kOpenOfConfig : DeliveryListing::kOpen;
  }
  if (filter.status == DeliveryStatus::kFailed) {
    return of_config ? DeliveryListing::kFailedOfConfig : DeliveryListing::kFailed;
  }
  return of_config ? DeliveryListing::kOfConfig : DeliveryListing::kAll;
}

namespace {

void FillAuditEntry(AuditEntry& entry, const std::string& object_id,
                    std::optional<std::int64_t> organization_id) {
  if (entry.object_id.empty()) entry.object_id = object_id;
  if (!entry.organization_id) entry.organization_id = organization_id;
}

}  // namespace

void CompleteAuditEntry(AuditEntry& entry, const Result<WebhookConfig>& changed) {
  FillAuditEntry(entry, std::to_string(changed->id), changed->organization_id);
}

void CompleteAuditEntry(AuditEntry& entry, const Result<ApiKey>& created) {
  FillAuditEntry(entry, std::to_string(created->id), created->organization_id);
}

void CompleteAuditEntry(AuditEntry& entry, const Result<Delivery>& retried) {
  FillAuditEntry(entry, retried->id, retried->organization_id);
}

std::string UndeliverableReason(const WebhookConfig& config) {
  if (config.is_deleted) return "configuration deleted";
  if (!config.active) return "configuration inactive";
  return {};
}

void AddDeliveryCount(DeliveryCounts& counts, std::string_view status_name, std::int64_t count) {
  if (status_name == "pending") counts.pending += count;
  if (status_name == "delivering") counts.delivering += count;
  if (status_name == "succeeded") counts.succeeded += count;
  if (status_name == "failed") counts.failed += count;
}

DeliveryBacklog BacklogOf(const DeliveryCounts& counts) {
  return DeliveryBacklog{
      .pending = counts.pending, .delivering = counts.delivering, .failed = counts.failed};
}

void ClaimRateBudget::KeepWhatTheRateCanSend(std::vector<DeliveryJob>& due) {
  std::erase_if(due, [this](const DeliveryJob& job) {
    if (job.config.rate_limit <= 0) return false;
    const std::int64_t allowed = job.config.rate_limit * kRateLimitedClaimSeconds;
    std::int64_t& taken = taken_[job.config.id];
    if (taken >= allowed) return true;
    ++taken;
    return false;
  });
}

void AddStatsRow(std::vector<StatsBucket>& buckets, const StatsQuery& query,
                 std::int64_t bucket_index, std::string_view status_name, std::int64_t count) {
  const UnixMillis start = query.since + bucket_index * query.bucket_ms;
  if (buckets.empty() || buckets.back().start != start) buckets.push_back({start, {}});
  AddDeliveryCount(buckets.back().counts, status_name, count);
}

std::int64_t PercentileRank(std::int64_t samples, int percent) {
  const std::int64_t rank = (samples * percent + 99) / 100;  // ceil(samples * percent / 100)
  return std::max<std::int64_t>(rank, 1) - 1;
}

void SetLatencies(const LatencyHistogram& histogram, DeliveryStats& out) {
  std::int64_t samples = 0;
  for (const auto& [latency, count] : histogram) samples += count;
  out.latency_samples = samples;
  if (samples == 0) return;
  auto latency_at = [&histogram](std::int64_t rank) -> std::optional<std::int64_t> {
    std::int64_t below = 0;
    for (const auto& [latency, count] : histogram) {
      below += count;
      if (rank < below) return latency;
    }
    return std::nullopt;
  };
  out.latency_p50_ms = latency_at(PercentileRank(samples, 50));
  out.latency_p99_ms = latency_at(PercentileRank(samples, 99));
}

}  // namespace webhookd::store_common
