#include "store/sqlite/retention_selection.hpp"

#include "store/sqlite/query_util.hpp"
#include "store/sqlite/statements.hpp"

namespace webhookd::sqlite {
namespace {

struct RowTime {
  std::int64_t rowid = 0;
  UnixMillis created_at = 0;
};

// The first event at or after `rowid` (rowids have gaps where events were purged).
Result<std::optional<RowTime>> EventFrom(Connection& db, std::int64_t rowid) {
  Result<Query> query = db.Prepare(kEventFromRowid);
  if (!query.ok()) return query.error();
  query->BindInt(1, rowid);
  return ReadFirst<RowTime>(*query, [](Query& q) { return RowTime{q.Int(0), q.Int(1)}; });
}

Result<std::int64_t> LastRowid(Connection& db) {
  Result<Query> query = db.Prepare(kLastEventRowid);
  if (!query.ok()) return query.error();
  if (Result<bool> row = query->Step(); !row.ok()) return row.error();
  return query->Int(0);
}

}  // namespace

Result<std::int64_t> LastEventCreatedBefore(Connection& db, UnixMillis cutoff) {
  Result<std::int64_t> last = LastRowid(db);
  if (!last.ok()) return last.error();
  // The answer lies in [low, high]; low is 0 or an event created before the cutoff.
  std::int64_t low = 0;
  std::int64_t high = *last;
  while (low < high) {
    const std::int64_t middle = low + (high - low + 1) / 2;
    Result<std::optional<RowTime>> event = EventFrom(db, middle);
    if (!event.ok()) return event.error();
    if (*event && (*event)->rowid <= high && (*event)->created_at < cutoff) {
      low = (*event)->rowid;
    } else {
      high = middle - 1;
    }
  }
  return low;
}

Query& BindRetentionSelection(Query& query, UnixMillis cutoff, std::int64_t last_rowid,
                              int max_events, const std::optional<std::int64_t>& scope) {
  return query.BindInt(1, cutoff)
      .BindInt(2, max_events)
      .BindOptionalInt(3, scope)
      .BindInt(5, last_rowid);
}

}  // namespace webhookd::sqlite
