#include "api/rate_limiter.hpp"

#include <algorithm>

namespace webhookd::api {
namespace {

constexpr std::int64_t kMilli = 1000;

std::int64_t CeilDiv(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

}  // namespace

KeyRateLimiter::KeyRateLimiter(RateLimit limit, const Clock& clock)
    : limit_{limit.per_second, std::max<std::int64_t>(limit.burst, 1)}, clock_(clock) {}

void KeyRateLimiter::Refill(Bucket& bucket, UnixMillis now) const {
  const std::int64_t capacity = limit_.burst * kMilli;
  // Bounded so that the product cannot overflow; a wall clock that steps back earns nothing.
  const std::int64_t time_to_fill = CeilDiv(capacity - bucket.milli_tokens, limit_.per_second);
  const std::int64_t elapsed = std::clamp<std::int64_t>(now - bucket.refilled_at, 0, time_to_fill);
  bucket.milli_tokens = std::min(capacity, bucket.milli_tokens + elapsed * limit_.per_second);
  bucket.refilled_at = now;
}

std::optional<KeyRateLimiter::Refusal> KeyRateLimiter::Take(std::int64_t key_id,
                                                            std::int64_t events) {
  if (limit_.per_second <= 0) return std::nullopt;
  const UnixMillis now = clock_.Now();
  const std::int64_t needed = std::min(events, limit_.burst) * kMilli;
  std::lock_guard lock(mu_);
  auto [it, is_new] = buckets_.try_emplace(key_id, Bucket{limit_.burst * kMilli, now});
  Bucket& bucket = it->second;
  if (!is_new) Refill(bucket, now);
  if (bucket.milli_tokens >= needed) {
    bucket.milli_tokens -= events * kMilli;
    return std::nullopt;
  }
  const std::int64_t wait_ms = CeilDiv(needed - bucket.milli_tokens, limit_.per_second);
  return Refusal{std::max<std::int64_t>(1, CeilDiv(wait_ms, 1000))};
}

}  // namespace webhookd::api
