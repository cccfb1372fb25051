// A configuration's delivery rate limit: a token bucket that refills `rate` tokens a second and
// holds one second's worth, so a configuration may send a burst of `rate` after a quiet second
// and `rate` a second under steady load. Integer arithmetic in thousandths of a token, on the
// injected clock's milliseconds, so that tests can assert exact times.
#pragma once

#include <cstdint>

#include "core/model.hpp"

namespace webhookd::delivery {

class TokenBucket {
 public:
  // `per_second` >= 1. The bucket starts full.
  TokenBucket(std::int64_t per_second, UnixMillis now);

  // Changes the rate, keeping the tokens already earned (capped at the new burst).
  void SetRate(std::int64_t per_second, UnixMillis now);
  std::int64_t rate() const { return per_second_; }
  // Takes one token if there is one.
  bool TryTake(UnixMillis now);
  // The earliest time TryTake can succeed (`now` when it can now).
  UnixMillis NextTokenAt(UnixMillis now) const;
  // Holds a whole burst again: forgetting this bucket and starting a new one changes nothing.
  bool Full(UnixMillis now) const;

 private:
  static constexpr std::int64_t kMilli = 1'000;  // thousandths of a token per token
  std::int64_t Refilled(UnixMillis now) const;

  std::int64_t per_second_;  // also thousandths of a token earned per millisecond
  std::int64_t milli_tokens_;
  UnixMillis updated_at_;
};

}  // namespace webhookd::delivery
