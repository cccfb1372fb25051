// Rows of a Query as domain types, through store/common/row_mapping.hpp. SQLite stores booleans
// as 0/1 integers and response bodies as BLOBs (read byte for byte by Text).
#pragma once

#include <cstdint>
#include <string>

#include "core/model.hpp"
#include "store/common/row_mapping.hpp"
#include "store/sqlite/connection.hpp"

namespace webhookd::sqlite {

// The current row of `query`, for store_common's row mapping.
class QueryColumns {
 public:
  explicit QueryColumns(const Query& query) : query_(query) {}
  std::int64_t Int(int column) const { return query_.Int(column); }
  bool Bool(int column) const { return query_.Int(column) != 0; }
  bool IsNull(int column) const { return query_.IsNull(column); }
  std::string Text(int column) const { return query_.Text(column); }
  std::string Bytes(int column) const { return query_.Text(column); }

 private:
  const Query& query_;
};

inline WebhookConfig ReadConfigRow(const Query& q) {
  return store_common::ReadConfig(QueryColumns(q));
}
inline Event ReadEventRow(const Query& q) { return store_common::ReadEvent(QueryColumns(q)); }
inline Delivery ReadDeliveryRow(const Query& q) {
  return store_common::ReadDelivery(QueryColumns(q));
}
inline DeliveryJob ReadDueRow(const Query& q) {
  return store_common::ReadDueDelivery(QueryColumns(q));
}
inline ApiKey ReadApiKeyRow(const Query& q) { return store_common::ReadApiKey(QueryColumns(q)); }
inline Attempt ReadAttemptRow(const Query& q) { return store_common::ReadAttempt(QueryColumns(q)); }

// Binds ?2..?20 (every WebhookConfig field but id, in WEBHOOKD_CONFIG_COLUMNS order).
void BindConfigFields(Query& query, const WebhookConfig& config);

}  // namespace webhookd::sqlite
