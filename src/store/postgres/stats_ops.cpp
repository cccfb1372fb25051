// Stats (GET /stats): range reads of the window's deliveries, grouped in SQL.
#include "core/ids.hpp"
#include "store/common/store_rules.hpp"
#include "store/postgres/operations.hpp"
#include "store/postgres/statements.hpp"

namespace webhookd::postgres {
namespace {

// $1..$3 of a statement over the window's deliveries.
Params WindowParams(const StatsQuery& query, OrgScope scope) {
  Params params;
  params.Text(SortableIdLowerBound("dlv", query.since)).OptInt(scope).Int(query.since);
  return params;
}

Status ReadBuckets(Connection& db, const StatsQuery& query, OrgScope scope, DeliveryStats& out) {
  Result<Rows> rows = db.Run(kStatsBuckets, WindowParams(query, scope).Int(query.bucket_ms));
  if (!rows.ok()) return rows.error();
  for (int row = 0; row < rows->size(); ++row) {
    store_common::AddStatsRow(out.buckets, query, rows->Int(row, 0), rows->Text(row, 1),
                              rows->Int(row, 2));
  }
  return Status::Ok();
}

Status ReadLatencies(Connection& db, const StatsQuery& query, OrgScope scope, DeliveryStats& out) {
  Result<Rows> rows = db.Run(kStatsLatencies, WindowParams(query, scope));
  if (!rows.ok()) return rows.error();
  store_common::LatencyHistogram histogram;
  for (int row = 0; row < rows->size(); ++row) {
    histogram.emplace_back(rows->Int(row, 0), rows->Int(row, 1));
  }
  store_common::SetLatencies(histogram, out);
  return Status::Ok();
}

Status ReadTopFailing(Connection& db, const StatsQuery& query, OrgScope scope, DeliveryStats& out) {
  Result<Rows> rows = db.Run(kStatsTopFailing, WindowParams(query, scope).Int(query.top_failing));
  if (!rows.ok()) return rows.error();
  for (int row = 0; row < rows->size(); ++row) {
    out.top_failing.push_back(ConfigFailures{rows->Int(row, 0), rows->Text(row, 1),
                                             rows->Int(row, 2), rows->Int(row, 3)});
  }
  return Status::Ok();
}

Status ReadOpen(Connection& db, OrgScope scope, DeliveryStats& out) {
  Result<Rows> rows = db.Run(kStatsOpen, Params().OptInt(scope));
  if (!rows.ok()) return rows.error();
  for (int row = 0; row < rows->size(); ++row) {
    store_common::AddDeliveryCount(out.open, rows->Text(row, 0), rows->Int(row, 1));
  }
  return Status::Ok();
}

Status ReadDisabled(Connection& db, OrgScope scope, DeliveryStats& out) {
  Result<Rows> rows = db.Run(kStatsDisabled, Params().OptInt(scope));
  if (!rows.ok()) return rows.error();
  for (int row = 0; row < rows->size(); ++row) {
    out.disabled.push_back(DisabledConfig{rows->Int(row, 0), rows->Text(row, 1), rows->Text(row, 2),
                                          rows->Int(row, 3)});
  }
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

}  // namespace webhookd::postgres
