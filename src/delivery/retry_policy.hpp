// When to try a delivery again (Svix/Standard Webhooks style schedule with jitter).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <vector>

#include "core/model.hpp"
#include "core/result.hpp"

namespace webhookd {

// Source of randomness for jitter, injected so that tests assert exact delays.
// Returns a uniform double in [0, 1).
using UniformRandom = std::function<double()>;
UniformRandom DefaultUniformRandom();  // thread-safe

// How one attempt ended, as far as retrying is concerned.
enum class AttemptClass {
  kSuccess,    // 2xx
  kRetryable,  // DNS/connect/TLS error, timeout, 5xx, 408, 429
  kGone,       // 410: deactivate the configuration, no retry
  kFailure,    // 3xx and other 4xx: failed attempt, still retried on the schedule
};
AttemptClass ClassifyAttempt(int status_code, bool transport_error);

class RetryPolicy {
 public:
  // `schedule_seconds[i]` is the wait before attempt i+1 (attempt 1 is immediate, so the
  // default schedule is {0, 5, 300, 1800, 7200, 18000, 36000, 36000}: 8 attempts).
  // `jitter` is the relative spread (0.2 = +-20 %).
  RetryPolicy(std::vector<std::int64_t> schedule_seconds, double jitter, UniformRandom random);
  static std::vector<std::int64_t> DefaultSchedule();

  // Parses a schedule given as text: comma-separated durations ("5s,5m,30m,2h") or a JSON
  // array of seconds. Error::Invalid naming the bad element.
  static Result<std::vector<std::int64_t>> ParseSchedule(std::string_view text);

  int max_attempts() const { return static_cast<int>(schedule_.size()); }

  // After `attempts_made` attempts (>= 1) that all failed: the wait in milliseconds before the
  // next one, or nullopt when the schedule is exhausted. `retry_after_ms`, when the receiver
  // sent Retry-After on 429/503, replaces the wait, clamped to [scheduled wait, 1 h].
  std::optional<std::int64_t> NextDelayMs(int attempts_made,
                                          std::optional<std::int64_t> retry_after_ms) const;

 private:
  std::vector<std::int64_t> schedule_;
  double jitter_;
  UniformRandom random_;
};

// Parses a Retry-After header value: delta-seconds or an HTTP-date (relative to `now`).
// nullopt if unparseable.
std::optional<std::int64_t> ParseRetryAfterMs(std::string_view value, UnixMillis now);

}  // namespace webhookd
