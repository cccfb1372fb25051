// Limits and paging shared by both backends' listings.
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

#include "core/model.hpp"

namespace webhookd::store_common {

inline constexpr int kMinPageSize = 1;
inline constexpr int kMaxPageSize = 250;

inline int ClampPageSize(int limit) { return std::clamp(limit, kMinPageSize, kMaxPageSize); }

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

}  // namespace webhookd::store_common
