#include "delivery/token_bucket.hpp"

#include <algorithm>

namespace webhookd::delivery {

TokenBucket::TokenBucket(std::int64_t per_second, UnixMillis now)
    : per_second_(std::max<std::int64_t>(1, per_second)),
      milli_tokens_(per_second_ * kMilli),
      updated_at_(now) {}

void TokenBucket::SetRate(std::int64_t per_second, UnixMillis now) {
  milli_tokens_ = Refilled(now);
  updated_at_ = now;
  per_second_ = std::max<std::int64_t>(1, per_second);
  milli_tokens_ = std::min(milli_tokens_, per_second_ * kMilli);
}

bool TokenBucket::TryTake(UnixMillis now) {
  milli_tokens_ = Refilled(now);
  updated_at_ = std::max(updated_at_, now);
  if (milli_tokens_ < kMilli) return false;
  milli_tokens_ -= kMilli;
  return true;
}

UnixMillis TokenBucket::NextTokenAt(UnixMillis now) const {
  const std::int64_t missing = kMilli - Refilled(now);
  if (missing <= 0) return now;
  return now + (missing + per_second_ - 1) / per_second_;
}

bool TokenBucket::Full(UnixMillis now) const { return Refilled(now) >= per_second_ * kMilli; }

std::int64_t TokenBucket::Refilled(UnixMillis now) const {
  const std::int64_t elapsed = std::max<UnixMillis>(0, now - updated_at_);
  const std::int64_t burst = per_second_ * kMilli;
  // Past a whole second the bucket is full whatever it held: no overflow for long gaps.
  if (elapsed >= kMilli) return burst;
  return std::min(burst, milli_tokens_ + elapsed * per_second_);
}

}  // namespace webhookd::delivery
