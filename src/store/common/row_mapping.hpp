// Rows to domain types, for both backends: their statements.hpp select the same columns in the
// same order (columns.hpp), so only reading one column differs. `Columns` reads the
// columns of one row by 0-based index:
//   std::int64_t Int(int) (0 for NULL), bool Bool(int), bool IsNull(int),
//   std::string Text(int) ("" for NULL), std::string Bytes(int) (a binary column, byte for byte).
#pragma once

#include <cstdint>

#include "core/delivery_status.hpp"
#include "core/model.hpp"
#include "store/store.hpp"

namespace webhookd::store_common {

// Column counts, for reading joined rows by offset.
inline constexpr int kConfigColumnCount = 22;
inline constexpr int kEventColumnCount = 8;
inline constexpr int kDeliveryColumnCount = 12;

// `first` is the column where the row's columns start (for joined rows).
template <class Columns>
WebhookConfig ReadConfig(const Columns& row, int first = 0) {
  WebhookConfig c;
  c.id = row.Int(first + 0);
  c.organization_id = row.Int(first + 1);
  c.name = row.Text(first + 2);
  c.url = row.Text(first + 3);
  c.event_type_id = static_cast<int>(row.Int(first + 4));
  c.attributes_json = row.Text(first + 5);
  c.headers_json = row.Text(first + 6);
  c.active = row.Bool(first + 7);
  c.send_organization_code = row.Bool(first + 8);
  c.version = row.Int(first + 9);
  c.secret = row.Text(first + 10);
  c.previous_secret = row.Text(first + 11);
  c.previous_secret_expires_at = row.Int(first + 12);
  c.is_deleted = row.Bool(first + 13);
  c.created_at = row.Int(first + 14);
  c.updated_at = row.Int(first + 15);
  c.disabled_reason = row.Text(first + 16);
  c.timeout_ms = row.Int(first + 17);
  c.retry_schedule_json = row.Text(first + 18);
  c.failing_since = row.Int(first + 19);
  c.rate_limit = row.Int(first + 20);
  // The schema's CHECK constraint allows only the known names.
  c.ordering = ParseDeliveryOrdering(row.Text(first + 21)).value_or(DeliveryOrdering::kNone);
  return c;
}

// Every WebhookConfig field but id, in WEBHOOKD_CONFIG_COLUMNS order, to `sink`'s
// Int(std::int64_t), Bool(bool) and Text(std::string_view) (the INSERT's parameters).
template <class Sink>
void BindConfigFields(Sink& sink, const WebhookConfig& c) {
  sink.Int(c.organization_id)
      .Text(c.name)
      .Text(c.url)
      .Int(c.event_type_id)
      .Text(c.attributes_json)
      .Text(c.headers_json)
      .Bool(c.active)
      .Bool(c.send_organization_code)
      .Int(c.version)
      .Text(c.secret)
      .Text(c.previous_secret)
      .Int(c.previous_secret_expires_at)
      .Bool(c.is_deleted)
      .Int(c.created_at)
      .Int(c.updated_at)
      .Text(c.disabled_reason)
      .Int(c.timeout_ms)
      .Text(c.retry_schedule_json)
      .Int(c.failing_since)
      .Int(c.rate_limit)
      .Text(DeliveryOrderingName(c.ordering));
}

template <class Columns>
Event ReadEvent(const Columns& row, int first = 0) {
  Event e;
  e.id = row.Text(first + 0);
  e.organization_id = row.Int(first + 1);
  e.event_type_id = static_cast<int>(row.Int(first + 2));
  e.payload_json = row.Text(first + 3);
  e.idempotency_key = row.Text(first + 4);
  e.created_at = row.Int(first + 5);
  e.payload_erased_at = row.Int(first + 6);
  e.event_type_version = static_cast<int>(row.Int(first + 7));
  return e;
}

// The columns of kListEventTypes (both backends): the type's, then the version's.
template <class Columns>
StoredEventType ReadStoredEventType(const Columns& row) {
  StoredEventType t;
  t.id = static_cast<int>(row.Int(0));
  t.name = row.Text(1);
  t.is_inference = row.Bool(2);
  t.archived = row.Int(3) != 0;
  t.version = static_cast<int>(row.Int(4));
  t.description = row.Text(5);
  t.schema_json = row.Text(6);
  t.sample_json = row.Text(7);
  t.sample_headers_json = row.Text(8);
  t.created_at = row.Int(9);
  return t;
}

template <class Columns>
Delivery ReadDelivery(const Columns& row, int first = 0) {
  Delivery d;
  d.id = row.Text(first + 0);
  d.event_id = row.Text(first + 1);
  d.config_id = row.Int(first + 2);
  d.organization_id = row.Int(first + 3);
  // The schema's CHECK constraint allows only the four names.
  d.status = ParseDeliveryStatus(row.Text(first + 4)).value_or(DeliveryStatus::kFailed);
  d.attempt_count = static_cast<int>(row.Int(first + 5));
  d.next_attempt_at = row.Int(first + 6);
  d.last_status_code = static_cast<int>(row.Int(first + 7));
  d.last_error = row.Text(first + 8);
  d.created_at = row.Int(first + 9);
  d.updated_at = row.Int(first + 10);
  return d;
}

// A due delivery joined with its event and configuration (delivery columns, including
// manual_pending, then event columns, then configuration columns).
template <class Columns>
DeliveryJob ReadDueDelivery(const Columns& row) {
  DeliveryJob job;
  job.delivery = ReadDelivery(row);
  job.manual = row.Bool(11);
  job.event = ReadEvent(row, kDeliveryColumnCount);
  job.config = ReadConfig(row, kDeliveryColumnCount + kEventColumnCount);
  return job;
}

template <class Columns>
ApiKey ReadApiKey(const Columns& row) {
  ApiKey k;
  k.id = row.Int(0);
  if (!row.IsNull(1)) k.organization_id = row.Int(1);
  k.name = row.Text(2);
  k.hash = row.Text(3);
  k.prefix = row.Text(4);
  k.created_at = row.Int(5);
  k.revoked_at = row.Int(6);
  return k;
}

template <class Columns>
Attempt ReadAttempt(const Columns& row) {
  Attempt a;
  a.id = row.Int(0);
  a.delivery_id = row.Text(1);
  a.attempted_at = row.Int(2);
  a.duration_ms = row.Int(3);
  a.request_headers_json = row.Text(4);
  a.status_code = static_cast<int>(row.Int(5));
  a.response_headers_json = row.Text(6);
  a.response_body = row.Bytes(7);
  a.error = row.Text(8);
  a.manual = row.Bool(9);
  return a;
}

template <class Columns>
AuditEntry ReadAuditEntry(const Columns& row) {
  AuditEntry e;
  e.id = row.Int(0);
  e.at = row.Int(1);
  e.key_id = row.Int(2);
  e.key_name = row.Text(3);
  if (!row.IsNull(4)) e.organization_id = row.Int(4);
  e.method = row.Text(5);
  e.route = row.Text(6);
  e.object_id = row.Text(7);
  e.address = row.Text(8);
  e.status = static_cast<int>(row.Int(9));
  return e;
}

template <class Columns>
OrganizationSettings ReadOrganizationSettings(const Columns& row) {
  return {row.Int(0), row.Int(1), row.Int(2)};
}

}  // namespace webhookd::store_common
