// Domain types shared by the API, the store and the dispatcher. Plain data: no behaviour,
// no JSON library. Times are Unix milliseconds (UTC); JSON-valued fields hold serialized,
// already-validated JSON text so that the store can keep them as they are.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace webhookd {

using UnixMillis = std::int64_t;

// How a configuration's deliveries may overtake each other.
enum class DeliveryOrdering {
  kNone,  // any order, several in flight at once
  kFifo,  // ingest order, one in flight; a delivery being retried holds the ones behind it
};

// An organization's subscription of one URL to one event type (Azodha's "external event").
struct WebhookConfig {
  std::int64_t id = 0;  // assigned by the store
  std::int64_t organization_id = 0;
  std::string name;
  std::string url;
  int event_type_id = 0;               // the catalog's id (webhookEventId)
  std::string attributes_json = "{}";  // object; known keys apiKey, organizationCode
  std::string headers_json = "{}";     // object of string -> string, sent with every delivery
  bool active = true;
  bool send_organization_code = false;
  std::int64_t version = 1;
  std::string secret;  // whsec_...
  // The secret replaced by the last rotation, still used to sign until it expires.
  std::string previous_secret;
  UnixMillis previous_secret_expires_at = 0;
  bool is_deleted = false;
  UnixMillis created_at = 0;
  UnixMillis updated_at = 0;
  // Why the platform deactivated it (410 Gone, failing too long); empty when it did not.
  std::string disabled_reason;
  std::int64_t timeout_ms = 0;      // 0: the server's default request timeout
  std::string retry_schedule_json;  // "" or a JSON array of seconds; "": server default
  UnixMillis failing_since = 0;     // first failure of an unbroken run of failures; 0: none
  std::int64_t rate_limit = 0;      // deliveries per second at most; 0: unlimited
  DeliveryOrdering ordering = DeliveryOrdering::kNone;
};

struct ConfigFilter {
  std::optional<std::int64_t> organization_id;
  std::optional<int> event_type_id;
  std::optional<bool> active;
  bool include_deleted = false;
  // "": any; else only configurations whose name or URL contains it, ASCII letters matched
  // without regard to case.
  std::string search;
  int limit = 50;
  std::int64_t after_id = 0;  // cursor: ids strictly greater than this
};

template <class T>
struct Page {
  std::vector<T> items;
  // Opaque continuation for the next page; empty when this is the last page.
  std::string next_cursor;
};

struct ApiKey {
  std::int64_t id = 0;
  std::optional<std::int64_t> organization_id;  // nullopt: admin key (every organization)
  std::string name;
  std::string hash;    // hex SHA-256 of the full key; the key itself is never stored
  std::string prefix;  // first characters of the key, to recognise it in listings
  UnixMillis created_at = 0;
  UnixMillis revoked_at = 0;  // 0: active
};

// ---- Delivery side (events, deliveries, attempts) ----

enum class DeliveryStatus { kPending, kDelivering, kSucceeded, kFailed };

struct Event {
  std::string id;  // evt_<sortable unique id>
  std::int64_t organization_id = 0;
  int event_type_id = 0;
  std::string payload_json;
  std::string idempotency_key;  // empty: none
  UnixMillis created_at = 0;
  // When payload retention erased the payload (now "null") and its attempts' bodies and
  // headers; 0: not erased.
  UnixMillis payload_erased_at = 0;
  int event_type_version = 1;  // the version of the event type whose schema it passed
};

// One stored version of an event type (docs/event-types.md): every version of a type created
// through the API, and versions 2, 3, ... of a built-in type (version 1 is compiled in).
struct StoredEventType {
  int id = 0;  // webhookEventId
  std::string name;
  bool is_inference = false;
  int version = 1;
  std::string description;
  std::string schema_json;
  std::string sample_json;
  std::string sample_headers_json = "{}";
  bool archived = false;      // the type's, whichever version
  UnixMillis created_at = 0;  // of this version
};

struct Delivery {
  std::string id;  // dlv_<sortable unique id>
  std::string event_id;
  std::int64_t config_id = 0;
  std::int64_t organization_id = 0;
  DeliveryStatus status = DeliveryStatus::kPending;
  int attempt_count = 0;
  UnixMillis next_attempt_at = 0;  // meaningful while pending
  int last_status_code = 0;        // 0: no HTTP response
  std::string last_error;
  UnixMillis created_at = 0;
  UnixMillis updated_at = 0;
};

struct Attempt {
  std::int64_t id = 0;
  std::string delivery_id;
  UnixMillis attempted_at = 0;
  std::int64_t duration_ms = 0;
  std::string request_headers_json = "{}";  // secrets masked
  int status_code = 0;                      // 0: no HTTP response
  std::string response_headers_json = "{}";
  std::string response_body;  // first 64 KiB
  std::string error;
  bool manual = false;
};

// ---- Patient data protection (docs/security.md) ----

// One audited request: a change of state, or a read of patient data.
struct AuditEntry {
  std::int64_t id = 0;  // assigned by the store, increasing
  UnixMillis at = 0;
  std::int64_t key_id = 0;
  std::string key_name;                         // the key's name, never the key
  std::optional<std::int64_t> organization_id;  // nullopt: no one organization (an admin's)
  std::string method;                           // "GET", "PUT", ...
  std::string route;                            // the route's pattern, "/events/{id}"
  std::string object_id;                        // the object the request named; "" if none
  std::string address;                          // the caller's IP address
  int status = 0;                               // the HTTP status answered
};

struct AuditFilter {
  std::optional<std::int64_t> organization_id;
  std::optional<std::int64_t> key_id;
  std::optional<std::string> object_id;
  std::optional<UnixMillis> since;   // at >= since
  std::optional<UnixMillis> before;  // at < before
  int limit = 50;
  std::int64_t after_id = 0;  // cursor: ids strictly greater than this
};

// An organization's own retention periods; 0 uses the server's default.
struct OrganizationSettings {
  std::int64_t organization_id = 0;
  std::int64_t retention_ms = 0;          // finished events are purged after this
  std::int64_t payload_retention_ms = 0;  // payloads and attempt bodies are erased after this
};

}  // namespace webhookd
