// Ingesting one event, the part that does not depend on the database: the idempotency decision
// (replay an earlier event, or store a new one) and the fan-out's shape (one pending delivery,
// due now, per active configuration). The backend supplies the statements (IngestSteps); the
// whole runs inside one write job's savepoint, so a failing step undoes the event.
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
  // Ids of the active, non-deleted configurations of the event's organization and type.
  virtual Result<std::vector<std::int64_t>> FanOut(const Event& event) = 0;
  // Called only with a non-empty list.
  virtual Status InsertDeliveries(const std::vector<Delivery>& deliveries) = 0;
};

// Replays the earlier event with the same idempotency key from the last 24 h, or stores `in`
// (created now) with its deliveries. New deliveries (replayed false, deliveries not empty) make
// work due.
Result<IngestedEvent> IngestEvent(IngestSteps& steps, const NewEvent& in, UnixMillis now);

}  // namespace webhookd::store_common
