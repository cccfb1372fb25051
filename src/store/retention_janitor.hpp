// Data retention (docs/security.md, "Retention"): a janitor thread
//  - purges events older than the retention period together with their deliveries and attempts
//    (`--retention`, Store::PurgeBefore);
//  - erases the payloads of events older than the payload retention period and their attempts'
//    bodies and headers, keeping the records (`--payload-retention`, ErasePayloadsBefore);
//  - purges audit log entries older than the audit retention period (`--audit-retention`).
// An organization's own periods (PUT /organizations/{id}/settings) replace the first two for
// its events. It works in small batches, one transaction each, and pauses between batches, so
// that it never holds locks for long nor crowds out the API's writes; events with a delivery
// still to be sent are kept. It logs how many rows it changed, never what they held.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "store/store.hpp"

namespace webhookd {

// HIPAA's documentation period: six years (of 366 days, so never short of six).
inline constexpr std::chrono::days kDefaultAuditRetention{6 * 366};

struct RetentionOptions {
  // Events created longer ago than this are purged; 0: kept (unless their organization has a
  // period of its own).
  std::chrono::milliseconds retention{0};
  // Events created longer ago than this lose their payloads; 0: kept (likewise).
  std::chrono::milliseconds payload_retention{0};
  // Audit log entries older than this are purged.
  std::chrono::milliseconds audit_retention = kDefaultAuditRetention;
  // Events per transaction.
  int batch_events = 500;
  // Between two passes over the database.
  std::chrono::milliseconds interval = std::chrono::minutes(5);
  // Between two batches of one pass, to let other writes through.
  std::chrono::milliseconds pause = std::chrono::milliseconds(200);
};

// What one pass did.
struct RetentionPass {
  std::int64_t purged_events = 0;
  std::int64_t erased_payloads = 0;  // events whose payloads it erased
  std::int64_t purged_audit_entries = 0;
};

// A retention period as typed on the command line: a positive whole number of days, hours or
// minutes ("30d", "12h", "90m"). Error::Invalid naming the text otherwise.
Result<std::chrono::milliseconds> ParseRetention(std::string_view text);
// A period as ParseRetention reads it, in the largest unit that divides it ("30d", "36h").
std::string FormatRetention(std::chrono::milliseconds period);

class RetentionJanitor {
 public:
  // `store` and `clock` must outlive the janitor.
  RetentionJanitor(Store& store, const Clock& clock, RetentionOptions options);
  // Stop().
  ~RetentionJanitor();
  RetentionJanitor(const RetentionJanitor&) = delete;
  RetentionJanitor& operator=(const RetentionJanitor&) = delete;

  // Starts the janitor's thread: a pass at once, then one every `interval`. Call once.
  void Start();
  // Ends the thread and waits for it: a batch already running finishes first (its transaction
  // is short), no new one starts. Safe to call more than once.
  void Stop();

  // One pass on the calling thread: for each kind of retention and each period (the server's
  // and the organizations' own), batch after batch (pausing between them) until a batch finds
  // fewer than `batch_events` rows, or Stop() is called. A store error ends the pass with that
  // error.
  Result<RetentionPass> RunPass();

 private:
  // One batch of some kind of retention: how many rows it changed.
  using Batch = std::function<Result<std::int64_t>(int max_rows)>;
  // Runs `batch` until it finds fewer than `batch_events` rows, or Stop() is called.
  Result<std::int64_t> Drain(const Batch& batch);
  // Drains PurgeBefore or ErasePayloadsBefore for every period of one kind: `server_period`
  // for the organizations without their own, and each organization's own (`own_period`).
  template <class Apply>
  Result<std::int64_t> DrainEachPeriod(const std::vector<OrganizationSettings>& overrides,
                                       std::chrono::milliseconds server_period,
                                       std::int64_t OrganizationSettings::*own_period,
                                       UnixMillis now, Apply apply);
  bool StopRequested();
  void Loop();
  // Waits up to `duration`; false if Stop() was called.
  bool Wait(std::chrono::milliseconds duration);

  Store& store_;
  const Clock& clock_;
  const RetentionOptions options_;

  std::mutex mu_;
  std::condition_variable stop_requested_;
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace webhookd
