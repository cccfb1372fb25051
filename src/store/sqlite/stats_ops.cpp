// Stats (GET /stats): range reads of the window's deliveries, grouped in SQL.
#include "core/ids.hpp"
#include "store/common/store_rules.hpp"
#include "store/sqlite/operations.hpp"
#include "store/sqlite/query_util.hpp"
#include "store/sqlite/statements.hpp"

namespace webhookd::sqlite {
namespace {

// Binds ?1..?3 of a statement over the window's deliveries.
Result<Query> PrepareWindow(Connection& db, std::string_view sql, const StatsQuery& query,
                            OrgScope scope) {
  Result<Query> prepared = db.Prepare(sql);
  if (!prepared.ok()) return prepared.error();
  prepared->BindText(1, SortableIdLowerBound("dlv", query.since))
      .BindOptionalInt(2, scope)
      .BindInt(3, query.since);
  return prepared;
}

Status ReadBuckets(Connection& db, const StatsQuery& query, OrgScope scope, DeliveryStats& out) {
  Result<Query> rows = PrepareWindow(db, kStatsBuckets, query, scope);
  if (!rows.ok()) return rows.error();
  rows->BindInt(4, query.bucket_ms);
  while (true) {
    Result<bool> row = rows->Step();
    if (!row.ok()) return row.error();
    if (!*row) return Status::Ok();
    store_common::AddStatsRow(out.buckets, query, rows->Int(0), rows->Text(1), rows->Int(2));
  }
}

Status ReadLatencies(Connection& db, const StatsQuery& query, OrgScope scope, DeliveryStats& out) {
  Result<Query> rows = PrepareWindow(db, kStatsLatencies, query, scope);
  if (!rows.ok()) return rows.error();
  Result<store_common::LatencyHistogram> histogram =
      ReadAll<std::pair<std::int64_t, std::int64_t>>(*rows, [](const Query& q) {
        return std::pair{q.Int(0), q.Int(1)};
      });
  if (!histogram.ok()) return histogram.error();
  store_common::SetLatencies(*histogram, out);
  return Status::Ok();
}

Status ReadTopFailing(Connection& db, const StatsQuery& query, OrgScope scope, DeliveryStats& out) {
  Result<Query> rows = PrepareWindow(db, kStatsTopFailing, query, scope);
  if (!rows.ok()) return rows.error();
  rows->BindInt(4, query.top_failing);
  Result<std::vector<ConfigFailures>> top = ReadAll<ConfigFailures>(*rows, [](const Query& q) {
    return ConfigFailures{q.Int(0), q.Text(1), q.Int(2), q.Int(3)};
  });
  if (!top.ok()) return top.error();
  out.top_failing = std::move(*top);
  return Status::Ok();
}

Status ReadOpen(Connection& db, OrgScope scope, DeliveryStats& out) {
  Result<Query> rows = db.Prepare(kStatsOpen);
  if (!rows.ok()) return rows.error();
  rows->BindOptionalInt(1, scope);
  while (true) {
    Result<bool> row = rows->Step();
    if (!row.ok()) return row.error();
    if (!*row) return Status::Ok();
    store_common::AddDeliveryCount(out.open, rows->Text(0), rows->Int(1));
  }
}

Status ReadDisabled(Connection& db, OrgScope scope, DeliveryStats& out) {
  Result<Query> rows = db.Prepare(kStatsDisabled);
  if (!rows.ok()) return rows.error();
  rows->BindOptionalInt(1, scope);
  Result<std::vector<DisabledConfig>> disabled = ReadAll<DisabledConfig>(*rows, [](const Query& q) {
    return DisabledConfig{q.Int(0), q.Text(1), q.Text(2), q.Int(3)};
  });
  if (!disabled.ok()) return disabled.error();
  out.disabled = std::move(*disabled);
  return Status::Ok();
}

}  // namespace

Result<DeliveryStats> Operations::Stats(Connection& db, const StatsQuery& query, OrgScope scope) {
  DeliveryStats stats;
  if (Status s = ReadBuckets(db, query, scope, stats); !s.ok()) return s.error();
  if (Status s = ReadLatencies(db, query, scope, stats); !s.ok()) return s.error();
  if (Status s = ReadTopFailing(db, query, scope, stats); !s.ok()) return s.error();
  if (Status s = ReadOpen(db, scope, stats); !s.ok()) return s.error();
  if (Status s = ReadDisabled(db, scope, stats); !s.ok()) return s.error();
  return stats;
}

}  // namespace webhookd::sqlite
