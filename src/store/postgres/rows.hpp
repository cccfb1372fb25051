// Rows of a result as domain types, through store/common/row_mapping.hpp. Columns arrive as
// text; response bodies are bytea.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/model.hpp"
#include "store/common/row_mapping.hpp"
#include "store/postgres/connection.hpp"

namespace webhookd::postgres {

// Row `row` of `rows`, for store_common's row mapping.
class RowColumns {
 public:
  RowColumns(const Rows& rows, int row) : rows_(rows), row_(row) {}
  std::int64_t Int(int column) const { return rows_.Int(row_, column); }
  bool Bool(int column) const { return rows_.Bool(row_, column); }
  bool IsNull(int column) const { return rows_.IsNull(row_, column); }
  std::string Text(int column) const { return rows_.Text(row_, column); }
  std::string Bytes(int column) const { return rows_.Bytes(row_, column); }

 private:
  const Rows& rows_;
  int row_;
};

inline WebhookConfig ReadConfigRow(const Rows& r, int row) {
  return store_common::ReadConfig(RowColumns(r, row));
}
inline Event ReadEventRow(const Rows& r, int row) {
  return store_common::ReadEvent(RowColumns(r, row));
}
inline Delivery ReadDeliveryRow(const Rows& r, int row) {
  return store_common::ReadDelivery(RowColumns(r, row));
}
inline DeliveryJob ReadDueRow(const Rows& r, int row) {
  return store_common::ReadDueDelivery(RowColumns(r, row));
}
inline ApiKey ReadApiKeyRow(const Rows& r, int row) {
  return store_common::ReadApiKey(RowColumns(r, row));
}
inline Attempt ReadAttemptRow(const Rows& r, int row) {
  return store_common::ReadAttempt(RowColumns(r, row));
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
