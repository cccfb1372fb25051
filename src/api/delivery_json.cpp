#include "api/delivery_json.hpp"

#include "core/time_format.hpp"
#include "core/utf8.hpp"

namespace webhookd::api {
namespace {

boost::json::value NullIfZero(std::int64_t v) {
  return v == 0 ? boost::json::value(nullptr) : boost::json::value(v);
}

boost::json::value NullIfEmpty(const std::string& s) {
  return s.empty() ? boost::json::value(nullptr) : boost::json::value(s);
}

// Stored JSON text back as a value; text that is not JSON (it never should be) stays a string.
boost::json::value ParsedOrString(const std::string& text) {
  boost::json::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  return ec ? boost::json::value(text) : v;
}

}  // namespace

boost::json::object DeliveryToJson(const Delivery& d) {
  boost::json::object out;
  out["id"] = d.id;
  out["eventId"] = d.event_id;
  out["externalEventId"] = d.config_id;
  out["organizationId"] = d.organization_id;
  out["status"] = DeliveryStatusName(d.status);
  out["attemptCount"] = d.attempt_count;
  const bool scheduled =
      d.status == DeliveryStatus::kPending && d.next_attempt_at != kWaitingForTurn;
  out["nextAttemptAt"] = scheduled ? boost::json::value(FormatRfc3339(d.next_attempt_at))
                                   : boost::json::value(nullptr);
  out["lastStatusCode"] = NullIfZero(d.last_status_code);
  out["lastError"] = NullIfEmpty(d.last_error);
  out["createdAt"] = FormatRfc3339(d.created_at);
  out["updatedAt"] = FormatRfc3339(d.updated_at);
  return out;
}

boost::json::object AttemptToJson(const Attempt& a) {
  boost::json::object out;
  out["id"] = a.id;
  out["deliveryId"] = a.delivery_id;
  out["attemptedAt"] = FormatRfc3339(a.attempted_at);
  out["durationMs"] = a.duration_ms;
  out["trigger"] = a.manual ? "manual" : "automatic";
  out["requestHeaders"] = ParsedOrString(a.request_headers_json);
  out["statusCode"] = NullIfZero(a.status_code);
  out["responseHeaders"] = ParsedOrString(a.response_headers_json);
  out["responseBody"] = ValidUtf8(a.response_body);
  out["error"] = NullIfEmpty(a.error);
  return out;
}

boost::json::object EventToJson(const Event& event, const Catalog& catalog) {
  const EventType* type = catalog.Find(event.event_type_id);
  boost::json::object out;
  out["id"] = event.id;
  out["organizationId"] = event.organization_id;
  out["webhookEventId"] = event.event_type_id;
  out["eventName"] = type != nullptr ? type->name : "";
  out["eventTypeVersion"] = event.event_type_version;
  out["payload"] = ParsedOrString(event.payload_json);
  out["idempotencyKey"] = NullIfEmpty(event.idempotency_key);
  out["createdAt"] = FormatRfc3339(event.created_at);
  if (event.payload_erased_at == 0) {
    out["payloadErasure"] = nullptr;
  } else {
    out["payloadErasure"] = {{"reason", "retention"},
                             {"erasedAt", FormatRfc3339(event.payload_erased_at)}};
  }
  return out;
}

}  // namespace webhookd::api
