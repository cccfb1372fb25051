// A webhook configuration as JSON: strict reading of create/replace/patch bodies (every field
// checked, every mistake named by its JSON pointer) and the representation the API returns.
#pragma once

#include <boost/json.hpp>
#include <string_view>

#include "catalog/catalog.hpp"
#include "core/model.hpp"
#include "core/result.hpp"

namespace webhookd::api {

enum class WriteMode {
  kCreate,   // POST: name, url and the event type are required
  kReplace,  // PUT: as create; an absent secret keeps the current one
  kPatch,    // PATCH: only the fields present change
};

struct ConfigRules {
  bool allow_insecure_urls = false;
};

// Validates `body` and applies it to `config`. organizationId is left to the caller (it
// depends on the API key). On error `config` may be partly changed: discard it.
Status ApplyConfigJson(const boost::json::object& body, WriteMode mode, const ConfigRules& rules,
                       const Catalog& catalog, WebhookConfig& config);

// https:// (or http:// when allowed), a host, no credentials, at most 2048 characters.
Status ValidateWebhookUrl(std::string_view url, bool allow_insecure);

// The event type named by webhookEventId, its alias eventId, or eventName (which must agree
// when several are given); nullopt when none is.
Result<std::optional<int>> ReadEventType(const boost::json::object& body, const Catalog& catalog);

boost::json::object ConfigToJson(const WebhookConfig& config, const Catalog& catalog);

}  // namespace webhookd::api
