// The column lists both backends select, in the order store/common/row_mapping.hpp reads them.
// Macros, so that each backend's statements.hpp can paste them into its SQL literals.
#pragma once

#include <string_view>

#include "core/delivery_status.hpp"

// P is a table alias with its dot ("c.") or "".
#define WEBHOOKD_CONFIG_COLUMNS(P)                                                                \
  P "id, " P "organization_id, " P "name, " P "url, " P "event_type_id, " P "attributes_json, " P \
    "headers_json, " P "active, " P "send_organization_code, " P "version, " P "secret, " P       \
    "previous_secret, " P "previous_secret_expires_at, " P "is_deleted, " P "created_at, " P      \
    "updated_at, " P "disabled_reason, " P "timeout_ms, " P "retry_schedule_json, " P             \
    "failing_since, " P "rate_limit, " P "ordering"
#define WEBHOOKD_EVENT_COLUMNS(P)                                             \
  P "id, " P "organization_id, " P "event_type_id, " P "payload, COALESCE(" P \
    "idempotency_key, ''), " P "created_at, " P "payload_erased_at, " P "event_type_version"
#define WEBHOOKD_DELIVERY_COLUMNS(P)                                                               \
  P "id, " P "event_id, " P "config_id, " P "organization_id, " P "status, " P "attempt_count, " P \
    "next_attempt_at, " P "last_status_code, " P "last_error, " P "created_at, " P                 \
    "updated_at, " P "manual_pending"
#define WEBHOOKD_API_KEY_COLUMNS "id, organization_id, name, hash, prefix, created_at, revoked_at"
#define WEBHOOKD_ATTEMPT_COLUMNS                                                    \
  "id, delivery_id, attempted_at, duration_ms, request_headers_json, status_code, " \
  "response_headers_json, response_body, error, manual"
#define WEBHOOKD_AUDIT_COLUMNS \
  "id, at, key_id, key_name, organization_id, method, route, object_id, address, status"
#define WEBHOOKD_SETTINGS_COLUMNS "organization_id, retention_ms, payload_retention_ms"

// kWaitingForTurn as SQL text, for the statements that park and start a FIFO configuration's
// deliveries.
#define WEBHOOKD_WAITING_FOR_TURN "253402300799999"

namespace webhookd::store_common {
constexpr UnixMillis MillisOfText(std::string_view digits) {
  UnixMillis value = 0;
  for (char c : digits) value = value * 10 + (c - '0');
  return value;
}
static_assert(MillisOfText(WEBHOOKD_WAITING_FOR_TURN) == kWaitingForTurn);
}  // namespace webhookd::store_common
