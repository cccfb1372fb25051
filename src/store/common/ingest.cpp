#include "store/common/ingest.hpp"

#include <algorithm>
#include <iterator>
#include <utility>

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
  IngestedEvent replayed;
  replayed.event = std::move(**earlier);
  replayed.deliveries = std::move(*deliveries);
  replayed.replayed = true;
  return std::optional<IngestedEvent>(std::move(replayed));
}

// The event as the dispatcher gets it: with the plain payload when the store keeps it sealed,
// built field by field so that the sealed payload is not copied only to be replaced.
Event HandedOffEvent(const Event& stored, const NewEvent& in) {
  if (in.handed_off_payload_json.empty()) return stored;
  return Event{.id = stored.id,
               .organization_id = stored.organization_id,
               .event_type_id = stored.event_type_id,
               .payload_json = in.handed_off_payload_json,
               .idempotency_key = stored.idempotency_key,
               .created_at = stored.created_at,
               .payload_erased_at = stored.payload_erased_at,
               .event_type_version = stored.event_type_version};
}

// `result`'s deliveries, one per configuration in `configs`: those `handoff` takes leased to it
// and listed in `handed_off`, the others pending. Answers, for each, whether its configuration
// is FIFO: empty (no allocation per event) when none is.
std::vector<bool> AddDeliveries(std::vector<WebhookConfig> configs, const NewEvent& in,
                                UnixMillis now, DeliveryHandoff* handoff, IngestedEvent& result) {
  std::vector<bool> fifo;
  for (std::size_t i = 0; i < configs.size(); ++i) {
    WebhookConfig& config = configs[i];
    if (config.ordering == DeliveryOrdering::kFifo) {
      fifo.resize(configs.size());
      fifo[i] = true;
    }
    Delivery delivery = NewPendingDelivery(result.event, config.id, now);
    std::optional<UnixMillis> lease =
        handoff != nullptr ? handoff->LeaseFor(config, now) : std::nullopt;
    if (lease) {
      delivery.status = DeliveryStatus::kDelivering;
      result.lease_until = *lease;
      result.handed_off.push_back(
          DeliveryJob{delivery, HandedOffEvent(result.event, in), std::move(config)});
    } else if (handoff != nullptr && handoff->HoldsBack(config)) {
      ++result.pending_held_back;
    }
    result.deliveries.push_back(std::move(delivery));
  }
  return fifo;
}

}  // namespace

Status DeliveryBudget::Spend(std::int64_t deliveries) {
  if (deliveries > limit_ - spent_) {
    return Error::LimitExceeded(
        "the request's events would create at least " + std::to_string(spent_ + deliveries) +
        " deliveries; one ingest request may create at most " + std::to_string(limit_));
  }
  spent_ += deliveries;
  return Status::Ok();
}

Result<IngestedEvent> IngestEvent(IngestSteps& steps, const NewEvent& in, UnixMillis now,
                                  DeliveryHandoff* handoff, DeliveryBudget& budget) {
  if (!in.idempotency_key.empty()) {
    Result<std::optional<IngestedEvent>> replayed = Replay(steps, in, now);
    if (!replayed.ok()) return replayed.error();
    if (*replayed) return std::move(**replayed);
  }
  // A second try follows a fan-out from a cache that was out of date; it reads the database.
  for (int attempt = 1; attempt <= 2; ++attempt) {
    IngestedEvent result;
    result.event = Event{.id = in.id,
                         .organization_id = in.organization_id,
                         .event_type_id = in.event_type_id,
                         .payload_json = in.payload_json,
                         .idempotency_key = in.idempotency_key,
                         .created_at = now,
                         .event_type_version = in.event_type_version};
    Result<std::vector<WebhookConfig>> configs = steps.FanOut(result.event);
    if (!configs.ok()) return configs.error();
    const auto spent = static_cast<std::int64_t>(configs->size());
    if (Status s = budget.Spend(spent); !s.ok()) return s.error();
    const std::vector<bool> fifo = AddDeliveries(std::move(*configs), in, now, handoff, result);
    Result<bool> inserted =
        steps.InsertEvent(result.event, result.deliveries, fifo, result.lease_until);
    if (!inserted.ok()) {
      if (inserted.error().kind == ErrorKind::kConflict) {
        return Error::Conflict("event " + result.event.id + " already exists");
      }
      return inserted.error();
    }
    if (*inserted) return result;
    budget.Refund(spent);
  }
  return Error::Internal("the fan-out read from the database was refused as out of date");
}

bool LeftWorkDue(const IngestedEvent& ingested) {
  if (ingested.replayed) return false;
  const auto pending =
      std::count_if(ingested.deliveries.begin(), ingested.deliveries.end(),
                    [](const Delivery& d) { return d.status == DeliveryStatus::kPending; });
  return pending > ingested.pending_held_back;
}

void HandedOffCollector::Add(const std::shared_ptr<DeliveryHandoff>& handoff,
                             std::vector<Result<IngestedEvent>> results,
                             const Store::IngestDone& done) {
  const bool handed_off =
      handoff != nullptr && std::any_of(results.begin(), results.end(), [](const auto& r) {
        return r.ok() && !r->handed_off.empty();
      });
  if (!handed_off) return done(std::move(results));
  std::lock_guard lock(mu_);
  if (handoff != handoff_ && !jobs_.empty()) {
    // Another handoff since the last flush: the old one gets its deliveries first.
    handoff_->Take(std::exchange(jobs_, {}), lease_until_);
  }
  handoff_ = handoff;
  for (Result<IngestedEvent>& result : results) {
    if (!result.ok() || result->handed_off.empty()) continue;
    lease_until_ =
        jobs_.empty() ? result->lease_until : std::min(lease_until_, result->lease_until);
    std::move(result->handed_off.begin(), result->handed_off.end(), std::back_inserter(jobs_));
    result->handed_off.clear();
  }
  answers_.push_back(Answer{done, std::move(results)});
}

void HandedOffCollector::Flush() {
  std::shared_ptr<DeliveryHandoff> handoff;
  std::vector<DeliveryJob> jobs;
  UnixMillis lease_until = 0;
  std::vector<Answer> answers;
  {
    std::lock_guard lock(mu_);
    if (answers_.empty()) return;
    handoff = handoff_;
    jobs.swap(jobs_);
    lease_until = lease_until_;
    answers.swap(answers_);
  }
  if (!jobs.empty()) handoff->Take(std::move(jobs), lease_until);
  for (Answer& answer : answers) answer.done(std::move(answer.results));
}

}  // namespace webhookd::store_common
