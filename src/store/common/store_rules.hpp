// Rules of the Store contract (store.hpp) that both backends apply the same way, in one place.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/model.hpp"
#include "core/result.hpp"
#include "store/store.hpp"

namespace webhookd::store_common {

// An idempotency key replays an event of its organization created this recently.
inline constexpr UnixMillis kIdempotencyWindowMs = 24LL * 60 * 60 * 1000;

Error ConfigNotFound(std::int64_t id);
Error DeliveryNotFound(const std::string& id);

// The organization a configuration listing is limited to (nullopt inside: every one), or
// nothing at all when the filter names another organization than the caller's scope.
std::optional<OrgScope> ListedOrganization(const ConfigFilter& filter, OrgScope scope);

// The part of the deliveries' primary key a listing walks: ids above `after` and below
// `before`. Delivery ids sort by creation time (core/ids.hpp), so `since` and `until` bound the
// walk itself, not only the rows it keeps; the statements still test created_at, so a row is
// never shown outside them. An id made while the clock stood behind an earlier id's time
// carries that later time (core/ids.hpp), so `until` leaves it out if that time is not before.
struct DeliveryIdRange {
  std::string after;
  std::string before;
};
DeliveryIdRange IdRangeOf(const DeliveryFilter& filter);

// The index a delivery listing walks; each backend has a statement for each, in this order. An
// event's deliveries are few; with a status filter of pending, delivering or failed, the walk is
// a range of the partial index holding that status, so that a busy configuration's few failed
// deliveries are found without reading its delivered ones.
enum class DeliveryListing : std::uint8_t {
  kOfEvent,
  kOfConfig,
  kAll,
  kOpenOfConfig,
  kOpen,
  kFailedOfConfig,
  kFailed,
};
inline constexpr std::size_t kDeliveryListings =
    static_cast<std::size_t>(DeliveryListing::kFailed) + 1;
DeliveryListing ListingFor(const DeliveryFilter& filter);

// What only the change knows of its audit entry (store.hpp, `audit`): an empty object id
// becomes the id of the row made, an unset organization the organization of the row changed.
void CompleteAuditEntry(AuditEntry& entry, const Result<WebhookConfig>& changed);
void CompleteAuditEntry(AuditEntry& entry, const Result<ApiKey>& created);
void CompleteAuditEntry(AuditEntry& entry, const Result<Delivery>& retried);
// Any other change adds nothing to its entry.
template <class R>
void CompleteAuditEntry(AuditEntry&, const R&) {}

// Why a due delivery cannot be sent, or "" if it can.
std::string UndeliverableReason(const WebhookConfig& config);

// A claim takes at most this many seconds of a rate-limited configuration's rate: the rest
// would wait in memory for tokens while its lease runs out.
inline constexpr std::int64_t kRateLimitedClaimSeconds = 2;

// What one claim takes of each rate-limited configuration, over all its selections (a claim
// selects again after failing a deleted or inactive configuration's line).
class ClaimRateBudget {
 public:
  // Drops from `due` (in claim order) the deliveries of each rate-limited configuration past
  // kRateLimitedClaimSeconds x its rate, counting what earlier selections kept; the caller
  // leaves them pending, unchanged.
  void KeepWhatTheRateCanSend(std::vector<DeliveryJob>& due);

 private:
  std::map<std::int64_t, std::int64_t> taken_;  // by rate-limited configuration
};

// Adds `count` deliveries in status `status_name` (a schema status name) to `counts`.
void AddDeliveryCount(DeliveryCounts& counts, std::string_view status_name, std::int64_t count);
// The backlog's figures of `counts`.
DeliveryBacklog BacklogOf(const DeliveryCounts& counts);

// Adds a row of a stats bucket query (rows ordered by bucket index) to `buckets`.
void AddStatsRow(std::vector<StatsBucket>& buckets, const StatsQuery& query,
                 std::int64_t bucket_index, std::string_view status_name, std::int64_t count);

// The 0-based rank, fastest first, of the `percent` percentile of `samples` values (nearest
// rank); `samples` > 0.
std::int64_t PercentileRank(std::int64_t samples, int percent);

// A window's succeeded deliveries by latency: (milliseconds, how many), fastest first.
using LatencyHistogram = std::vector<std::pair<std::int64_t, std::int64_t>>;
// Sets `out`'s latency samples, p50 and p99 (PercentileRank of the histogram's total).
void SetLatencies(const LatencyHistogram& histogram, DeliveryStats& out);

}  // namespace webhookd::store_common
