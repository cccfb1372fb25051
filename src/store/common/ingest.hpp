// Ingesting one event, the part that does not depend on the database: the idempotency decision
// (replay an earlier event, or store a new one) and the fan-out's shape (one delivery per active
// configuration: pending and due now, or leased to the DeliveryHandoff that takes it). The backend
// supplies the statements (IngestSteps); the whole runs as one write job, so a failing step
// undoes the event.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/model.hpp"
#include "core/result.hpp"
#include "store/store.hpp"

namespace webhookd::store_common {

class IngestSteps {
 public:
  virtual ~IngestSteps() = default;
  // The organization's newest event with `event.idempotency_key` created at or after `since`.
  // Must also keep a concurrent ingestion of the same key from missing it (PostgreSQL locks the
  // key; SQLite has one writer).
  virtual Result<std::optional<Event>> FindIdempotent(const NewEvent& event, UnixMillis since) = 0;
  virtual Result<std::vector<Delivery>> DeliveriesOf(const std::string& event_id) = 0;
  // The active, non-deleted configurations of the event's organization and type, by id. A
  // backend may answer from a cache (PostgreSQL), which the InsertEvent after it checks.
  virtual Result<std::vector<WebhookConfig>> FanOut(const Event& event) = 0;
  // Stores the event with its deliveries (none when no configuration matched; one round trip
  // for both on PostgreSQL). Each delivery is kPending, or kDelivering leased until
  // `lease_until` (the same for all of them). A pending delivery whose `fifo` flag is set (its
  // configuration's ordering is FIFO; IsFifo: `fifo` is empty when none is) is stored waiting for
  // its turn (kWaitingForTurn) when an earlier delivery of its configuration is open. kConflict if
  // an event with this id exists. False, storing nothing, if the configurations the last FanOut
  // answered from its cache have changed since; the FanOut after that reads the database, and the
  // InsertEvent after that does not answer false.
  virtual Result<bool> InsertEvent(const Event& event, const std::vector<Delivery>& deliveries,
                                   const std::vector<bool>& fifo, UnixMillis lease_until) = 0;
};

// Whether the `i`th delivery given to IngestSteps::InsertEvent is of a FIFO configuration.
inline bool IsFifo(const std::vector<bool>& fifo, std::size_t i) {
  return i < fifo.size() && fifo[i];
}

// The deliveries one ingestion request may create (IngestLimits), counted over its events, which
// run one after another on one writer thread.
class DeliveryBudget {
 public:
  explicit DeliveryBudget(std::int64_t limit) : limit_(limit) {}
  // Forgets what was counted: the request's events run again from the first (a batch re-run).
  void Restart() { spent_ = 0; }
  // kLimitExceeded, counting nothing, if `deliveries` more would pass the limit.
  Status Spend(std::int64_t deliveries);
  // Gives back what an event spent when it was not stored after all.
  void Refund(std::int64_t deliveries) { spent_ -= deliveries; }

 private:
  const std::int64_t limit_;
  std::int64_t spent_ = 0;
};

// Replays the earlier event with the same idempotency key from the last 24 h, or stores `in`
// (created now) with its deliveries, if `budget` allows them: those `handoff` (may be null)
// takes are listed in `handed_off`; the others are pending and make work due.
Result<IngestedEvent> IngestEvent(IngestSteps& steps, const NewEvent& in, UnixMillis now,
                                  DeliveryHandoff* handoff, DeliveryBudget& budget);

// True if ingesting left a new delivery pending (work for a claim), other than ones whose
// configuration the dispatcher holds back.
bool LeftWorkDue(const IngestedEvent& ingested);

// Gathers what the ingest requests of the batches being completed pass on: their handed-off
// deliveries go to the dispatcher in one DeliveryHandoff::Take, and so one wake-up, per commit
// rather than one per request; the answers of the requests that handed some off wait for that
// Take, so that a request is answered only once its deliveries are with the dispatcher.
class HandedOffCollector {
 public:
  // Moves the handed-off deliveries out of the committed `results`; calls `done` with them at
  // once if there are none, else at the next Flush(). Thread-safe, never blocks on I/O.
  void Add(const std::shared_ptr<DeliveryHandoff>& handoff,
           std::vector<Result<IngestedEvent>> results, const Store::IngestDone& done);
  // Passes everything added since the last call to its handoff, then gives the answers kept.
  // Thread-safe.
  void Flush();

 private:
  struct Answer {
    Store::IngestDone done;
    std::vector<Result<IngestedEvent>> results;
  };

  std::mutex mu_;
  std::shared_ptr<DeliveryHandoff> handoff_;  // guarded by mu_
  std::vector<DeliveryJob> jobs_;             // guarded by mu_
  UnixMillis lease_until_ = 0;                // guarded by mu_: the earliest of jobs_' leases
  std::vector<Answer> answers_;               // guarded by mu_
};

}  // namespace webhookd::store_common
