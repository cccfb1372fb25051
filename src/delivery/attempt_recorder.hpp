// Records finished attempts in the Store on its own thread, so that the dispatcher never waits
// for a commit: the dispatcher hands over decided outcomes and goes on sending, the recorder
// takes everything queued and records it with one Store::RecordAttempts call (group commit).
//
// A delivery stays kDelivering, under its lease, until its outcome is recorded, so it cannot be
// claimed (and sent) again in between. An outcome whose lease ends before it could be recorded
// is dropped: the lease sweep returns that delivery to pending and it is sent again
// (at least once).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "core/clock.hpp"
#include "delivery/dispatcher_metrics.hpp"
#include "store/store.hpp"

namespace webhookd::delivery {

struct OutcomeToRecord {
  AttemptOutcome outcome;
  UnixMillis lease_until = 0;  // the delivery's lease: record before it ends, or not at all
};

class AttemptRecorder {
 public:
  // At most this many outcomes per RecordAttempts call, so that one transaction stays short.
  static constexpr std::size_t kMaxBatch = 1'024;

  // `store`, `clock` and `metrics` must outlive the recorder. After a failed RecordAttempts the
  // same outcomes (plus any queued since) are tried again `store_retry_ms` later.
  AttemptRecorder(Store& store, const Clock& clock, DispatcherMetrics& metrics,
                  std::int64_t store_retry_ms);
  ~AttemptRecorder();  // Finish()es with a deadline of now if needed
  AttemptRecorder(const AttemptRecorder&) = delete;
  AttemptRecorder& operator=(const AttemptRecorder&) = delete;

  // Starts the recording thread. Call once.
  void Start();
  // Queues outcomes for the next batch. Thread-safe; never blocks on I/O. Call before Finish().
  void Add(std::vector<OutcomeToRecord> outcomes);
  // Records everything queued and joins the thread. Each queued outcome gets at least one try;
  // failed tries are repeated only until `deadline`, then given up (logged; those deliveries
  // stay leased and are sent again). Idempotent.
  void Finish(std::chrono::steady_clock::time_point deadline);

 private:
  // Outcomes apart from their leases, so that they go to the store without a copy.
  struct Batch {
    std::vector<AttemptOutcome> outcomes;
    std::vector<UnixMillis> leases_until;  // of outcomes[i]'s delivery
  };

  void Loop();
  Batch NextBatch();
  void TopUp(Batch& batch);
  void RecordWithRetries(Batch batch);
  void DropEndedLeases(Batch& batch);
  bool TryRecord(const Batch& batch);
  bool WaitBeforeRetry();
  void CountRecorded(const std::vector<AttemptOutcome>& outcomes);

  Store& store_;
  const Clock& clock_;
  DispatcherMetrics& metrics_;
  const std::chrono::milliseconds store_retry_;

  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<OutcomeToRecord> queue_;               // guarded by mutex_
  bool finishing_ = false;                          // guarded by mutex_
  std::chrono::steady_clock::time_point deadline_;  // guarded by mutex_, set with finishing_
  std::thread thread_;
  std::mutex lifecycle_mutex_;  // serialises Start() and Finish()
};

}  // namespace webhookd::delivery
