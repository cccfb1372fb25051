// Ingesting one event, the part that does not depend on the database: the idempotency decision
// (replay an earlier event, or store a new one) and the fan-out's shape (one delivery per active
// configuration: pending and due now, or leased to the DeliveryHandoff that takes it). The backend
// supplies the statements (IngestSteps); the whole runs as one write job, so a failing step
// undoes the event.
#pragma once

#include <cstdint>
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
  // kConflict if an event with this id exists.
  virtual Status InsertEvent(const Event& event) = 0;
  // The active, non-deleted configurations of the event's organization and type, by id.
  virtual Result<std::vector<WebhookConfig>> FanOut(const Event& event) = 0;
  // Called only with a non-empty list. Each is kPending, or kDelivering leased until
  // `lease_until` (the same for all of them).
  virtual Status InsertDeliveries(const std::vector<Delivery>& deliveries,
                                  UnixMillis lease_until) = 0;
};

// The deliveries one ingestion request may create (IngestLimits), counted over its events, which
// run one after another on one writer thread.
class DeliveryBudget {
 public:
  explicit DeliveryBudget(std::int64_t limit) : limit_(limit) {}
  // Forgets what was counted: the request's events run again from the first (a batch re-run).
  void Restart() { spent_ = 0; }
  // kLimitExceeded, counting nothing, if `deliveries` more would pass the limit.
  Status Spend(std::int64_t deliveries);

 private:
  const std::int64_t limit_;
  std::int64_t spent_ = 0;
};

// Replays the earlier event with the same idempotency key from the last 24 h, or stores `in`
// (created now) with its deliveries, if `budget` allows them: those `handoff` (may be null)
// takes are listed in `handed_off`; the others are pending and make work due.
Result<IngestedEvent> IngestEvent(IngestSteps& steps, const NewEvent& in, UnixMillis now,
                                  DeliveryHandoff* handoff, DeliveryBudget& budget);

// True if ingesting left a new delivery pending (work for a claim).
bool LeftWorkDue(const IngestedEvent& ingested);

// Passes the handed-off deliveries of the committed `results` to `handoff`, in one call.
void PassHandedOff(DeliveryHandoff& handoff, std::vector<Result<IngestedEvent>>& results);

}  // namespace webhookd::store_common
