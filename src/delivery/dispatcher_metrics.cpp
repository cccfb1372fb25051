#include "delivery/dispatcher_metrics.hpp"

#include <algorithm>

namespace webhookd::delivery {

void DispatcherMetrics::ObserveDuration(std::int64_t duration_ms) {
  auto bucket = std::lower_bound(kDurationBucketsMs.begin(), kDurationBucketsMs.end(), duration_ms);
  duration_buckets[bucket - kDurationBucketsMs.begin()].fetch_add(1, std::memory_order_relaxed);
  duration_sum_ms.fetch_add(duration_ms, std::memory_order_relaxed);
  duration_count.fetch_add(1, std::memory_order_relaxed);
}

std::string_view AttemptClassName(AttemptClass attempt_class) {
  switch (attempt_class) {
    case AttemptClass::kSuccess:
      return "success";
    case AttemptClass::kRetryable:
      return "retryable";
    case AttemptClass::kGone:
      return "gone";
    case AttemptClass::kFailure:
      return "failure";
  }
  return "unknown";
}

}  // namespace webhookd::delivery
