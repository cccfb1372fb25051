// Time is injected (Envoy's TimeSource) so that retry and expiry logic can be tested with
// exact times.
#pragma once

#include <atomic>

#include "core/model.hpp"

namespace webhookd {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time, Unix milliseconds. Thread-safe.
  virtual UnixMillis Now() const = 0;
};

class SystemClock final : public Clock {
 public:
  UnixMillis Now() const override;
};

// A clock that only moves when told to, for unit tests.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(UnixMillis start = 1'700'000'000'000) : now_(start) {}
  UnixMillis Now() const override { return now_.load(); }
  void Set(UnixMillis t) { now_.store(t); }
  void Advance(UnixMillis ms) { now_.fetch_add(ms); }

 private:
  std::atomic<UnixMillis> now_;
};

}  // namespace webhookd
