#include <fmt/ranges.h>

#include <array>
#include <map>
#include <set>
#include <string>

#include "core/delivery_status.hpp"
#include "store/common/page.hpp"
#include "store/common/store_rules.hpp"
#include "store/postgres/operations.hpp"
#include "store/postgres/rows.hpp"
#include "store/postgres/statements.hpp"

namespace webhookd::postgres {
namespace {

using store_common::DeliveryNotFound;

// The listing variant whose index fits the filter best.
const Statement& ListStatementFor(const DeliveryFilter& filter) {
  static constexpr std::array<const Statement*, store_common::kDeliveryListings> kByListing = {
      &kListDeliveriesOfEvent,      &kListDeliveriesOfConfig, &kListDeliveries,
      &kListOpenDeliveriesOfConfig, &kListOpenDeliveries,     &kListFailedDeliveriesOfConfig,
      &kListFailedDeliveries};
  return *kByListing[static_cast<std::size_t>(store_common::ListingFor(filter))];
}

// What one RecordAttempts call does to one configuration's health, with the effects of its
// outcomes applied in order: a success clears failing_since, a failure sets it if unset,
// a disable deactivates. Folded so that a batch touches each configuration at most three times.
struct NetConfigEffect {
  bool healthy = false;          // clear failing_since first
  UnixMillis failing_since = 0;  // then set it to this if unset (0: no failure since)
  std::optional<std::string> disable_reason;
};

std::map<std::int64_t, NetConfigEffect> FoldConfigEffects(
    const std::vector<AttemptOutcome>& outcomes) {
  std::map<std::int64_t, NetConfigEffect> effects;  // ordered by id: a stable lock order
  for (const AttemptOutcome& o : outcomes) {
    if (o.config_effect == ConfigEffect::kNone) continue;
    NetConfigEffect& net = effects[o.config_id];
    switch (o.config_effect) {
      case ConfigEffect::kNone:
        break;
      case ConfigEffect::kHealthy:
        net.healthy = true;
        net.failing_since = 0;
        break;
      case ConfigEffect::kFailing:
        if (net.failing_since == 0) net.failing_since = o.attempt.attempted_at;
        break;
      case ConfigEffect::kDisable:
        net.disable_reason = o.disable_reason;
        break;
    }
  }
  return effects;
}

Status ApplyConfigEffects(Connection& db, const std::vector<AttemptOutcome>& outcomes,
                          UnixMillis now) {
  for (const auto& [config_id, net] : FoldConfigEffects(outcomes)) {
    if (net.healthy) {
      if (Status s = db.Write(kMarkConfigHealthy, Params().Int(config_id)); !s.ok()) return s;
    }
    if (net.failing_since != 0) {
      Status s = db.Write(kMarkConfigFailing, Params().Int(config_id).Int(net.failing_since));
      if (!s.ok()) return s;
    }
    if (net.disable_reason) {
      Status s =
          db.Write(kDisableConfig, Params().Int(config_id).Text(*net.disable_reason).Int(now));
      if (!s.ok()) return s;
    }
  }
  return Status::Ok();
}

// One multi-row UPDATE for every delivery; NotFound (and the caller's savepoint undoes it all)
// if any of them does not exist.
Status UpdateDeliveriesAfterAttempts(Connection& db, const std::vector<AttemptOutcome>& outcomes,
                                     UnixMillis now) {
  std::vector<std::string> ids, statuses, codes, errors, next_at;
  for (const AttemptOutcome& o : outcomes) {
    ids.push_back(o.attempt.delivery_id);
    statuses.emplace_back(DeliveryStatusName(o.new_status));
    codes.push_back(std::to_string(o.attempt.status_code));
    errors.push_back(o.attempt.error);
    next_at.push_back(std::to_string(o.next_attempt_at));
  }
  const Params params = Params()
                            .TextArray(ids)
                            .TextArray(statuses)
                            .Text(ArrayLiteral(codes))
                            .TextArray(errors)
                            .Text(ArrayLiteral(next_at))
                            .Int(now);
  // Without waiting, a missing delivery fails the statement; the batch then runs again job by
  // job, where this call waits and names it.
  if (db.DefersWrites()) return db.Write(kRecordDeliveryOutcomesUnlessMissing, params);
  Result<Rows> updated = db.Run(kRecordDeliveryOutcomes, params);
  if (!updated.ok()) return updated.error();
  std::set<std::string> found;
  for (int row = 0; row < updated->size(); ++row) found.insert(updated->Text(row, 0));
  for (const std::string& id : ids) {
    if (!found.contains(id)) return DeliveryNotFound(id);
  }
  return Status::Ok();
}

// One multi-row INSERT for every attempt, in input order.
Status InsertAttempts(Connection& db, const std::vector<AttemptOutcome>& outcomes) {
  std::vector<std::string> delivery_ids, attempted_at, durations, request_headers, codes,
      response_headers, bodies, errors, manual;
  for (const AttemptOutcome& o : outcomes) {
    const Attempt& a = o.attempt;
    delivery_ids.push_back(a.delivery_id);
    attempted_at.push_back(std::to_string(a.attempted_at));
    durations.push_back(std::to_string(a.duration_ms));
    request_headers.push_back(a.request_headers_json);
    codes.push_back(std::to_string(a.status_code));
    response_headers.push_back(a.response_headers_json);
    bodies.push_back(a.response_body);
    errors.push_back(a.error);
    manual.emplace_back(a.manual ? "t" : "f");
  }
  return db.Write(kInsertAttempts, Params()
                                       .TextArray(delivery_ids)
                                       .Text(ArrayLiteral(attempted_at))
                                       .Text(ArrayLiteral(durations))
                                       .TextArray(request_headers)
                                       .Text(ArrayLiteral(codes))
                                       .TextArray(response_headers)
                                       .BytesArray(bodies)
                                       .TextArray(errors)
                                       .Text(ArrayLiteral(manual)));
}

// The rows (status, count) of `statement`, added up by status.
Result<DeliveryCounts> CountByStatus(Connection& db, const Statement& statement) {
  Result<Rows> rows = db.Run(statement);
  if (!rows.ok()) return rows.error();
  DeliveryCounts counts;
  for (int row = 0; row < rows->size(); ++row) {
    store_common::AddDeliveryCount(counts, rows->Text(row, 0), rows->Int(row, 1));
  }
  return counts;
}

}  // namespace

Result<Delivery> Operations::GetDelivery(Connection& db, const std::string& id, OrgScope scope) {
  Result<Rows> rows = db.Run(kGetDelivery, Params().Text(id).OptInt(scope));
  if (!rows.ok()) return rows.error();
  if (rows->size() == 0) return DeliveryNotFound(id);
  return ReadDeliveryRow(*rows, 0);
}

Result<Page<Delivery>> Operations::ListDeliveries(Connection& db, const DeliveryFilter& filter,
                                                  OrgScope scope) {
  const int page_size = store_common::ClampPageSize(filter.limit);
  const store_common::DeliveryIdRange range = store_common::IdRangeOf(filter);
  Params params;
  params.Text(range.after).OptInt(scope).OptText(filter.event_id).OptInt(filter.config_id);
  if (filter.status) {
    params.Text(DeliveryStatusName(*filter.status));
  } else {
    params.Null();
  }
  params.OptInt(filter.since).Int(page_size + 1).Text(range.before).OptInt(filter.until);
  params.OptInt(filter.event_type_id);
  Result<Rows> rows = db.Run(ListStatementFor(filter), params);
  if (!rows.ok()) return rows.error();
  return store_common::MakePage(ReadAll<Delivery>(*rows, ReadDeliveryRow), page_size,
                                [](const Delivery& d) { return d.id; });
}

Result<std::vector<Attempt>> Operations::AttemptsOf(Connection& db,
                                                    const std::string& delivery_id) {
  Result<Rows> rows = db.Run(kListAttempts, Params().Text(delivery_id));
  if (!rows.ok()) return rows.error();
  return ReadAll<Attempt>(*rows, ReadAttemptRow);
}

namespace {

// Keeps the jobs this node may send: all but those of rate-limited configurations whose queue
// lease another node took first (a concurrent claim that committed the lease before ours). The
// dropped ones are left pending, unchanged, for the lease holder.
Result<std::vector<DeliveryJob>> HeldByThisNode(Connection& db, std::vector<DeliveryJob> jobs,
                                                store_common::ClaimRateBudget& rate_budget,
                                                const std::string& owner, UnixMillis lease_until,
                                                UnixMillis now) {
  rate_budget.KeepWhatTheRateCanSend(jobs);
  std::set<std::int64_t> limited;
  for (const DeliveryJob& job : jobs) {
    if (job.config.rate_limit > 0) limited.insert(job.config.id);
  }
  if (limited.empty()) return jobs;
  Result<Rows> held =
      db.Run(kLeaseConfigQueues, Params()
                                     .Text(fmt::format("{{{}}}", fmt::join(limited, ",")))
                                     .Text(owner)
                                     .Int(lease_until)
                                     .Int(now));
  if (!held.ok()) return held.error();
  std::set<std::int64_t> ours;
  for (int row = 0; row < held->size(); ++row) ours.insert(held->Int(row, 0));
  std::erase_if(jobs, [&](const DeliveryJob& job) {
    return job.config.rate_limit > 0 && !ours.contains(job.config.id);
  });
  return jobs;
}

// After a FIFO configuration's turn ended: its next delivery, if it waits, is due now. Work is
// due either way: an older delivery retried by hand meanwhile may be next, not waiting.
Status StartNextTurn(WriteContext& context, std::int64_t config_id, UnixMillis now) {
  if (Status s = context.db().Write(kStartNextTurn, Params().Int(config_id).Int(now)); !s.ok()) {
    return s;
  }
  context.MarkWorkDue();
  return Status::Ok();
}

// The same, handing the next delivery to the dispatcher, leased to `owner`, when it takes it:
// no claim (and no commit of its own) then stands between the two turns.
Status StartOrHandOffNextTurn(WriteContext& context, std::int64_t config_id, UnixMillis now,
                              const std::string& owner, store_common::NextTurns& turns) {
  if (turns.handoff == nullptr) return StartNextTurn(context, config_id, now);
  Connection& db = context.db();
  Result<Rows> rows = db.Run(kSelectNextTurn, Params().Int(config_id));
  if (!rows.ok()) return rows.error();
  if (rows->size() == 0) {
    context.MarkWorkDue();  // nothing waits; an older delivery retried by hand may be next
    return Status::Ok();
  }
  DeliveryJob job = ReadDueRow(*rows, 0);
  const std::optional<UnixMillis> lease = turns.LeaseFor(job, now);
  if (!lease) return StartNextTurn(context, config_id, now);
  Status leased =
      db.Write(kLeaseNextTurn, Params().Text(job.delivery.id).Text(owner).Int(*lease).Int(now));
  if (!leased.ok()) return leased;
  turns.Add(std::move(job), *lease, now);
  return Status::Ok();
}

// Fails a deleted or inactive configuration's due line (and its FIFO deliveries waiting for
// their turn) at once: one by one, each claim failed only what it met, and a FIFO line failed
// one delivery per claim. Rows another node holds are left to that node's statement or to a
// later claim's.
Status FailUndeliverableLine(Connection& db, std::int64_t config_id, const std::string& reason,
                             UnixMillis due_by, UnixMillis now) {
  return db.Write(kFailUndeliverableLine,
                  Params().Int(config_id).Text(reason).Int(due_by).Int(now));
}

// Walks the due index in its order, sorting nothing. Before a table's first ANALYZE the planner
// guesses a couple of dozen due rows, and for so few it prefers to fetch every due delivery
// with its event and configuration and sort them all: 196 ms instead of 2 ms for 64 out of
// 30 000 due, on each claim of a fresh database's first minute under a backlog. Sorting is
// switched off for this one statement only (the claim runs inside the writer's transaction).
// With configurations held back, the claim sorts what it gathered from the others
// (kSelectDueSkippingConfigs) and runs as planned.
Result<Rows> SelectDue(Connection& db, UnixMillis due_by, int limit,
                       const std::vector<std::int64_t>& skip_config_ids, const std::string& owner,
                       UnixMillis now) {
  const bool skipping = !skip_config_ids.empty();
  if (!skipping) {
    if (Status s = db.Exec("SET LOCAL enable_sort = off"); !s.ok()) return s.error();
  }
  Result<Rows> due = db.Run(skipping ? kSelectDueSkippingConfigs : kSelectDue,
                            Params()
                                .Int(due_by)
                                .Int(limit)
                                .Text(fmt::format("{{{}}}", fmt::join(skip_config_ids, ",")))
                                .Text(owner)
                                .Int(now));
  if (!due.ok() || skipping) return due;
  if (Status s = db.Exec("SET LOCAL enable_sort TO DEFAULT"); !s.ok()) return s.error();
  return due;
}

}  // namespace

Result<std::vector<DeliveryJob>> Operations::ClaimDue(
    Connection& db, UnixMillis due_by, int limit, UnixMillis lease_until,
    const std::vector<std::int64_t>& skip_config_ids, const std::string& owner, UnixMillis now) {
  std::vector<DeliveryJob> claimed;
  store_common::ClaimRateBudget rate_budget;
  // After failing a line the claim selects again, so that a claim short of `limit` still means
  // that nothing more can go now.
  for (bool failed_a_line = true; failed_a_line && std::ssize(claimed) < limit;) {
    failed_a_line = false;
    Result<Rows> due = SelectDue(db, due_by, limit - static_cast<int>(claimed.size()),
                                 skip_config_ids, owner, now);
    if (!due.ok()) return due.error();
    Result<std::vector<DeliveryJob>> selected = HeldByThisNode(
        db, ReadAll<DeliveryJob>(*due, ReadDueRow), rate_budget, owner, lease_until, now);
    if (!selected.ok()) return selected.error();
    std::vector<std::string> leased_ids;
    std::set<std::int64_t> failed_configs;
    for (DeliveryJob& job : *selected) {
      if (failed_configs.contains(job.config.id)) continue;
      if (std::string reason = store_common::UndeliverableReason(job.config); !reason.empty()) {
        if (Status s = FailUndeliverableLine(db, job.config.id, reason, due_by, now); !s.ok()) {
          return s.error();
        }
        failed_configs.insert(job.config.id);
        failed_a_line = true;
        continue;
      }
      leased_ids.push_back(job.delivery.id);
      job.delivery.status = DeliveryStatus::kDelivering;
      job.delivery.updated_at = now;
      claimed.push_back(std::move(job));
    }
    if (!leased_ids.empty()) {
      Status s = db.Write(kLeaseDeliveries,
                          Params().TextArray(leased_ids).Text(owner).Int(lease_until).Int(now));
      if (!s.ok()) return s.error();
    }
  }
  return claimed;
}

Result<std::optional<UnixMillis>> Operations::NextDueAt(Connection& db) {
  Result<Rows> rows = db.Run(kNextDueAt);
  if (!rows.ok()) return rows.error();
  if (rows->size() == 0 || rows->IsNull(0, 0)) return std::optional<UnixMillis>();
  return std::optional<UnixMillis>(rows->Int(0, 0));
}

Result<std::int64_t> Operations::EndWaitingForTurns(Connection& db, std::int64_t config_id,
                                                    UnixMillis now) {
  Result<Rows> updated = db.Run(kEndWaitingForTurns, Params().Int(config_id).Int(now));
  if (!updated.ok()) return updated.error();
  return updated->Affected();
}

Result<std::int64_t> Operations::ReleaseExpiredLeases(WriteContext& context, UnixMillis due_at,
                                                      UnixMillis now) {
  Result<Rows> updated = context.db().Run(kReleaseExpiredLeases, Params().Int(due_at).Int(now));
  if (!updated.ok()) return updated.error();
  Result<Rows> started = context.db().Run(kStartStrandedTurns, Params().Int(now));
  if (!started.ok()) return started.error();
  if (updated->Affected() > 0 || started->Affected() > 0) context.MarkWorkDue();
  return updated->Affected();
}

Result<std::int64_t> Operations::ReleaseLeasesOf(WriteContext& context, const std::string& node_id,
                                                 UnixMillis now) {
  Result<Rows> updated = context.db().Run(kReleaseLeasesOf, Params().Text(node_id).Int(now));
  if (!updated.ok()) return updated.error();
  if (updated->Affected() > 0) context.MarkWorkDue();
  return updated->Affected();
}

Status Operations::RecordAttempts(WriteContext& context,
                                  const std::vector<AttemptOutcome>& outcomes, UnixMillis now,
                                  const std::string& owner, store_common::NextTurns& turns) {
  if (outcomes.empty()) return Status::Ok();
  Connection& db = context.db();
  if (Status s = UpdateDeliveriesAfterAttempts(db, outcomes, now); !s.ok()) return s;
  if (Status s = InsertAttempts(db, outcomes); !s.ok()) return s;
  if (Status s = ApplyConfigEffects(db, outcomes, now); !s.ok()) return s;
  for (const AttemptOutcome& o : outcomes) {
    if (o.new_status == DeliveryStatus::kPending) context.MarkWorkDue();
    if (!o.ends_fifo_turn) continue;
    if (Status s = StartOrHandOffNextTurn(context, o.config_id, now, owner, turns); !s.ok()) {
      return s;
    }
  }
  return Status::Ok();
}

Result<bool> Operations::RequeueForRetry(Connection& db, const std::string& id, UnixMillis now) {
  Result<Rows> updated = db.Run(kRetryDelivery, Params().Text(id).Int(now));
  if (!updated.ok()) return updated.error();
  return updated->Affected() > 0;
}

Result<bool> Operations::ConfigInScope(Connection& db, std::int64_t config_id, OrgScope scope) {
  Result<Rows> exists = db.Run(kConfigInScope, Params().Int(config_id).OptInt(scope));
  if (!exists.ok()) return exists.error();
  return exists->size() > 0;
}

Result<std::int64_t> Operations::RequeueFailed(Connection& db, std::int64_t config_id,
                                               UnixMillis since, UnixMillis now) {
  Result<Rows> updated = db.Run(kRecoverConfig, Params().Int(config_id).Int(since).Int(now));
  if (!updated.ok()) return updated.error();
  return updated->Affected();
}

Result<DeliveryCounts> Operations::CountDeliveries(Connection& db) {
  return CountByStatus(db, kCountDeliveries);
}

Result<DeliveryBacklog> Operations::CountBacklog(Connection& db) {
  Result<DeliveryCounts> counts = CountByStatus(db, kCountBacklog);
  if (!counts.ok()) return counts.error();
  return store_common::BacklogOf(*counts);
}

}  // namespace webhookd::postgres
