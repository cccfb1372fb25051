// Counters the dispatcher keeps for /metrics. Written by the dispatcher and recorder threads, read
// by any thread (relaxed atomics: each value is exact, a set of values is not a snapshot).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string_view>

#include "delivery/retry_policy.hpp"

namespace webhookd::delivery {

struct DispatcherMetrics {
  // Upper bounds (inclusive) of the attempt duration histogram buckets, in milliseconds; a last,
  // unbounded bucket (+Inf) follows. Bucket counts are per bucket, not cumulative.
  static constexpr std::array<std::int64_t, 12> kDurationBucketsMs = {
      5, 10, 25, 50, 100, 250, 500, 1'000, 2'500, 5'000, 10'000, 30'000};

  // Recorded attempts by AttemptClass (index: static_cast<int>(AttemptClass)).
  std::array<std::atomic<std::int64_t>, 4> attempts_by_class{};
  // What recorded attempts did to their deliveries.
  std::atomic<std::int64_t> deliveries_succeeded{0};
  std::atomic<std::int64_t> deliveries_retry_scheduled{0};
  std::atomic<std::int64_t> deliveries_failed{0};  // dead letter (or configuration disabled)
  std::atomic<std::int64_t> configs_disabled{0};
  // Requests sent and not yet answered, and claimed deliveries waiting for their endpoint.
  std::atomic<std::int64_t> in_flight{0};
  std::atomic<std::int64_t> queued{0};
  std::array<std::atomic<std::int64_t>, kDurationBucketsMs.size() + 1> duration_buckets{};
  std::atomic<std::int64_t> duration_sum_ms{0};
  std::atomic<std::int64_t> duration_count{0};
  // Store::RecordAttempts calls (one per batch), their total latency, and failed calls.
  std::atomic<std::int64_t> record_batches{0};
  std::atomic<std::int64_t> record_latency_sum_ms{0};
  std::atomic<std::int64_t> record_errors{0};

  void ObserveDuration(std::int64_t duration_ms);
};

// "success", "retryable", "gone", "failure": the label /metrics uses.
std::string_view AttemptClassName(AttemptClass attempt_class);

}  // namespace webhookd::delivery
