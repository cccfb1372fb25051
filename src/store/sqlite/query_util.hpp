// Small helpers shared by the operation files: run a query into values, build a page.
#pragma once

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "core/model.hpp"
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

// Runs a statement that changes rows; returns how many it changed.
inline Result<std::int64_t> RunChanges(Connection& db, Query& query) {
  if (Status s = query.Run(); !s.ok()) return s.error();
  return db.Changes();
}

inline int ClampPageSize(int limit, int min, int max) { return std::clamp(limit, min, max); }

// `rows` was fetched with LIMIT page_size + 1: the extra row only says that more exist.
template <class T, class CursorFn>
Page<T> MakePage(std::vector<T> rows, int page_size, CursorFn cursor_of) {
  Page<T> page;
  const bool more = rows.size() > static_cast<std::size_t>(page_size);
  if (more) rows.resize(static_cast<std::size_t>(page_size));
  page.items = std::move(rows);
  if (more && !page.items.empty()) page.next_cursor = cursor_of(page.items.back());
  return page;
}

}  // namespace webhookd::sqlite
