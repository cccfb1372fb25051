#include <string>

#include "core/ids.hpp"
#include "store/sqlite/operations.hpp"
#include "store/sqlite/query_util.hpp"
#include "store/sqlite/rows.hpp"
#include "store/sqlite/statements.hpp"

namespace webhookd::sqlite::ops {
namespace {

Event ReadEventRow(const Query& row) { return ReadEvent(row); }
Delivery ReadDeliveryRow(const Query& row) { return ReadDelivery(row); }

Result<std::vector<Delivery>> SelectDeliveriesOfEvent(Connection& db, const std::string& event_id) {
  Result<Query> query = db.Prepare(kDeliveriesOfEvent);
  if (!query.ok()) return query.error();
  query->BindText(1, event_id);
  return ReadAll<Delivery>(*query, ReadDeliveryRow);
}

// The organization's event with this key from the last 24 hours, if any.
Result<std::optional<Event>> FindIdempotent(Connection& db, const NewEvent& event, UnixMillis now) {
  Result<Query> query = db.Prepare(kFindIdempotentEvent);
  if (!query.ok()) return query.error();
  query->BindInt(1, event.organization_id)
      .BindText(2, event.idempotency_key)
      .BindInt(3, now - kIdempotencyWindowMs);
  return ReadFirst<Event>(*query, ReadEventRow);
}

Status InsertEvent(Connection& db, const Event& event) {
  Result<Query> insert = db.Prepare(kInsertEvent);
  if (!insert.ok()) return insert.error();
  insert->BindText(1, event.id)
      .BindInt(2, event.organization_id)
      .BindInt(3, event.event_type_id)
      .BindText(4, event.payload_json)
      .BindText(5, event.idempotency_key)
      .BindInt(6, event.created_at);
  Status s = insert->Run();
  if (!s.ok() && s.error().kind == ErrorKind::kConflict) {
    return Error::Conflict("event " + event.id + " already exists");
  }
  return s;
}

// Ids of the active, non-deleted configurations the event goes to.
Result<std::vector<std::int64_t>> FanOut(Connection& db, const Event& event) {
  Result<Query> query = db.Prepare(kFanOutConfigs);
  if (!query.ok()) return query.error();
  query->BindInt(1, event.organization_id).BindInt(2, event.event_type_id);
  return ReadAll<std::int64_t>(*query, [](const Query& row) { return row.Int(0); });
}

Status InsertDelivery(Connection& db, const Delivery& delivery) {
  Result<Query> insert = db.Prepare(kInsertDelivery);
  if (!insert.ok()) return insert.error();
  insert->BindText(1, delivery.id)
      .BindText(2, delivery.event_id)
      .BindInt(3, delivery.config_id)
      .BindInt(4, delivery.organization_id)
      .BindInt(5, delivery.next_attempt_at)
      .BindInt(6, delivery.created_at);
  return insert->Run();
}

Delivery NewPendingDelivery(const Event& event, std::int64_t config_id, UnixMillis now) {
  Delivery d;
  d.id = NewSortableId("dlv", now);
  d.event_id = event.id;
  d.config_id = config_id;
  d.organization_id = event.organization_id;
  d.status = DeliveryStatus::kPending;
  d.next_attempt_at = now;
  d.created_at = now;
  d.updated_at = now;
  return d;
}

}  // namespace

Result<IngestedEvent> IngestEvent(WriteContext& context, const NewEvent& in, UnixMillis now) {
  Connection& db = context.db();
  if (!in.idempotency_key.empty()) {
    Result<std::optional<Event>> earlier = FindIdempotent(db, in, now);
    if (!earlier.ok()) return earlier.error();
    if (*earlier) {
      Result<std::vector<Delivery>> deliveries = SelectDeliveriesOfEvent(db, (*earlier)->id);
      if (!deliveries.ok()) return deliveries.error();
      return IngestedEvent{std::move(**earlier), std::move(*deliveries), /*replayed=*/true};
    }
  }
  IngestedEvent result;
  result.event =
      Event{in.id, in.organization_id, in.event_type_id, in.payload_json, in.idempotency_key, now};
  if (Status s = InsertEvent(db, result.event); !s.ok()) return s.error();
  Result<std::vector<std::int64_t>> config_ids = FanOut(db, result.event);
  if (!config_ids.ok()) return config_ids.error();
  for (std::int64_t config_id : *config_ids) {
    Delivery delivery = NewPendingDelivery(result.event, config_id, now);
    if (Status s = InsertDelivery(db, delivery); !s.ok()) return s.error();
    result.deliveries.push_back(std::move(delivery));
  }
  if (!result.deliveries.empty()) context.MarkWorkDue();
  return result;
}

Result<Event> GetEvent(Connection& db, const std::string& id, OrgScope scope) {
  Result<Query> query = db.Prepare(kGetEvent);
  if (!query.ok()) return query.error();
  query->BindText(1, id).BindOptionalInt(2, scope);
  Result<std::optional<Event>> row = ReadFirst<Event>(*query, ReadEventRow);
  if (!row.ok()) return row.error();
  if (!*row) return Error::NotFound("event " + id + " not found");
  return std::move(**row);
}

Result<std::vector<Delivery>> DeliveriesOfEvent(Connection& db, const std::string& event_id,
                                                OrgScope scope) {
  if (Result<Event> event = GetEvent(db, event_id, scope); !event.ok()) return event.error();
  return SelectDeliveriesOfEvent(db, event_id);
}

}  // namespace webhookd::sqlite::ops
