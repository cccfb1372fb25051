#include <cstddef>
#include <string>

#include "core/delivery_status.hpp"
#include "store/common/ingest.hpp"
#include "store/sqlite/operations.hpp"
#include "store/sqlite/query_util.hpp"
#include "store/sqlite/retention_selection.hpp"
#include "store/sqlite/rows.hpp"
#include "store/sqlite/statements.hpp"

namespace webhookd::sqlite {
namespace {

// One statement per row: SQLite runs them in-process, so a multi-row INSERT would save little.
// The writer thread is the only writer, so an idempotency key needs no lock.
class SqliteIngestSteps final : public store_common::IngestSteps {
 public:
  SqliteIngestSteps(Connection& db, FanOutMemo& fan_outs) : db_(db), fan_outs_(fan_outs) {}

  Result<std::optional<Event>> FindIdempotent(const NewEvent& event, UnixMillis since) override {
    Result<Query> query = db_.Prepare(kFindIdempotentEvent);
    if (!query.ok()) return query.error();
    query->BindInt(1, event.organization_id).BindText(2, event.idempotency_key).BindInt(3, since);
    return ReadFirst<Event>(*query, ReadEventRow);
  }

  Result<std::vector<Delivery>> DeliveriesOf(const std::string& event_id) override {
    return Operations::DeliveriesOf(db_, event_id);
  }

  // FanOut's configurations are what the database holds in this transaction (FanOutMemo forgets
  // them whenever that may no longer be so): they cannot have changed.
  Result<bool> InsertEvent(const Event& event, const std::vector<Delivery>& deliveries,
                           const std::vector<bool>& fifo, UnixMillis lease_until) override {
    if (Status s = InsertEventRow(event); !s.ok()) return s.error();
    if (Status s = InsertDeliveries(deliveries, fifo, lease_until); !s.ok()) return s.error();
    return true;
  }

  Result<std::vector<WebhookConfig>> FanOut(const Event& event) override {
    if (const auto* remembered = fan_outs_.Find(event.organization_id, event.event_type_id)) {
      return *remembered;
    }
    Result<Query> query = db_.Prepare(kFanOutConfigs);
    if (!query.ok()) return query.error();
    query->BindInt(1, event.organization_id).BindInt(2, event.event_type_id);
    Result<std::vector<WebhookConfig>> configs = ReadAll<WebhookConfig>(*query, ReadConfigRow);
    if (configs.ok()) fan_outs_.Remember(event.organization_id, event.event_type_id, *configs);
    return configs;
  }

 private:
  Status InsertEventRow(const Event& event) {
    Result<Query> insert = db_.Prepare(kInsertEvent);
    if (!insert.ok()) return insert.error();
    insert->BindTextView(1, event.id)
        .BindInt(2, event.organization_id)
        .BindInt(3, event.event_type_id)
        .BindBlobView(4, event.payload_json)  // sealed as bytes (SqliteSealedRows::FormOf)
        .BindTextView(5, event.idempotency_key)
        .BindInt(6, event.created_at)
        .BindInt(7, event.event_type_version);
    return insert->Run();
  }

  Status InsertDeliveries(const std::vector<Delivery>& deliveries, const std::vector<bool>& fifo,
                          UnixMillis lease_until) {
    for (std::size_t i = 0; i < deliveries.size(); ++i) {
      const Delivery& delivery = deliveries[i];
      const bool may_wait =
          store_common::IsFifo(fifo, i) && delivery.status == DeliveryStatus::kPending;
      Result<Query> insert = db_.Prepare(may_wait ? kInsertFifoDelivery : kInsertDelivery);
      if (!insert.ok()) return insert.error();
      insert->BindTextView(1, delivery.id)
          .BindTextView(2, delivery.event_id)
          .BindInt(3, delivery.config_id)
          .BindInt(4, delivery.organization_id)
          .BindInt(5, delivery.next_attempt_at)
          .BindInt(6, delivery.created_at)
          .BindTextView(7, DeliveryStatusName(delivery.status))
          .BindInt(8, delivery.status == DeliveryStatus::kDelivering ? lease_until : 0);
      if (Status s = insert->Run(); !s.ok()) return s;
    }
    return Status::Ok();
  }

  Connection& db_;
  FanOutMemo& fan_outs_;
};

// Runs one of the purge statements, which all select the same events: within the writer's
// transaction nobody else changes them between the statements.
Result<std::int64_t> RunPurgeStep(Connection& db, std::string_view sql, UnixMillis cutoff,
                                  std::int64_t last_rowid, int max_events, RetentionScope scope) {
  Result<Query> query = db.Prepare(sql);
  if (!query.ok()) return query.error();
  BindRetentionSelection(*query, cutoff, last_rowid, max_events, scope);
  return RunChanges(db, *query);
}

}  // namespace

Result<IngestedEvent> Operations::IngestEvent(WriteContext& context, const NewEvent& in,
                                              DeliveryHandoff* handoff,
                                              store_common::DeliveryBudget& budget, UnixMillis now,
                                              FanOutMemo& fan_outs) {
  SqliteIngestSteps steps(context.db(), fan_outs);
  Result<IngestedEvent> result = store_common::IngestEvent(steps, in, now, handoff, budget);
  if (result.ok() && store_common::LeftWorkDue(*result)) context.MarkWorkDue();
  return result;
}

Result<Event> Operations::GetEvent(Connection& db, const std::string& id, OrgScope scope) {
  Result<Query> query = db.Prepare(kGetEvent);
  if (!query.ok()) return query.error();
  query->BindText(1, id).BindOptionalInt(2, scope);
  Result<std::optional<Event>> row = ReadFirst<Event>(*query, ReadEventRow);
  if (!row.ok()) return row.error();
  if (!*row) return Error::NotFound("event " + id + " not found");
  return std::move(**row);
}

Result<std::vector<Delivery>> Operations::DeliveriesOf(Connection& db,
                                                       const std::string& event_id) {
  Result<Query> query = db.Prepare(kDeliveriesOfEvent);
  if (!query.ok()) return query.error();
  query->BindText(1, event_id);
  return ReadAll<Delivery>(*query, ReadDeliveryRow);
}

Result<std::int64_t> Operations::PurgeBefore(Connection& db, UnixMillis cutoff, int max_events,
                                             RetentionScope scope) {
  Result<std::int64_t> last_rowid = LastEventCreatedBefore(db, cutoff);
  if (!last_rowid.ok()) return last_rowid.error();
  for (std::string_view children : {kPurgeAttempts, kPurgeDeliveries}) {
    Result<std::int64_t> s = RunPurgeStep(db, children, cutoff, *last_rowid, max_events, scope);
    if (!s.ok()) return s.error();
  }
  return RunPurgeStep(db, kPurgeEvents, cutoff, *last_rowid, max_events, scope);
}

}  // namespace webhookd::sqlite
