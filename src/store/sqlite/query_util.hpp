// Small helpers shared by the SQLite operation files: run a query into values.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "core/result.hpp"
#include "store/sqlite/connection.hpp"

namespace webhookd::sqlite {

// Every row of `query`, mapped by `read(const Query&)`.
template <class T, class ReadFn>
Result<std::vector<T>> ReadAll(Query& query, ReadFn read) {
  std::vector<T> rows;
  while (true) {
    Result<bool> row = query.Step();
    if (!row.ok()) return row.error();
    if (!*row) return rows;
    rows.push_back(read(query));
  }
}

// The first row of `query`, or nullopt if it has none.
template <class T, class ReadFn>
Result<std::optional<T>> ReadFirst(Query& query, ReadFn read) {
  Result<bool> row = query.Step();
  if (!row.ok()) return row.error();
  if (!*row) return std::optional<T>();
  return std::optional<T>(read(query));
}

// The first column of `query`'s first row as an integer, 0 when there is no row: for a COUNT or
// an EXISTS, which always have one.
inline Result<std::int64_t> ReadInt(Query& query) {
  Result<std::optional<std::int64_t>> value =
      ReadFirst<std::int64_t>(query, [](const Query& row) { return row.Int(0); });
  if (!value.ok()) return value.error();
  return value->value_or(0);
}

// Runs a statement that changes rows; returns how many it changed.
inline Result<std::int64_t> RunChanges(Connection& db, Query& query) {
  if (Status s = query.Run(); !s.ok()) return s.error();
  return db.Changes();
}

}  // namespace webhookd::sqlite
