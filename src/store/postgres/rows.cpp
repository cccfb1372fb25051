#include "store/postgres/rows.hpp"

#include "core/delivery_status.hpp"

namespace webhookd::postgres {
namespace {

int Int32(const Rows& rows, int row, int column) { return static_cast<int>(rows.Int(row, column)); }

}  // namespace

WebhookConfig ReadConfig(const Rows& rows, int row, int first) {
  WebhookConfig c;
  c.id = rows.Int(row, first + 0);
  c.organization_id = rows.Int(row, first + 1);
  c.name = rows.Text(row, first + 2);
  c.url = rows.Text(row, first + 3);
  c.event_type_id = Int32(rows, row, first + 4);
  c.attributes_json = rows.Text(row, first + 5);
  c.headers_json = rows.Text(row, first + 6);
  c.active = rows.Bool(row, first + 7);
  c.send_organization_code = rows.Bool(row, first + 8);
  c.version = rows.Int(row, first + 9);
  c.secret = rows.Text(row, first + 10);
  c.previous_secret = rows.Text(row, first + 11);
  c.previous_secret_expires_at = rows.Int(row, first + 12);
  c.is_deleted = rows.Bool(row, first + 13);
  c.created_at = rows.Int(row, first + 14);
  c.updated_at = rows.Int(row, first + 15);
  c.disabled_reason = rows.Text(row, first + 16);
  c.timeout_ms = rows.Int(row, first + 17);
  c.retry_schedule_json = rows.Text(row, first + 18);
  c.failing_since = rows.Int(row, first + 19);
  return c;
}

void BindConfigFields(Params& params, const WebhookConfig& c) {
  params.Int(c.organization_id)
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
      .Int(c.failing_since);
}

Event ReadEvent(const Rows& rows, int row, int first) {
  Event e;
  e.id = rows.Text(row, first + 0);
  e.organization_id = rows.Int(row, first + 1);
  e.event_type_id = Int32(rows, row, first + 2);
  e.payload_json = rows.Text(row, first + 3);
  e.idempotency_key = rows.Text(row, first + 4);
  e.created_at = rows.Int(row, first + 5);
  return e;
}

Delivery ReadDelivery(const Rows& rows, int row, int first) {
  Delivery d;
  d.id = rows.Text(row, first + 0);
  d.event_id = rows.Text(row, first + 1);
  d.config_id = rows.Int(row, first + 2);
  d.organization_id = rows.Int(row, first + 3);
  // The schema's CHECK constraint allows only the four names.
  d.status = ParseDeliveryStatus(rows.Text(row, first + 4)).value_or(DeliveryStatus::kFailed);
  d.attempt_count = Int32(rows, row, first + 5);
  d.next_attempt_at = rows.Int(row, first + 6);
  d.last_status_code = Int32(rows, row, first + 7);
  d.last_error = rows.Text(row, first + 8);
  d.created_at = rows.Int(row, first + 9);
  d.updated_at = rows.Int(row, first + 10);
  return d;
}

bool ReadManualPending(const Rows& rows, int row, int first) { return rows.Bool(row, first + 11); }

ApiKey ReadApiKey(const Rows& rows, int row) {
  ApiKey k;
  k.id = rows.Int(row, 0);
  if (!rows.IsNull(row, 1)) k.organization_id = rows.Int(row, 1);
  k.name = rows.Text(row, 2);
  k.hash = rows.Text(row, 3);
  k.prefix = rows.Text(row, 4);
  k.created_at = rows.Int(row, 5);
  k.revoked_at = rows.Int(row, 6);
  return k;
}

Attempt ReadAttempt(const Rows& rows, int row) {
  Attempt a;
  a.id = rows.Int(row, 0);
  a.delivery_id = rows.Text(row, 1);
  a.attempted_at = rows.Int(row, 2);
  a.duration_ms = rows.Int(row, 3);
  a.request_headers_json = rows.Text(row, 4);
  a.status_code = Int32(rows, row, 5);
  a.response_headers_json = rows.Text(row, 6);
  a.response_body = rows.Bytes(row, 7);
  a.error = rows.Text(row, 8);
  a.manual = rows.Bool(row, 9);
  return a;
}

}  // namespace webhookd::postgres
