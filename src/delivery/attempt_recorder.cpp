#include "delivery/attempt_recorder.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <iterator>
#include <utility>

#include "core/thread_name.hpp"

namespace webhookd::delivery {
namespace {

using SteadyClock = std::chrono::steady_clock;

std::int64_t ElapsedMs(SteadyClock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - start).count();
}

}  // namespace

AttemptRecorder::AttemptRecorder(Store& store, const Clock& clock, DispatcherMetrics& metrics,
                                 std::int64_t store_retry_ms)
    : store_(store), clock_(clock), metrics_(metrics), store_retry_(store_retry_ms) {}

AttemptRecorder::~AttemptRecorder() { Finish(SteadyClock::now()); }

void AttemptRecorder::Start() {
  std::lock_guard lock(lifecycle_mutex_);
  if (thread_.joinable()) return;
  thread_ = NamedThread("recorder", [this] { Loop(); });
}

void AttemptRecorder::Add(std::vector<OutcomeToRecord> outcomes) {
  if (outcomes.empty()) return;
  {
    std::lock_guard lock(mutex_);
    std::move(outcomes.begin(), outcomes.end(), std::back_inserter(queue_));
  }
  changed_.notify_one();
}

void AttemptRecorder::Finish(SteadyClock::time_point deadline) {
  std::lock_guard lock(lifecycle_mutex_);
  {
    std::lock_guard queue_lock(mutex_);
    if (!finishing_) deadline_ = deadline;
    finishing_ = true;
  }
  changed_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void AttemptRecorder::Loop() {
  for (;;) {
    Batch batch = NextBatch();
    if (batch.outcomes.empty()) return;  // finishing, and nothing is left
    RecordWithRetries(std::move(batch));
  }
}

// Waits for queued outcomes and takes up to kMaxBatch of them; empty once finishing with
// nothing queued.
AttemptRecorder::Batch AttemptRecorder::NextBatch() {
  Batch batch;
  {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return finishing_ || !queue_.empty(); });
  }
  TopUp(batch);
  return batch;
}

void AttemptRecorder::TopUp(Batch& batch) {
  std::lock_guard lock(mutex_);
  while (!queue_.empty() && batch.outcomes.size() < kMaxBatch) {
    batch.outcomes.push_back(std::move(queue_.front().outcome));
    batch.leases_until.push_back(queue_.front().lease_until);
    queue_.pop_front();
  }
}

// While the store refuses, the batch is tried again (with what was queued meanwhile) as long
// as leases last, and when finishing, until the deadline.
void AttemptRecorder::RecordWithRetries(Batch batch) {
  for (;;) {
    DropEndedLeases(batch);
    if (batch.outcomes.empty()) return;
    if (TryRecord(batch)) return;
    if (!WaitBeforeRetry()) {
      spdlog::error(
          "shutting down with {} attempts unrecorded; their deliveries will be sent again",
          batch.outcomes.size());
      return;
    }
    TopUp(batch);
  }
}

// A delivery whose lease has ended may already be claimed and sent again by the lease sweep;
// recording the old attempt now could overwrite the newer one's effect.
void AttemptRecorder::DropEndedLeases(Batch& batch) {
  UnixMillis now = clock_.Now();
  std::size_t kept = 0;
  for (std::size_t i = 0; i < batch.outcomes.size(); ++i) {
    if (batch.leases_until[i] <= now) continue;
    if (kept != i) {
      batch.outcomes[kept] = std::move(batch.outcomes[i]);
      batch.leases_until[kept] = batch.leases_until[i];
    }
    ++kept;
  }
  if (kept < batch.outcomes.size()) {
    spdlog::warn("{} attempts not recorded before their lease ended; they will be sent again",
                 batch.outcomes.size() - kept);
  }
  batch.outcomes.resize(kept);
  batch.leases_until.resize(kept);
}

bool AttemptRecorder::TryRecord(const Batch& batch) {
  auto started = SteadyClock::now();
  Status recorded = store_.RecordAttempts(batch.outcomes);
  metrics_.record_batches.fetch_add(1, std::memory_order_relaxed);
  metrics_.record_latency_sum_ms.fetch_add(ElapsedMs(started), std::memory_order_relaxed);
  if (!recorded.ok()) {
    spdlog::error("recording {} attempts failed: {}", batch.outcomes.size(),
                  recorded.error().message);
    metrics_.record_errors.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  CountRecorded(batch.outcomes);
  return true;
}

// Sleeps store_retry_ms (less when the finish deadline comes first). False when finishing and
// the deadline has passed: give up.
bool AttemptRecorder::WaitBeforeRetry() {
  std::unique_lock lock(mutex_);
  if (finishing_ && SteadyClock::now() >= deadline_) return false;
  SteadyClock::time_point retry_at = SteadyClock::now() + store_retry_;
  bool was_finishing = finishing_;
  changed_.wait_until(lock, finishing_ ? std::min(retry_at, deadline_) : retry_at,
                      [&] { return finishing_ != was_finishing; });
  return true;
}

void AttemptRecorder::CountRecorded(const std::vector<AttemptOutcome>& outcomes) {
  for (const AttemptOutcome& outcome : outcomes) {
    switch (outcome.new_status) {
      case DeliveryStatus::kSucceeded:
        metrics_.deliveries_succeeded.fetch_add(1, std::memory_order_relaxed);
        break;
      case DeliveryStatus::kPending:
        metrics_.deliveries_retry_scheduled.fetch_add(1, std::memory_order_relaxed);
        break;
      case DeliveryStatus::kFailed:
      case DeliveryStatus::kDelivering:
        metrics_.deliveries_failed.fetch_add(1, std::memory_order_relaxed);
        break;
    }
    if (outcome.config_effect == ConfigEffect::kDisable) {
      spdlog::warn("configuration {} deactivated: {}", outcome.config_id, outcome.disable_reason);
      metrics_.configs_disabled.fetch_add(1, std::memory_order_relaxed);
    }
  }
}

}  // namespace webhookd::delivery
