#include "store/common/ingest.hpp"

#include "core/ids.hpp"
#include "store/common/store_rules.hpp"

namespace webhookd::store_common {
namespace {

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

Result<std::optional<IngestedEvent>> Replay(IngestSteps& steps, const NewEvent& in,
                                            UnixMillis now) {
  Result<std::optional<Event>> earlier = steps.FindIdempotent(in, now - kIdempotencyWindowMs);
  if (!earlier.ok()) return earlier.error();
  if (!*earlier) return std::optional<IngestedEvent>();
  Result<std::vector<Delivery>> deliveries = steps.DeliveriesOf((*earlier)->id);
  if (!deliveries.ok()) return deliveries.error();
  return std::optional<IngestedEvent>(
      IngestedEvent{std::move(**earlier), std::move(*deliveries), /*replayed=*/true});
}

}  // namespace

Result<IngestedEvent> IngestEvent(IngestSteps& steps, const NewEvent& in, UnixMillis now) {
  if (!in.idempotency_key.empty()) {
    Result<std::optional<IngestedEvent>> replayed = Replay(steps, in, now);
    if (!replayed.ok()) return replayed.error();
    if (*replayed) return std::move(**replayed);
  }
  IngestedEvent result;
  result.event =
      Event{in.id, in.organization_id, in.event_type_id, in.payload_json, in.idempotency_key, now};
  if (Status s = steps.InsertEvent(result.event); !s.ok()) {
    if (s.error().kind == ErrorKind::kConflict) {
      return Error::Conflict("event " + result.event.id + " already exists");
    }
    return s.error();
  }
  Result<std::vector<std::int64_t>> config_ids = steps.FanOut(result.event);
  if (!config_ids.ok()) return config_ids.error();
  for (std::int64_t config_id : *config_ids) {
    result.deliveries.push_back(NewPendingDelivery(result.event, config_id, now));
  }
  if (!result.deliveries.empty()) {
    if (Status s = steps.InsertDeliveries(result.deliveries); !s.ok()) return s.error();
  }
  return result;
}

}  // namespace webhookd::store_common
