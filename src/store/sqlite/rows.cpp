#include "store/sqlite/rows.hpp"

#include "core/delivery_status.hpp"

namespace webhookd::sqlite {
namespace {

int Int32(const Query& row, int column) { return static_cast<int>(row.Int(column)); }

}  // namespace

WebhookConfig ReadConfig(const Query& row, int first) {
  WebhookConfig c;
  c.id = row.Int(first + 0);
  c.organization_id = row.Int(first + 1);
  c.name = row.Text(first + 2);
  c.url = row.Text(first + 3);
  c.event_type_id = Int32(row, first + 4);
  c.attributes_json = row.Text(first + 5);
  c.headers_json = row.Text(first + 6);
  c.active = row.Int(first + 7) != 0;
  c.send_organization_code = row.Int(first + 8) != 0;
  c.version = row.Int(first + 9);
  c.secret = row.Text(first + 10);
  c.previous_secret = row.Text(first + 11);
  c.previous_secret_expires_at = row.Int(first + 12);
  c.is_deleted = row.Int(first + 13) != 0;
  c.created_at = row.Int(first + 14);
  c.updated_at = row.Int(first + 15);
  c.disabled_reason = row.Text(first + 16);
  c.timeout_ms = row.Int(first + 17);
  c.retry_schedule_json = row.Text(first + 18);
  c.failing_since = row.Int(first + 19);
  return c;
}

void BindConfigFields(Query& query, const WebhookConfig& c) {
  query.BindInt(2, c.organization_id)
      .BindText(3, c.name)
      .BindText(4, c.url)
      .BindInt(5, c.event_type_id)
      .BindText(6, c.attributes_json)
      .BindText(7, c.headers_json)
      .BindInt(8, c.active ? 1 : 0)
      .BindInt(9, c.send_organization_code ? 1 : 0)
      .BindInt(10, c.version)
      .BindText(11, c.secret)
      .BindText(12, c.previous_secret)
      .BindInt(13, c.previous_secret_expires_at)
      .BindInt(14, c.is_deleted ? 1 : 0)
      .BindInt(15, c.created_at)
      .BindInt(16, c.updated_at)
      .BindText(17, c.disabled_reason)
      .BindInt(18, c.timeout_ms)
      .BindText(19, c.retry_schedule_json)
      .BindInt(20, c.failing_since);
}

Event ReadEvent(const Query& row, int first) {
  Event e;
  e.id = row.Text(first + 0);
  e.organization_id = row.Int(first + 1);
  e.event_type_id = Int32(row, first + 2);
  e.payload_json = row.Text(first + 3);
  e.idempotency_key = row.Text(first + 4);
  e.created_at = row.Int(first + 5);
  return e;
}

Delivery ReadDelivery(const Query& row, int first) {
  Delivery d;
  d.id = row.Text(first + 0);
  d.event_id = row.Text(first + 1);
  d.config_id = row.Int(first + 2);
  d.organization_id = row.Int(first + 3);
  // The schema's CHECK constraint allows only the four names.
  d.status = ParseDeliveryStatus(row.Text(first + 4)).value_or(DeliveryStatus::kFailed);
  d.attempt_count = Int32(row, first + 5);
  d.next_attempt_at = row.Int(first + 6);
  d.last_status_code = Int32(row, first + 7);
  d.last_error = row.Text(first + 8);
  d.created_at = row.Int(first + 9);
  d.updated_at = row.Int(first + 10);
  return d;
}

bool ReadManualPending(const Query& row, int first) { return row.Int(first + 11) != 0; }

ApiKey ReadApiKey(const Query& row) {
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

Attempt ReadAttempt(const Query& row) {
  Attempt a;
  a.id = row.Int(0);
  a.delivery_id = row.Text(1);
  a.attempted_at = row.Int(2);
  a.duration_ms = row.Int(3);
  a.request_headers_json = row.Text(4);
  a.status_code = Int32(row, 5);
  a.response_headers_json = row.Text(6);
  a.response_body = row.Text(7);
  a.error = row.Text(8);
  a.manual = row.Int(9) != 0;
  return a;
}

}  // namespace webhookd::sqlite
