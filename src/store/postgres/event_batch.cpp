#include "store/postgres/event_batch.hpp"

#include <cstddef>
#include <utility>

#include "core/delivery_status.hpp"
#include "store/common/ingest.hpp"
#include "store/postgres/statements.hpp"

namespace webhookd::postgres {

void EventBatch::Add(const Event& event, const std::vector<Delivery>& deliveries,
                     const std::vector<bool>& fifo, UnixMillis lease_until,
                     std::optional<std::int64_t> read_at_version) {
  event_ids_.push_back(event.id);
  organizations_.push_back(std::to_string(event.organization_id));
  event_types_.push_back(std::to_string(event.event_type_id));
  payloads_.push_back(event.payload_json);
  payload_bytes_ += event.payload_json.size();
  keys_.push_back(event.idempotency_key);
  created_at_.push_back(std::to_string(event.created_at));
  type_versions_.push_back(std::to_string(event.event_type_version));
  read_at_.push_back(std::to_string(read_at_version.value_or(-1)));
  for (std::size_t i = 0; i < deliveries.size(); ++i) {
    const Delivery& d = deliveries[i];
    if (store_common::IsFifo(fifo, i) && d.status == DeliveryStatus::kPending)
      fifo_ids_.push_back(d.id);
    delivery_ids_.push_back(d.id);
    delivery_events_.push_back(event.id);
    configs_.push_back(std::to_string(d.config_id));
    delivery_organizations_.push_back(organizations_.back());
    statuses_.emplace_back(DeliveryStatusName(d.status));
    delivery_created_at_.push_back(created_at_.back());
    leases_.push_back(std::to_string(lease_until));
  }
}

// Sent without waiting for the answer (Connection::Write): a fan-out that changed fails the
// statement, so that the parking after it and the rest of the batch do not run.
Status EventBatch::Send(Connection& db) {
  const std::vector<std::string> fifo_ids = std::exchange(fifo_ids_, {});
  if (Status s = db.Write(kInsertEventsUnlessChanged, TakeParams()); !s.ok()) return s;
  if (fifo_ids.empty()) return Status::Ok();
  return db.Write(kParkWaitingDeliveries, Params().TextArray(fifo_ids));
}

Result<bool> EventBatch::Insert(Connection& db) {
  const std::vector<std::string> fifo_ids = std::exchange(fifo_ids_, {});
  Result<Rows> sent = db.Run(kInsertEvents, TakeParams());
  if (!sent.ok()) return sent.error();
  const bool inserted = sent->size() == 1 && sent->Bool(0, 0);
  if (inserted && !fifo_ids.empty()) {
    Result<Rows> parked = db.Run(kParkWaitingDeliveries, Params().TextArray(fifo_ids));
    if (!parked.ok()) return parked.error();
  }
  return inserted;
}

Params EventBatch::TakeParams() {
  Params params;
  for (const Column& column : Columns()) {
    if (column.text) {
      params.TextArray(*column.values);
    } else {
      params.Text(ArrayLiteral(*column.values));
    }
  }
  params.Text(node_id_);
  Clear();
  return params;
}

void EventBatch::Clear() {
  for (const Column& column : Columns()) column.values->clear();
  fifo_ids_.clear();
  payload_bytes_ = 0;
}

// In kInsertEvents' order ($1 to $15); its text[] columns go in binary (Params::TextArray).
std::array<EventBatch::Column, 15> EventBatch::Columns() {
  return {{{&event_ids_, true},
           {&organizations_, false},
           {&event_types_, false},
           {&payloads_, true},
           {&keys_, true},
           {&created_at_, false},
           {&type_versions_, false},
           {&read_at_, false},
           {&delivery_ids_, true},
           {&delivery_events_, true},
           {&configs_, false},
           {&delivery_organizations_, false},
           {&statuses_, true},
           {&delivery_created_at_, false},
           {&leases_, false}}};
}

}  // namespace webhookd::postgres
