// Claims due deliveries from the Store on its own thread, so that the dispatcher keeps turning
// completions into new requests while a claim (a durable commit) is in progress.
// The dispatcher asks for at most one claim at a time and gets the result through a callback.
// The lease sweeps are store calls too, and run here for the same reason: the dispatcher's loop
// may be the HTTP client's, whose every request would wait for a commit.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "store/store.hpp"

namespace webhookd::delivery {

struct ClaimResult {
  Result<std::vector<DeliveryJob>> jobs = std::vector<DeliveryJob>{};
  int asked = 0;
  UnixMillis lease_until = 0;  // of every job claimed
  // Only when fewer jobs than asked came back (nothing more is due now): the earliest
  // next_attempt_at still pending, nullopt if none. Unset if reading it failed.
  std::optional<std::optional<UnixMillis>> next_due_at;
};

struct SweepResult {
  bool startup = false;       // the start-up release (this node's leases and ended ones)
  bool ok = true;             // false: the store failed (logged); try again later
  std::int64_t released = 0;  // deliveries returned to pending
};

class DueClaimer {
 public:
  // Called on the claimer thread with each claim's result; must be quick and must not block.
  using Callback = std::function<void(ClaimResult)>;
  // Called on the claimer thread after each lease sweep; same rules.
  using SweepCallback = std::function<void(SweepResult)>;

  // `store` and `clock` must outlive the claimer. Claimed deliveries are leased for lease_ms.
  DueClaimer(Store& store, const Clock& clock, std::int64_t lease_ms, Callback on_claimed,
             SweepCallback on_swept);
  ~DueClaimer();  // Stop()s
  DueClaimer(const DueClaimer&) = delete;
  DueClaimer& operator=(const DueClaimer&) = delete;

  // Starts the claimer thread, which first returns to pending the deliveries this node had
  // leased when it last stopped (a crash, a kill -9: whatever lease length that run used) and
  // other nodes' ended leases, then reports it (SweepResult::startup), before any claim or
  // sweep. Until then deliveries must not be leased to this node other than by its claims:
  // the release would take them back while they are being sent. Call once.
  void Start();
  // Returns the deliveries whose lease has ended to pending (Store::ReleaseExpiredLeases at the
  // clock's now), before the next claim. Requests made while one waits count once.
  // Thread-safe; never blocks on I/O.
  void RequestSweep();
  // Claims up to `limit` due deliveries (Store::ClaimDue at the clock's now), leaving those of
  // `skip_config_ids` pending. The caller asks again only after the previous result arrived.
  // Thread-safe; never blocks on I/O.
  void Request(int limit, std::vector<std::int64_t> skip_config_ids);
  // Waits for a claim in progress (its result is still passed to the callback) and joins the
  // thread; a request not yet started is dropped. Idempotent.
  void Stop();

 private:
  void Loop();
  ClaimResult Claim(int limit, const std::vector<std::int64_t>& skip_config_ids);
  SweepResult ReleaseInterrupted();
  SweepResult Sweep();

  Store& store_;
  const Clock& clock_;
  const std::int64_t lease_ms_;
  const Callback on_claimed_;
  const SweepCallback on_swept_;

  std::mutex mutex_;
  std::condition_variable changed_;
  int requested_ = 0;                          // guarded by mutex_; 0: no request
  std::vector<std::int64_t> skip_config_ids_;  // guarded by mutex_; of the request
  bool sweep_requested_ = false;               // guarded by mutex_
  bool stopping_ = false;                      // guarded by mutex_
  std::thread thread_;
  std::mutex lifecycle_mutex_;  // serialises Start() and Stop()
};

}  // namespace webhookd::delivery
