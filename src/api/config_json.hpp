// A webhook configuration as JSON: strict reading of create/replace/patch bodies (every field
// checked, every mistake named by its JSON pointer) and the representation the API returns.
#pragma once

#include <boost/json.hpp>
#include <string_view>

#include "catalog/catalog.hpp"
#include "core/model.hpp"
#include "core/result.hpp"
#include "delivery/ssrf_guard.hpp"

namespace webhookd::api {

enum class WriteMode {
  kCreate,   // POST: name, url and the event type are required
  kReplace,  // PUT: as create; an absent secret keeps the current one
  kPatch,    // PATCH: only the fields present change
};

struct ConfigRules {
  bool allow_insecure_urls = false;
  // When set, a url whose host is an address literal (or localhost) that this guard refuses is
  // refused at once; otherwise it would be refused at every delivery.
  const delivery::SsrfGuard* ssrf_guard = nullptr;
};

// Validates `body` and applies it to `config`. organizationId is left to the caller (it
// depends on the API key). On error `config` may be partly changed: discard it.
Status ApplyConfigJson(const boost::json::object& body, WriteMode mode, const ConfigRules& rules,
                       const Catalog& catalog, WebhookConfig& config);

// https:// (or http:// when allowed), a host, no credentials, at most 2048 characters.
Status ValidateWebhookUrl(std::string_view url, bool allow_insecure);

// Error::Invalid at /url, with the guard's own reason, when `url` (already valid) names its
// host by an IP literal or as localhost and `guard` refuses that address. Names that resolve
// to refused addresses are left to the check at connect time.
Status CheckUrlTarget(std::string_view url, const delivery::SsrfGuard& guard);

// The event type named by webhookEventId, its alias eventId, or eventName (which must agree
// when several are given); nullopt when none is. An archived type is Error::Invalid: it takes no
// new configurations or events.
Result<std::optional<int>> ReadEventType(const boost::json::object& body, const Catalog& catalog);

boost::json::object ConfigToJson(const WebhookConfig& config, const Catalog& catalog);

}  // namespace webhookd::api
