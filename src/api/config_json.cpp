#include "api/config_json.hpp"

#include <fmt/core.h>

#include <array>
#include <boost/url/parse.hpp>
#include <charconv>
#include <set>

#include "api/json_io.hpp"
#include "core/delivery_status.hpp"
#include "core/text.hpp"
#include "core/time_format.hpp"
#include "crypto/secret.hpp"

namespace webhookd::api {
namespace {

constexpr std::size_t kMaxNameLength = 200;
constexpr std::size_t kMaxUrlLength = 2048;
constexpr std::size_t kMaxHeaders = 50;
constexpr std::size_t kMaxHeaderValueLength = 4096;
constexpr std::size_t kMaxAttributesBytes = 16 * 1024;
constexpr std::int64_t kMinTimeoutMs = 100;
constexpr std::int64_t kMaxTimeoutMs = 60'000;
constexpr std::size_t kMaxRetrySteps = 20;
constexpr std::int64_t kMaxRetryWaitSeconds = 7 * 24 * 3600;
constexpr std::int64_t kMaxRateLimit = 100'000;

// Fields a client may send back unchanged from a GET; they are ignored on input.
constexpr std::array<std::string_view, 22> kKnownFields = {"organizationId",
                                                           "name",
                                                           "url",
                                                           "webhookEventId",
                                                           "eventId",
                                                           "eventName",
                                                           "attributes",
                                                           "headers",
                                                           "active",
                                                           "sendOrganizationCode",
                                                           "version",
                                                           "secret",
                                                           "timeoutMs",
                                                           "retrySchedule",
                                                           "rateLimit",
                                                           "ordering",
                                                           "id",
                                                           "isDeleted",
                                                           "createdAt",
                                                           "updatedAt",
                                                           "disabledReason",
                                                           "previousSecretExpiresAt"};

// The one list of headers a configuration cannot set: those that frame the request or only
// make sense per connection (curl and the receiver's server must agree on them), and those that
// webhookd sets itself (what the signature covers, the event and attribute headers).
const std::set<std::string, std::less<>> kReservedHeaders = {"connection",
                                                             "keep-alive",
                                                             "te",
                                                             "trailer",
                                                             "transfer-encoding",
                                                             "upgrade",
                                                             "expect",
                                                             "host",
                                                             "content-length",
                                                             "content-type",
                                                             "content-encoding",
                                                             "user-agent",
                                                             "x-webhook-event",
                                                             "x-api-key",
                                                             "x-organization-code"};
// Proxy-* headers are for proxies; webhook-* are the Standard Webhooks signature headers.
constexpr std::array<std::string_view, 2> kReservedHeaderPrefixes = {"proxy-", "webhook-"};

bool IsReservedHeader(std::string_view lowercase_name) {
  if (kReservedHeaders.contains(lowercase_name)) return true;
  for (std::string_view prefix : kReservedHeaderPrefixes) {
    if (lowercase_name.starts_with(prefix)) return true;
  }
  return false;
}

// "localhost" and its subdomains always resolve to loopback addresses (RFC 6761).
bool IsLocalhost(std::string_view host) {
  if (host.ends_with('.')) host.remove_suffix(1);
  return host == "localhost" || host.ends_with(".localhost");
}

// The IPv4 or IPv6 address a URL names as its host, or nullopt for a name.
std::optional<delivery::IpAddress> AddressLiteral(const boost::urls::url_view& url) {
  switch (url.host_type()) {
    case boost::urls::host_type::ipv4:
      return delivery::IpAddress::Parse(url.host_ipv4_address().to_string());
    case boost::urls::host_type::ipv6:
      return delivery::IpAddress::Parse(url.host_ipv6_address().to_string());
    default:
      return std::nullopt;
  }
}

// Boost.URL accepts any run of digits, or none, as a port.
bool IsPortNumber(std::string_view digits) {
  int port = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  return ec == std::errc() && end == digits.data() + digits.size() && port >= 1 && port <= 65535;
}

bool IsTokenChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

Status ValidateHeaderName(std::string_view name, const std::string& field) {
  if (name.empty() || name.size() > 256) {
    return Error::Invalid("header names must have 1 to 256 characters", field);
  }
  for (char c : name) {
    if (!IsTokenChar(c)) {
      return Error::Invalid(fmt::format("'{}' is not a valid HTTP header name", name), field);
    }
  }
  if (IsReservedHeader(Lowercase(name))) {
    return Error::Invalid(
        fmt::format("header '{}' is set by webhookd or is hop-by-hop and cannot be configured",
                    name),
        field);
  }
  return Status::Ok();
}

Result<std::string> ReadHeaders(const boost::json::object& body) {
  Result<std::optional<boost::json::object>> headers = OptionalObject(body, "headers");
  if (!headers.ok()) return headers.error();
  if (!headers->has_value()) return std::string("{}");
  if ((*headers)->size() > kMaxHeaders) {
    return Error::Invalid("at most " + std::to_string(kMaxHeaders) + " headers", "/headers");
  }
  std::set<std::string> seen;
  for (const auto& [name, value] : **headers) {
    const std::string field = PointerTo("/headers", name);
    if (Status s = ValidateHeaderName(name, field); !s.ok()) return s.error();
    if (!seen.insert(Lowercase(name)).second) {
      return Error::Invalid(fmt::format("header '{}' is given twice", std::string_view(name)),
                            field);
    }
    if (!value.is_string()) return Error::Invalid("header values must be strings", field);
    const boost::json::string& text = value.as_string();
    if (text.size() > kMaxHeaderValueLength) {
      return Error::Invalid("header values are limited to 4096 characters", field);
    }
    if (Status s = RejectControlCharacters(text, "header values", field); !s.ok()) {
      return s.error();
    }
  }
  return boost::json::serialize(**headers);
}

Result<std::string> ReadAttributes(const boost::json::object& body) {
  Result<std::optional<boost::json::object>> attributes = OptionalObject(body, "attributes");
  if (!attributes.ok()) return attributes.error();
  if (!attributes->has_value()) return std::string("{}");
  for (std::string_view known : {"apiKey", "organizationCode"}) {
    const boost::json::value* v = (*attributes)->if_contains(known);
    if (v == nullptr || v->is_null()) continue;
    const std::string field = PointerTo("/attributes", known);
    if (!v->is_string()) return Error::Invalid(std::string(known) + " must be a string", field);
    if (Status s = RejectControlCharacters(v->as_string(), known, field); !s.ok()) {
      return s.error();
    }
  }
  std::string text = boost::json::serialize(**attributes);
  if (text.size() > kMaxAttributesBytes) {
    return Error::Invalid("attributes are limited to 16 KiB of JSON", "/attributes");
  }
  return text;
}

Result<std::string> ReadRetrySchedule(const boost::json::value& v) {
  if (!v.is_array() || v.as_array().empty() || v.as_array().size() > kMaxRetrySteps) {
    return Error::Invalid("retrySchedule must be an array of 1 to 20 waits in seconds",
                          "/retrySchedule");
  }
  const boost::json::array& steps = v.as_array();
  for (std::size_t i = 0; i < steps.size(); ++i) {
    if (!IntegerIn(steps[i], {0, kMaxRetryWaitSeconds})) {
      return Error::Invalid("each wait must be an integer from 0 to 604800 seconds",
                            "/retrySchedule/" + std::to_string(i));
    }
  }
  return boost::json::serialize(steps);
}

Status ApplyRequiredFields(const boost::json::object& body, WriteMode mode,
                           const ConfigRules& rules, const Catalog& catalog,
                           WebhookConfig& config) {
  const bool required = mode != WriteMode::kPatch;
  Result<std::optional<std::string>> name = OptionalSingleLine(body, "name", kMaxNameLength);
  if (!name.ok()) return name.error();
  if (name->has_value()) {
    if ((*name)->empty()) return Error::Invalid("name cannot be empty", "/name");
    config.name = **name;
  } else if (required) {
    return Error::Invalid("name is required", "/name");
  }

  Result<std::optional<std::string>> url = OptionalString(body, "url", kMaxUrlLength);
  if (!url.ok()) return url.error();
  if (url->has_value()) {
    if (Status s = ValidateWebhookUrl(**url, rules.allow_insecure_urls); !s.ok()) return s;
    if (rules.ssrf_guard != nullptr) {
      if (Status s = CheckUrlTarget(**url, *rules.ssrf_guard); !s.ok()) return s;
    }
    config.url = **url;
  } else if (required) {
    return Error::Invalid("url is required", "/url");
  }

  Result<std::optional<int>> type = ReadEventType(body, catalog);
  if (!type.ok()) return type.error();
  if (type->has_value()) {
    config.event_type_id = **type;
  } else if (required) {
    return Error::Invalid("webhookEventId or eventName is required", "/webhookEventId");
  }
  return Status::Ok();
}

// rateLimit (deliveries per second, null: unlimited) and ordering ("none" or "fifo").
Status ApplyDeliveryShape(const boost::json::object& body, WebhookConfig& config) {
  if (body.contains("rateLimit")) {
    Result<std::optional<std::int64_t>> rate =
        OptionalInteger(body, "rateLimit", {1, kMaxRateLimit});
    if (!rate.ok()) {
      return Error::Invalid("rateLimit must be null (unlimited) or an integer from 1 to " +
                                std::to_string(kMaxRateLimit) + " (deliveries per second)",
                            "/rateLimit");
    }
    config.rate_limit = rate->value_or(0);  // null: unlimited
  }
  if (const boost::json::value* v = body.if_contains("ordering")) {
    std::optional<DeliveryOrdering> ordering;
    if (v->is_string()) ordering = ParseDeliveryOrdering(v->as_string());
    if (!ordering) return Error::Invalid("ordering must be \"none\" or \"fifo\"", "/ordering");
    config.ordering = *ordering;
  }
  return Status::Ok();
}

Status ApplyOptionalFields(const boost::json::object& body, WebhookConfig& config) {
  if (body.contains("attributes")) {
    Result<std::string> attributes = ReadAttributes(body);
    if (!attributes.ok()) return attributes.error();
    config.attributes_json = *attributes;
  }
  if (body.contains("headers")) {
    Result<std::string> headers = ReadHeaders(body);
    if (!headers.ok()) return headers.error();
    config.headers_json = *headers;
  }
  Result<std::optional<bool>> active = OptionalBool(body, "active");
  if (!active.ok()) return active.error();
  if (active->has_value()) config.active = **active;

  Result<std::optional<bool>> send_code = OptionalBool(body, "sendOrganizationCode");
  if (!send_code.ok()) return send_code.error();
  if (send_code->has_value()) config.send_organization_code = **send_code;

  Result<std::optional<std::int64_t>> version = OptionalInteger(body, "version", kPositiveIntegers);
  if (!version.ok()) return version.error();
  if (version->has_value()) config.version = **version;

  Result<std::optional<std::string>> secret = OptionalString(body, "secret", 200);
  if (!secret.ok()) return secret.error();
  if (secret->has_value()) {
    Result<std::string> decoded = crypto::DecodeSecret(**secret);
    if (!decoded.ok()) return Error::Invalid(decoded.error().message, "/secret");
    config.secret = **secret;
  }

  if (body.contains("timeoutMs")) {
    Result<std::optional<std::int64_t>> timeout =
        OptionalInteger(body, "timeoutMs", {kMinTimeoutMs, kMaxTimeoutMs});
    if (!timeout.ok()) return timeout.error();
    config.timeout_ms = timeout->value_or(0);  // null: the server's request timeout
  }
  if (const boost::json::value* v = body.if_contains("retrySchedule")) {
    if (v->is_null()) {
      config.retry_schedule_json.clear();
    } else {
      Result<std::string> schedule = ReadRetrySchedule(*v);
      if (!schedule.ok()) return schedule.error();
      config.retry_schedule_json = *schedule;
    }
  }
  return ApplyDeliveryShape(body, config);
}

boost::json::value OptionalTime(UnixMillis t) {
  if (t == 0) return nullptr;
  return boost::json::value(FormatRfc3339(t));
}

}  // namespace

Status ValidateWebhookUrl(std::string_view url, bool allow_insecure) {
  if (url.size() > kMaxUrlLength)
    return Error::Invalid("url is longer than 2048 characters", "/url");
  auto parsed = boost::urls::parse_uri(url);  // fragments too, to refuse them by name
  if (!parsed) return Error::Invalid("url is not an absolute URL", "/url");
  const std::string scheme = Lowercase(parsed->scheme());
  if (scheme == "http" && !allow_insecure) {
    return Error::Invalid(
        "url must use https:// (http:// is accepted only when the server runs with "
        "--allow-insecure-urls or WEBHOOKD_ALLOW_INSECURE_URLS=true)",
        "/url");
  }
  if (scheme != "https" && scheme != "http") {
    return Error::Invalid("url must use https://", "/url");
  }
  if (parsed->has_userinfo()) {
    return Error::Invalid("url cannot contain credentials (user:password@)", "/url");
  }
  if (parsed->encoded_host().empty()) return Error::Invalid("url has no host", "/url");
  if (parsed->encoded_host().find('%') != boost::core::string_view::npos) {
    return Error::Invalid("url host cannot contain percent-encoded characters", "/url");
  }
  if (parsed->has_port() && !IsPortNumber(parsed->port())) {
    return Error::Invalid("url port must be a number from 1 to 65535", "/url");
  }
  if (parsed->has_fragment()) {
    return Error::Invalid("url cannot contain a fragment (#...): it is never sent to a receiver",
                          "/url");
  }
  return Status::Ok();
}

Status CheckUrlTarget(std::string_view url, const delivery::SsrfGuard& guard) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) return Status::Ok();  // ValidateWebhookUrl says why
  std::vector<delivery::IpAddress> addresses;
  if (parsed->host_type() == boost::urls::host_type::name) {
    if (!IsLocalhost(Lowercase(parsed->host_address()))) return Status::Ok();
    addresses = {*delivery::IpAddress::Parse("127.0.0.1"), *delivery::IpAddress::Parse("::1")};
  } else if (std::optional<delivery::IpAddress> literal = AddressLiteral(*parsed)) {
    addresses = {*literal};
  }
  if (addresses.empty()) return Status::Ok();
  // A name with several addresses is reachable when the guard lets any of them through.
  for (const delivery::IpAddress& address : addresses) {
    if (guard.Check(address).allowed) return Status::Ok();
  }
  return Error::Invalid("url would never be delivered: " + guard.Check(addresses.front()).message,
                        "/url");
}

Result<std::optional<int>> ReadEventType(const boost::json::object& body, const Catalog& catalog) {
  std::optional<int> id;
  std::string id_field;
  for (std::string_view key : {"webhookEventId", "eventId"}) {
    Result<std::optional<std::int64_t>> value = OptionalInteger(body, key, {1, kMaxEventTypeId});
    if (!value.ok()) return value.error();
    if (!value->has_value()) continue;
    const std::string field = PointerTo("", key);
    if (catalog.Find(static_cast<int>(**value)) == nullptr) {
      return Error::Invalid(
          "unknown " + std::string(key) + " " + std::to_string(**value) + " (see GET /event-types)",
          field);
    }
    if (id && *id != **value) {
      return Error::Invalid("webhookEventId and eventId disagree", field);
    }
    id = static_cast<int>(**value);
    id_field = field;
  }
  Result<std::optional<std::string>> name = OptionalString(body, "eventName", 100);
  if (!name.ok()) return name.error();
  if (name->has_value()) {
    const EventType* type = catalog.Find(**name);
    if (type == nullptr) {
      return Error::Invalid("unknown eventName '" + **name + "' (see GET /event-types)",
                            "/eventName");
    }
    if (id && *id != type->id) {
      return Error::Invalid("eventName " + **name + " is event type " + std::to_string(type->id) +
                                ", but " + id_field.substr(1) + " is " + std::to_string(*id),
                            "/eventName");
    }
    id = type->id;
  }
  if (id) {
    const EventType* type = catalog.Find(*id);
    if (type->archived) {
      return Error::Invalid("event type " + type->name +
                                " is archived: it takes no new configurations or events "
                                "(deliveries already accepted still go out)",
                            name->has_value() ? "/eventName" : id_field);
    }
  }
  return id;
}

Status ApplyConfigJson(const boost::json::object& body, WriteMode mode, const ConfigRules& rules,
                       const Catalog& catalog, WebhookConfig& config) {
  if (Status s = RejectUnknownFields(body, kKnownFields); !s.ok()) return s;
  if (Status s = ApplyRequiredFields(body, mode, rules, catalog, config); !s.ok()) return s;
  return ApplyOptionalFields(body, config);
}

boost::json::object ConfigToJson(const WebhookConfig& config, const Catalog& catalog) {
  const EventType* type = catalog.Find(config.event_type_id);
  boost::json::object out;
  out["id"] = config.id;
  out["organizationId"] = config.organization_id;
  out["name"] = config.name;
  out["url"] = config.url;
  out["webhookEventId"] = config.event_type_id;
  out["eventName"] = type != nullptr ? type->name : "";
  out["attributes"] = boost::json::parse(config.attributes_json);
  out["headers"] = boost::json::parse(config.headers_json);
  out["active"] = config.active;
  out["sendOrganizationCode"] = config.send_organization_code;
  out["version"] = config.version;
  out["secret"] = config.secret;
  out["previousSecretExpiresAt"] = config.previous_secret.empty()
                                       ? boost::json::value(nullptr)
                                       : OptionalTime(config.previous_secret_expires_at);
  out["isDeleted"] = config.is_deleted;
  out["disabledReason"] = config.disabled_reason.empty()
                              ? boost::json::value(nullptr)
                              : boost::json::value(config.disabled_reason);
  out["timeoutMs"] =
      config.timeout_ms == 0 ? boost::json::value(nullptr) : boost::json::value(config.timeout_ms);
  out["retrySchedule"] = config.retry_schedule_json.empty()
                             ? boost::json::value(nullptr)
                             : boost::json::parse(config.retry_schedule_json);
  out["rateLimit"] =
      config.rate_limit == 0 ? boost::json::value(nullptr) : boost::json::value(config.rate_limit);
  out["ordering"] = DeliveryOrderingName(config.ordering);
  out["createdAt"] = FormatRfc3339(config.created_at);
  out["updatedAt"] = FormatRfc3339(config.updated_at);
  return out;
}

}  // namespace webhookd::api
