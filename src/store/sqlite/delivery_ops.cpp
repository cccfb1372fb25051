#include <fmt/ranges.h>

#include <array>
#include <iterator>
#include <set>
#include <string>

#include "core/delivery_status.hpp"
#include "store/common/page.hpp"
#include "store/common/store_rules.hpp"
#include "store/sqlite/operations.hpp"
#include "store/sqlite/query_util.hpp"
#include "store/sqlite/rows.hpp"
#include "store/sqlite/statements.hpp"

namespace webhookd::sqlite {
namespace {

using store_common::DeliveryNotFound;

// The listing variant whose index fits the filter best.
std::string_view ListStatementFor(const DeliveryFilter& filter) {
  static constexpr std::array<std::string_view, store_common::kDeliveryListings> kByListing = {
      kListDeliveriesOfEvent,      kListDeliveriesOfConfig, kListDeliveries,
      kListOpenDeliveriesOfConfig, kListOpenDeliveries,     kListFailedDeliveriesOfConfig,
      kListFailedDeliveries};
  return kByListing[static_cast<std::size_t>(store_common::ListingFor(filter))];
}

// Fails a deleted or inactive configuration's due line (and its FIFO deliveries waiting for
// their turn) at once: one by one, each claim failed only what it met, and a FIFO line failed
// one delivery per claim.
Status FailUndeliverableLine(Connection& db, std::int64_t config_id, const std::string& reason,
                             UnixMillis due_by, UnixMillis now) {
  Result<Query> update = db.Prepare(kFailUndeliverableLine);
  if (!update.ok()) return update.error();
  update->BindInt(1, config_id).BindText(2, reason).BindInt(3, due_by).BindInt(4, now);
  return update->Run();
}

// After a FIFO configuration's turn ended: its next delivery, if it waits, is due now. Work is
// due either way: an older delivery retried by hand meanwhile may be next, not waiting.
Status StartNextTurn(WriteContext& context, std::int64_t config_id, UnixMillis now) {
  Result<Query> update = context.db().Prepare(kStartNextTurn);
  if (!update.ok()) return update.error();
  update->BindInt(1, config_id).BindInt(2, now);
  if (Status s = update->Run(); !s.ok()) return s;
  context.MarkWorkDue();
  return Status::Ok();
}

// The same, handing the next delivery to the dispatcher, leased, when it takes it: no claim
// (and no commit of its own) then stands between the two turns.
Status StartOrHandOffNextTurn(WriteContext& context, std::int64_t config_id, UnixMillis now,
                              store_common::NextTurns& turns) {
  if (turns.handoff == nullptr) return StartNextTurn(context, config_id, now);
  Connection& db = context.db();
  Result<Query> query = db.Prepare(kSelectNextTurn);
  if (!query.ok()) return query.error();
  query->BindInt(1, config_id);
  Result<std::vector<DeliveryJob>> next = ReadAll<DeliveryJob>(*query, ReadDueRow);
  if (!next.ok()) return next.error();
  if (next->empty()) {
    context.MarkWorkDue();  // nothing waits; an older delivery retried by hand may be next
    return Status::Ok();
  }
  DeliveryJob& job = next->front();
  const std::optional<UnixMillis> lease = turns.LeaseFor(job, now);
  if (!lease) return StartNextTurn(context, config_id, now);
  Result<Query> update = db.Prepare(kLeaseNextTurn);
  if (!update.ok()) return update.error();
  update->BindTextView(1, job.delivery.id).BindInt(2, *lease).BindInt(3, now);
  if (Status s = update->Run(); !s.ok()) return s;
  turns.Add(std::move(job), *lease, now);
  return Status::Ok();
}

Status Lease(Connection& db, const std::string& id, UnixMillis lease_until, UnixMillis now) {
  Result<Query> update = db.Prepare(kLeaseDelivery);
  if (!update.ok()) return update.error();
  update->BindText(1, id).BindInt(2, lease_until).BindInt(3, now);
  return update->Run();
}

Status UpdateDeliveryAfterAttempt(Connection& db, const AttemptOutcome& outcome, UnixMillis now) {
  Result<Query> update = db.Prepare(kRecordDeliveryOutcome);
  if (!update.ok()) return update.error();
  update->BindTextView(1, outcome.attempt.delivery_id)
      .BindTextView(2, DeliveryStatusName(outcome.new_status))
      .BindInt(3, outcome.attempt.status_code)
      .BindTextView(4, outcome.attempt.error)
      .BindInt(5, outcome.next_attempt_at)
      .BindInt(6, now);
  Result<std::int64_t> changed = RunChanges(db, *update);
  if (!changed.ok()) return changed.error();
  if (*changed == 0) return DeliveryNotFound(outcome.attempt.delivery_id);
  return Status::Ok();
}

Status InsertAttempt(Connection& db, const Attempt& a) {
  Result<Query> insert = db.Prepare(kInsertAttempt);
  if (!insert.ok()) return insert.error();
  insert->BindTextView(1, a.delivery_id)
      .BindInt(2, a.attempted_at)
      .BindInt(3, a.duration_ms)
      .BindTextView(4, a.request_headers_json)
      .BindInt(5, a.status_code)
      .BindTextView(6, a.response_headers_json)
      .BindBlobView(7, a.response_body)
      .BindTextView(8, a.error)
      .BindInt(9, a.manual ? 1 : 0);
  return insert->Run();
}

Status ApplyConfigEffect(Connection& db, const AttemptOutcome& outcome, UnixMillis now) {
  std::string_view sql;
  switch (outcome.config_effect) {
    case ConfigEffect::kNone:
      return Status::Ok();
    case ConfigEffect::kHealthy:
      sql = kMarkConfigHealthy;
      break;
    case ConfigEffect::kFailing:
      sql = kMarkConfigFailing;
      break;
    case ConfigEffect::kDisable:
      sql = kDisableConfig;
      break;
  }
  Result<Query> update = db.Prepare(sql);
  if (!update.ok()) return update.error();
  update->BindInt(1, outcome.config_id);
  if (outcome.config_effect == ConfigEffect::kFailing) {
    update->BindInt(2, outcome.attempt.attempted_at);
  } else if (outcome.config_effect == ConfigEffect::kDisable) {
    update->BindText(2, outcome.disable_reason).BindInt(3, now);
  }
  return update->Run();
}

// The rows (status, count) of `sql`, added up by status.
Result<DeliveryCounts> CountByStatus(Connection& db, std::string_view sql) {
  Result<Query> query = db.Prepare(sql);
  if (!query.ok()) return query.error();
  DeliveryCounts counts;
  while (true) {
    Result<bool> row = query->Step();
    if (!row.ok()) return row.error();
    if (!*row) return counts;
    store_common::AddDeliveryCount(counts, query->Text(0), query->Int(1));
  }
}

}  // namespace

Result<Delivery> Operations::GetDelivery(Connection& db, const std::string& id, OrgScope scope) {
  Result<Query> query = db.Prepare(kGetDelivery);
  if (!query.ok()) return query.error();
  query->BindText(1, id).BindOptionalInt(2, scope);
  Result<std::optional<Delivery>> row = ReadFirst<Delivery>(*query, ReadDeliveryRow);
  if (!row.ok()) return row.error();
  if (!*row) return DeliveryNotFound(id);
  return std::move(**row);
}

Result<Page<Delivery>> Operations::ListDeliveries(Connection& db, const DeliveryFilter& filter,
                                                  OrgScope scope) {
  const int page_size = store_common::ClampPageSize(filter.limit);
  Result<Query> query = db.Prepare(ListStatementFor(filter));
  if (!query.ok()) return query.error();
  const store_common::DeliveryIdRange range = store_common::IdRangeOf(filter);
  query->BindText(1, range.after)
      .BindOptionalInt(2, scope)
      .BindOptionalText(3, filter.event_id)
      .BindOptionalInt(4, filter.config_id);
  if (filter.status) {
    query->BindText(5, DeliveryStatusName(*filter.status));
  } else {
    query->BindNull(5);
  }
  query->BindOptionalInt(6, filter.since)
      .BindInt(7, page_size + 1)
      .BindText(8, range.before)
      .BindOptionalInt(9, filter.until)
      .BindOptionalInt(10, filter.event_type_id);
  Result<std::vector<Delivery>> rows = ReadAll<Delivery>(*query, ReadDeliveryRow);
  if (!rows.ok()) return rows.error();
  return store_common::MakePage(std::move(*rows), page_size,
                                [](const Delivery& d) { return d.id; });
}

Result<std::vector<Attempt>> Operations::AttemptsOf(Connection& db,
                                                    const std::string& delivery_id) {
  Result<Query> query = db.Prepare(kListAttempts);
  if (!query.ok()) return query.error();
  query->BindText(1, delivery_id);
  return ReadAll<Attempt>(*query, ReadAttemptRow);
}

Result<std::vector<DeliveryJob>> Operations::ClaimDue(
    Connection& db, UnixMillis due_by, int limit, UnixMillis lease_until,
    const std::vector<std::int64_t>& skip_config_ids, UnixMillis now) {
  std::vector<DeliveryJob> claimed;
  store_common::ClaimRateBudget rate_budget;
  const std::string skipped = fmt::format("[{}]", fmt::join(skip_config_ids, ","));
  // After failing a line the claim selects again, so that a claim short of `limit` still means
  // that nothing more can go now.
  for (bool failed_a_line = true; failed_a_line && std::ssize(claimed) < limit;) {
    failed_a_line = false;
    Result<Query> query =
        db.Prepare(skip_config_ids.empty() ? kSelectDue : kSelectDueSkippingConfigs);
    if (!query.ok()) return query.error();
    query->BindInt(1, due_by).BindInt(2, limit - std::ssize(claimed)).BindText(3, skipped);
    Result<std::vector<DeliveryJob>> due = ReadAll<DeliveryJob>(*query, ReadDueRow);
    if (!due.ok()) return due.error();
    rate_budget.KeepWhatTheRateCanSend(*due);
    std::set<std::int64_t> failed_configs;
    for (DeliveryJob& job : *due) {
      if (failed_configs.contains(job.config.id)) continue;
      if (std::string reason = store_common::UndeliverableReason(job.config); !reason.empty()) {
        Status failed = FailUndeliverableLine(db, job.config.id, reason, due_by, now);
        if (!failed.ok()) return failed.error();
        failed_configs.insert(job.config.id);
        failed_a_line = true;
        continue;
      }
      if (Status s = Lease(db, job.delivery.id, lease_until, now); !s.ok()) return s.error();
      job.delivery.status = DeliveryStatus::kDelivering;
      job.delivery.updated_at = now;
      claimed.push_back(std::move(job));
    }
  }
  return claimed;
}

Result<std::optional<UnixMillis>> Operations::NextDueAt(Connection& db) {
  Result<Query> query = db.Prepare(kNextDueAt);
  if (!query.ok()) return query.error();
  Result<bool> row = query->Step();
  if (!row.ok()) return row.error();
  if (!*row || query->IsNull(0)) return std::optional<UnixMillis>();
  return std::optional<UnixMillis>(query->Int(0));
}

Result<std::int64_t> Operations::EndWaitingForTurns(Connection& db, std::int64_t config_id,
                                                    UnixMillis now) {
  Result<Query> update = db.Prepare(kEndWaitingForTurns);
  if (!update.ok()) return update.error();
  update->BindInt(1, config_id).BindInt(2, now);
  return RunChanges(db, *update);
}

Result<std::int64_t> Operations::ReleaseExpiredLeases(WriteContext& context,
                                                      UnixMillis lease_cutoff, UnixMillis now) {
  Result<Query> update = context.db().Prepare(kReleaseExpiredLeases);
  if (!update.ok()) return update.error();
  update->BindInt(1, lease_cutoff).BindInt(2, now);
  Result<std::int64_t> released = RunChanges(context.db(), *update);
  if (!released.ok()) return released;
  Result<Query> start = context.db().Prepare(kStartStrandedTurns);
  if (!start.ok()) return start.error();
  start->BindInt(1, now);
  Result<std::int64_t> started = RunChanges(context.db(), *start);
  if (!started.ok()) return started;
  if (*released > 0 || *started > 0) context.MarkWorkDue();
  return released;
}

Status Operations::RecordAttempts(WriteContext& context,
                                  const std::vector<AttemptOutcome>& outcomes, UnixMillis now,
                                  store_common::NextTurns& turns, const FanOutMemo* fan_outs) {
  Connection& db = context.db();
  for (const AttemptOutcome& outcome : outcomes) {
    if (Status s = UpdateDeliveryAfterAttempt(db, outcome, now); !s.ok()) return s;
    if (Status s = InsertAttempt(db, outcome.attempt); !s.ok()) return s;
    if (outcome.ends_fifo_turn) {
      Status s = StartOrHandOffNextTurn(context, outcome.config_id, now, turns);
      if (!s.ok()) return s;
    }
    const bool changes_nothing = outcome.config_effect == ConfigEffect::kHealthy &&
                                 fan_outs != nullptr && fan_outs->KnowsHealthy(outcome.config_id);
    if (!changes_nothing) {
      if (Status s = ApplyConfigEffect(db, outcome, now); !s.ok()) return s;
    }
    if (outcome.new_status == DeliveryStatus::kPending) context.MarkWorkDue();
  }
  return Status::Ok();
}

Result<bool> Operations::RequeueForRetry(Connection& db, const std::string& id, UnixMillis now) {
  Result<Query> update = db.Prepare(kRetryDelivery);
  if (!update.ok()) return update.error();
  update->BindText(1, id).BindInt(2, now);
  Result<std::int64_t> changed = RunChanges(db, *update);
  if (!changed.ok()) return changed.error();
  return *changed > 0;
}

Result<bool> Operations::ConfigInScope(Connection& db, std::int64_t config_id, OrgScope scope) {
  Result<Query> exists = db.Prepare(kConfigInScope);
  if (!exists.ok()) return exists.error();
  exists->BindInt(1, config_id).BindOptionalInt(2, scope);
  return exists->Step();
}

Result<std::int64_t> Operations::RequeueFailed(Connection& db, std::int64_t config_id,
                                               UnixMillis since, UnixMillis now) {
  Result<Query> update = db.Prepare(kRecoverConfig);
  if (!update.ok()) return update.error();
  update->BindInt(1, config_id).BindInt(2, since).BindInt(3, now);
  return RunChanges(db, *update);
}

Result<DeliveryCounts> Operations::CountDeliveries(Connection& db) {
  return CountByStatus(db, kCountDeliveries);
}

Result<DeliveryBacklog> Operations::CountBacklog(Connection& db) {
  Result<DeliveryCounts> counts = CountByStatus(db, kCountBacklog);
  if (!counts.ok()) return counts.error();
  return store_common::BacklogOf(*counts);
}

}  // namespace webhookd::sqlite
