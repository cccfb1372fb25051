// Data retention (`webhookd serve --retention 30d`): a janitor thread purges events older than
// the retention period together with their deliveries and attempts (Store::PurgeBefore). It
// deletes a small batch per transaction and pauses between batches, so that it never holds
// locks for long nor crowds out the API's writes; events with a delivery still to be sent are
// kept. It logs how many events it purged, never what they held.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string_view>
#include <thread>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "store/store.hpp"

namespace webhookd {

struct RetentionOptions {
  // Events created longer ago than this are purged.
  std::chrono::milliseconds retention{0};
  // Events per transaction.
  int batch_events = 500;
  // Between two passes over the database.
  std::chrono::milliseconds interval = std::chrono::minutes(5);
  // Between two batches of one pass, to let other writes through.
  std::chrono::milliseconds pause = std::chrono::milliseconds(200);
};

// A retention period as typed on the command line: a positive whole number of days, hours or
// minutes ("30d", "12h", "90m"). Error::Invalid naming the text otherwise.
Result<std::chrono::milliseconds> ParseRetention(std::string_view text);

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

  // One pass on the calling thread: purges batch after batch (pausing between them) until a
  // batch finds fewer than `batch_events` events to purge, or Stop() is called. Returns how
  // many events it purged; a store error ends the pass with that error.
  Result<std::int64_t> RunPass();

 private:
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
