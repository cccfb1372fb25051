#include <memory>
#include <optional>
#include <set>
#include <string>

#include "core/delivery_status.hpp"
#include "store/common/ingest.hpp"
#include "store/postgres/event_batch.hpp"
#include "store/postgres/operations.hpp"
#include "store/postgres/rows.hpp"
#include "store/postgres/statements.hpp"

namespace webhookd::postgres {
namespace {

// An event and all its deliveries go in one statement, and the configurations usually come
// from memory (FanOutCache): each statement is a round trip.
class PostgresIngestSteps final : public store_common::IngestSteps {
 public:
  // Deliveries taken by a DeliveryHandoff are leased in `node_id`'s name, as its claims are.
  PostgresIngestSteps(Connection& db, const std::string& node_id, FanOutCache& fan_outs)
      : db_(db), node_id_(node_id), fan_outs_(fan_outs) {}

  // Takes the key's advisory lock first, held until commit, so that concurrent ingestions of
  // one key (on any node) see each other.
  Result<std::optional<Event>> FindIdempotent(const NewEvent& event, UnixMillis since) override {
    const std::string lock_key =
        std::to_string(event.organization_id) + ":" + event.idempotency_key;
    if (Status s = db_.Write(kLockIdempotencyKey, Params().Text(lock_key)); !s.ok()) {
      return s.error();
    }
    Result<Rows> rows =
        db_.Run(kFindIdempotentEvent,
                Params().Int(event.organization_id).Text(event.idempotency_key).Int(since));
    if (!rows.ok()) return rows.error();
    if (rows->size() == 0) return std::optional<Event>();
    return std::optional<Event>(ReadEventRow(*rows, 0));
  }

  Result<std::vector<Delivery>> DeliveriesOf(const std::string& event_id) override {
    return Operations::DeliveriesOf(db_, event_id);
  }

  // From memory, to be checked by InsertEvent; otherwise read (and remembered), and then the
  // INSERT needs no check: it follows in the same transaction, as it always did.
  Result<std::vector<WebhookConfig>> FanOut(const Event& event) override {
    if (std::shared_ptr<const FanOutCache::Entry> cached =
            fan_outs_.Find(event.organization_id, event.event_type_id)) {
      read_at_version_ = cached->version;
      return cached->configs;
    }
    read_at_version_.reset();
    Result<Rows> rows =
        db_.Run(kFanOutConfigs, Params().Int(event.organization_id).Int(event.event_type_id));
    if (!rows.ok()) return rows.error();
    auto entry = std::make_shared<FanOutCache::Entry>();
    constexpr int kVersionColumn = store_common::kConfigColumnCount;
    for (int row = 0; row < rows->size(); ++row) {
      entry->version = rows->Int(row, kVersionColumn);
      if (!rows->IsNull(row, 0)) entry->configs.push_back(ReadConfigRow(*rows, row));
    }
    std::vector<WebhookConfig> configs = entry->configs;
    fan_outs_.Put(event.organization_id, event.event_type_id, std::move(entry));
    return configs;
  }

  // Held for the batch's one statement when the writer holds writes (the fan-out version is
  // then checked when it is sent); otherwise one statement now.
  Result<bool> InsertEvent(const Event& event, const std::vector<Delivery>& deliveries,
                           const std::vector<bool>& fifo, UnixMillis lease_until) override {
    if (auto* batch = dynamic_cast<EventBatch*>(db_.held_writes())) {
      if (batch->full()) {
        if (Status s = batch->Send(db_); !s.ok()) return s.error();
      }
      batch->Add(event, deliveries, fifo, lease_until, read_at_version_);
      return true;
    }
    // Alone: the same statements, for one event.
    EventBatch one(node_id_);
    one.Add(event, deliveries, fifo, lease_until, read_at_version_);
    Result<bool> inserted = one.Insert(db_);
    if (!inserted.ok()) return inserted.error();
    if (*inserted) return true;
    fan_outs_.Forget(event.organization_id, event.event_type_id);
    return false;
  }

 private:
  Connection& db_;
  const std::string& node_id_;
  FanOutCache& fan_outs_;
  // The fan-out's version when the configurations came from memory.
  std::optional<std::int64_t> read_at_version_;
};

// Old events of `scope` that look finished, locked (an event another node is purging or erasing
// is skipped), chosen by `select` (kSelectPurgeableEvents or kSelectErasableEvents).
Result<std::vector<std::string>> SelectRetentionCandidates(Connection& db, const Statement& select,
                                                           UnixMillis cutoff, int max_events,
                                                           RetentionScope scope) {
  Result<Rows> rows = db.Run(select, Params().Int(cutoff).Int(max_events).OptInt(scope));
  if (!rows.ok()) return rows.error();
  return ReadAll<std::string>(*rows, [](const Rows& r, int row) { return r.Text(row, 0); });
}

// Locks every delivery of `candidates` and drops the events of which one is still to be sent:
// a manual retry may have made one pending since the candidates were chosen, and from here on
// none can until this transaction ends.
Result<std::vector<std::string>> KeepOnlyFinished(Connection& db,
                                                  std::vector<std::string> candidates) {
  Result<Rows> rows = db.Run(kLockDeliveriesOfEvents, Params().TextArray(candidates));
  if (!rows.ok()) return rows.error();
  std::set<std::string> unfinished;
  for (int row = 0; row < rows->size(); ++row) {
    const std::string status = rows->Text(row, 1);
    if (status == "pending" || status == "delivering") unfinished.insert(rows->Text(row, 0));
  }
  std::erase_if(candidates, [&](const std::string& id) { return unfinished.contains(id); });
  return candidates;
}

// The events `select` chooses that have no delivery still to be sent, locked.
Result<std::vector<std::string>> FinishedRetentionCandidates(Connection& db,
                                                             const Statement& select,
                                                             UnixMillis cutoff, int max_events,
                                                             RetentionScope scope) {
  Result<std::vector<std::string>> candidates =
      SelectRetentionCandidates(db, select, cutoff, max_events, scope);
  if (!candidates.ok()) return candidates.error();
  if (candidates->empty()) return candidates;
  return KeepOnlyFinished(db, std::move(*candidates));
}

}  // namespace

Result<IngestedEvent> Operations::IngestEvent(WriteContext& context, const NewEvent& in,
                                              DeliveryHandoff* handoff,
                                              store_common::DeliveryBudget& budget,
                                              const std::string& node_id, FanOutCache& fan_outs,
                                              UnixMillis now) {
  PostgresIngestSteps steps(context.db(), node_id, fan_outs);
  Result<IngestedEvent> result = store_common::IngestEvent(steps, in, now, handoff, budget);
  if (result.ok() && store_common::LeftWorkDue(*result)) context.MarkWorkDue();
  return result;
}

Result<Event> Operations::GetEvent(Connection& db, const std::string& id, OrgScope scope) {
  Result<Rows> rows = db.Run(kGetEvent, Params().Text(id).OptInt(scope));
  if (!rows.ok()) return rows.error();
  if (rows->size() == 0) return Error::NotFound("event " + id + " not found");
  return ReadEventRow(*rows, 0);
}

Result<std::vector<Delivery>> Operations::DeliveriesOf(Connection& db,
                                                       const std::string& event_id) {
  Result<Rows> rows = db.Run(kDeliveriesOfEvent, Params().Text(event_id));
  if (!rows.ok()) return rows.error();
  return ReadAll<Delivery>(*rows, ReadDeliveryRow);
}

Result<std::int64_t> Operations::ErasePayloadsBefore(Connection& db, UnixMillis cutoff,
                                                     int max_events, RetentionScope scope,
                                                     UnixMillis now) {
  Result<std::vector<std::string>> erasable =
      FinishedRetentionCandidates(db, kSelectErasableEvents, cutoff, max_events, scope);
  if (!erasable.ok()) return erasable.error();
  if (erasable->empty()) return std::int64_t{0};
  if (Status s = db.Write(kEraseAttemptData, Params().TextArray(*erasable)); !s.ok()) {
    return s.error();
  }
  Result<Rows> events = db.Run(kErasePayloads, Params().TextArray(*erasable).Int(now));
  if (!events.ok()) return events.error();
  return events->Affected();
}

Result<std::int64_t> Operations::PurgeBefore(Connection& db, UnixMillis cutoff, int max_events,
                                             RetentionScope scope) {
  Result<std::vector<std::string>> purged =
      FinishedRetentionCandidates(db, kSelectPurgeableEvents, cutoff, max_events, scope);
  if (!purged.ok()) return purged.error();
  if (purged->empty()) return std::int64_t{0};
  const Params ids = Params().TextArray(*purged);
  for (const Statement* children : {&kPurgeAttempts, &kPurgeDeliveries}) {
    if (Status s = db.Write(*children, ids); !s.ok()) return s.error();
  }
  Result<Rows> events = db.Run(kPurgeEvents, ids);
  if (!events.ok()) return events.error();
  return events->Affected();
}

}  // namespace webhookd::postgres
