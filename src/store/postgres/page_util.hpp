// Building a page from rows fetched with LIMIT page_size + 1.
#pragma once

#include <algorithm>
#include <vector>

#include "core/model.hpp"
#include "store/postgres/connection.hpp"

namespace webhookd::postgres {

inline int ClampPageSize(int limit, int min, int max) { return std::clamp(limit, min, max); }

// The extra row only says that more exist.
template <class T, class CursorFn>
Page<T> MakePage(std::vector<T> rows, int page_size, CursorFn cursor_of) {
  Page<T> page;
  const bool more = rows.size() > static_cast<std::size_t>(page_size);
  if (more) rows.resize(static_cast<std::size_t>(page_size));
  page.items = std::move(rows);
  if (more && !page.items.empty()) page.next_cursor = cursor_of(page.items.back());
  return page;
}

// Every row of `rows`, mapped by `read(rows, row)`.
template <class T, class ReadFn>
std::vector<T> ReadAll(const Rows& rows, ReadFn read) {
  std::vector<T> out;
  out.reserve(static_cast<std::size_t>(rows.size()));
  for (int row = 0; row < rows.size(); ++row) out.push_back(read(rows, row));
  return out;
}

}  // namespace webhookd::postgres
