// The ingest rate limit: a token bucket per API key, in memory (each node counts its own). A key
// earns `per_second` tokens a second up to `burst`; an ingest request takes one token per event.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "core/clock.hpp"

namespace webhookd::api {

struct RateLimit {
  std::int64_t per_second = 0;  // 0: no limit
  std::int64_t burst = 0;       // tokens a key may save up (at least 1 when limited)
};

class KeyRateLimiter {
 public:
  // `clock` must outlive the limiter.
  KeyRateLimiter(RateLimit limit, const Clock& clock);

  struct Refusal {
    std::int64_t retry_after_seconds = 1;  // rounded up, at least 1
  };

  // Takes `events` tokens from `key_id`'s bucket (a new key's bucket starts full), or refuses and
  // takes none, saying when the same request would be admitted. A request larger than the burst
  // is admitted when the bucket is full and leaves it in debt, so that the rate still holds.
  // Thread-safe and cheap: one short lock.
  std::optional<Refusal> Take(std::int64_t key_id, std::int64_t events);

  const RateLimit& limit() const { return limit_; }

 private:
  // Tokens are counted in thousandths so that a millisecond's refill (per_second thousandths)
  // is exact.
  struct Bucket {
    std::int64_t milli_tokens = 0;
    UnixMillis refilled_at = 0;
  };

  void Refill(Bucket& bucket, UnixMillis now) const;

  const RateLimit limit_;
  const Clock& clock_;
  std::mutex mu_;
  std::unordered_map<std::int64_t, Bucket> buckets_;  // by key id; guarded by mu_
};

}  // namespace webhookd::api
