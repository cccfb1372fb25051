#include <string>

#include "core/ids.hpp"
#include "store/postgres/operations.hpp"
#include "store/postgres/page_util.hpp"
#include "store/postgres/rows.hpp"
#include "store/postgres/statements.hpp"

namespace webhookd::postgres::ops {
namespace {

Delivery ReadDeliveryRow(const Rows& rows, int row) { return ReadDelivery(rows, row); }

Result<std::vector<Delivery>> SelectDeliveriesOfEvent(Connection& db, const std::string& event_id) {
  Result<Rows> rows = db.Run(kDeliveriesOfEvent, Params().Text(event_id));
  if (!rows.ok()) return rows.error();
  return ReadAll<Delivery>(*rows, ReadDeliveryRow);
}

// The organization's event with this key from the last 24 hours, if any. Takes the key's
// advisory lock first, held until commit, so that concurrent ingestions of one key (on any
// node) see each other.
Result<std::optional<Event>> FindIdempotent(Connection& db, const NewEvent& event, UnixMillis now) {
  const std::string lock_key = std::to_string(event.organization_id) + ":" + event.idempotency_key;
  if (Result<Rows> lock = db.Run(kLockIdempotencyKey, Params().Text(lock_key)); !lock.ok()) {
    return lock.error();
  }
  Result<Rows> rows = db.Run(kFindIdempotentEvent, Params()
                                                       .Int(event.organization_id)
                                                       .Text(event.idempotency_key)
                                                       .Int(now - kIdempotencyWindowMs));
  if (!rows.ok()) return rows.error();
  if (rows->size() == 0) return std::optional<Event>();
  return std::optional<Event>(ReadEvent(*rows, 0));
}

Status InsertEvent(Connection& db, const Event& event) {
  Result<Rows> inserted = db.Run(kInsertEvent, Params()
                                                   .Text(event.id)
                                                   .Int(event.organization_id)
                                                   .Int(event.event_type_id)
                                                   .Text(event.payload_json)
                                                   .Text(event.idempotency_key)
                                                   .Int(event.created_at));
  if (!inserted.ok()) {
    if (inserted.error().kind == ErrorKind::kConflict) {
      return Error::Conflict("event " + event.id + " already exists");
    }
    return inserted.error();
  }
  return Status::Ok();
}

// Ids of the active, non-deleted configurations the event goes to.
Result<std::vector<std::int64_t>> FanOut(Connection& db, const Event& event) {
  Result<Rows> rows =
      db.Run(kFanOutConfigs, Params().Int(event.organization_id).Int(event.event_type_id));
  if (!rows.ok()) return rows.error();
  return ReadAll<std::int64_t>(*rows, [](const Rows& r, int row) { return r.Int(row, 0); });
}

// One multi-row INSERT for all of the event's deliveries.
Status InsertDeliveries(Connection& db, const Event& event, const std::vector<Delivery>& deliveries,
                        UnixMillis now) {
  std::vector<std::string> ids, config_ids;
  for (const Delivery& d : deliveries) {
    ids.push_back(d.id);
    config_ids.push_back(std::to_string(d.config_id));
  }
  Result<Rows> inserted = db.Run(kInsertDeliveries, Params()
                                                        .Text(ArrayLiteral(ids))
                                                        .Text(ArrayLiteral(config_ids))
                                                        .Text(event.id)
                                                        .Int(event.organization_id)
                                                        .Int(now));
  if (!inserted.ok()) return inserted.error();
  return Status::Ok();
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
  if (config_ids->empty()) return result;
  for (std::int64_t config_id : *config_ids) {
    result.deliveries.push_back(NewPendingDelivery(result.event, config_id, now));
  }
  if (Status s = InsertDeliveries(db, result.event, result.deliveries, now); !s.ok()) {
    return s.error();
  }
  context.MarkWorkDue();
  return result;
}

Result<Event> GetEvent(Connection& db, const std::string& id, OrgScope scope) {
  Result<Rows> rows = db.Run(kGetEvent, Params().Text(id).OptInt(scope));
  if (!rows.ok()) return rows.error();
  if (rows->size() == 0) return Error::NotFound("event " + id + " not found");
  return ReadEvent(*rows, 0);
}

Result<std::vector<Delivery>> DeliveriesOfEvent(Connection& db, const std::string& event_id,
                                                OrgScope scope) {
  if (Result<Event> event = GetEvent(db, event_id, scope); !event.ok()) return event.error();
  return SelectDeliveriesOfEvent(db, event_id);
}

}  // namespace webhookd::postgres::ops
