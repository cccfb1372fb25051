#include "delivery/due_claimer.hpp"

#include <spdlog/spdlog.h>

#include <utility>

#include "core/thread_name.hpp"

namespace webhookd::delivery {

DueClaimer::DueClaimer(Store& store, const Clock& clock, std::int64_t lease_ms, Callback on_claimed,
                       SweepCallback on_swept)
    : store_(store),
      clock_(clock),
      lease_ms_(lease_ms),
      on_claimed_(std::move(on_claimed)),
      on_swept_(std::move(on_swept)) {}

DueClaimer::~DueClaimer() { Stop(); }

void DueClaimer::Start() {
  std::lock_guard lock(lifecycle_mutex_);
  if (thread_.joinable()) return;
  thread_ = NamedThread("claimer", [this] { Loop(); });
}

void DueClaimer::Request(int limit, std::vector<std::int64_t> skip_config_ids) {
  {
    std::lock_guard lock(mutex_);
    requested_ = limit;
    skip_config_ids_ = std::move(skip_config_ids);
  }
  changed_.notify_one();
}

void DueClaimer::RequestSweep() {
  {
    std::lock_guard lock(mutex_);
    sweep_requested_ = true;
  }
  changed_.notify_one();
}

void DueClaimer::Stop() {
  std::lock_guard lock(lifecycle_mutex_);
  {
    std::lock_guard state_lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void DueClaimer::Loop() {
  on_swept_(ReleaseInterrupted());
  for (;;) {
    int limit = 0;
    bool sweep = false;
    std::vector<std::int64_t> skip_config_ids;
    {
      std::unique_lock lock(mutex_);
      changed_.wait(lock, [&] { return stopping_ || requested_ > 0 || sweep_requested_; });
      if (stopping_) return;
      sweep = std::exchange(sweep_requested_, false);
      limit = std::exchange(requested_, 0);
      skip_config_ids.swap(skip_config_ids_);
    }
    if (sweep) on_swept_(Sweep());
    if (limit > 0) on_claimed_(Claim(limit, skip_config_ids));
  }
}

SweepResult DueClaimer::ReleaseInterrupted() {
  Result<std::int64_t> own = store_.ReleaseOwnLeases();
  if (!own.ok()) {
    spdlog::error("releasing interrupted deliveries failed: {}", own.error().message);
    return {.startup = true, .ok = false};
  }
  if (*own > 0) spdlog::info("{} interrupted deliveries returned to pending", *own);
  SweepResult ended = Sweep();
  return {.startup = true, .ok = ended.ok, .released = *own + ended.released};
}

SweepResult DueClaimer::Sweep() {
  Result<std::int64_t> released = store_.ReleaseExpiredLeases(clock_.Now());
  if (!released.ok()) {
    spdlog::error("releasing ended leases failed: {}", released.error().message);
    return {.ok = false};
  }
  if (*released > 0) spdlog::info("{} deliveries with ended leases returned to pending", *released);
  return {.released = *released};
}

ClaimResult DueClaimer::Claim(int limit, const std::vector<std::int64_t>& skip_config_ids) {
  UnixMillis now = clock_.Now();
  ClaimResult result;
  result.asked = limit;
  result.lease_until = now + lease_ms_;
  result.jobs = store_.ClaimDue(now, limit, result.lease_until, skip_config_ids);
  if (!result.jobs.ok()) {
    spdlog::error("claiming due deliveries failed: {}", result.jobs.error().message);
    return result;
  }
  if (static_cast<int>(result.jobs->size()) < limit) {
    Result<std::optional<UnixMillis>> due = store_.NextDueAt();
    if (due.ok()) {
      result.next_due_at = *due;
    } else {
      spdlog::error("reading the next due time failed: {}", due.error().message);
    }
  }
  return result;
}

}  // namespace webhookd::delivery
