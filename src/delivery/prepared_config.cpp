#include "delivery/prepared_config.hpp"

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <string_view>

#include "core/text.hpp"
#include "crypto/secret.hpp"

#ifndef WEBHOOKD_VERSION
#error "WEBHOOKD_VERSION must be defined by the build"
#endif

namespace webhookd::delivery {
namespace {

namespace json = boost::json;

// Headers that determine what the signature covers; configuration headers cannot replace them.
constexpr std::array<std::string_view, 4> kProtectedHeaders = {
    "content-type", "webhook-id", "webhook-timestamp", "webhook-signature"};

// Parses a JSON object; anything else (already validated upstream) counts as empty.
json::object ParseObject(std::string_view text) {
  boost::system::error_code ec;
  json::value value = json::parse(text, ec);
  if (ec || !value.is_object()) return {};
  return std::move(value.as_object());
}

std::string AsText(const json::value& value) {
  if (value.is_string()) return std::string(value.as_string());
  return json::serialize(value);
}

std::string StringAttribute(const json::object& attributes, std::string_view key) {
  const json::value* value = attributes.if_contains(key);
  if (value == nullptr || value->is_null()) return {};
  return AsText(*value);
}

// Configured headers replace built-in ones of the same name (case-insensitively), except the
// protected ones; the others are appended in their configured spelling.
void AddConfiguredHeaders(const json::object& configured, HttpHeaders& headers) {
  for (const auto& [name, value] : configured) {
    std::string lower = Lowercase(name);
    if (std::find(kProtectedHeaders.begin(), kProtectedHeaders.end(), lower) !=
        kProtectedHeaders.end()) {
      continue;
    }
    auto same_name = std::find_if(headers.begin(), headers.end(),
                                  [&](const auto& header) { return header.first == lower; });
    if (same_name != headers.end()) {
      same_name->second = AsText(value);
    } else {
      headers.emplace_back(std::string(name), AsText(value));
    }
  }
}

Result<crypto::HmacSha256Key> DecodeKey(std::string_view secret, std::string_view which) {
  Result<std::string> key = crypto::DecodeSecret(secret);
  if (!key.ok()) {
    return Error::Invalid("the configuration's " + std::string(which) + ": " + key.error().message);
  }
  return crypto::HmacSha256Key(*key);
}

}  // namespace

std::string DefaultUserAgent() { return "webhookd/" WEBHOOKD_VERSION; }

PreparedConfig::PreparedConfig(const WebhookConfig& config, const RequestSettings& settings)
    : url_(config.url),
      secret_(config.secret),
      previous_secret_(config.previous_secret),
      previous_secret_expires_at_(config.previous_secret_expires_at),
      attributes_json_(config.attributes_json),
      headers_json_(config.headers_json),
      send_organization_code_(config.send_organization_code),
      settings_(settings),
      key_(DecodeKey(config.secret, "secret")) {
  if (!config.previous_secret.empty()) {
    previous_key_ = DecodeKey(config.previous_secret, "previous secret");
  }
  const json::object attributes = ParseObject(config.attributes_json);
  const std::string api_key = StringAttribute(attributes, "apiKey");
  const std::string organization_code = StringAttribute(attributes, "organizationCode");
  if (config.send_organization_code) body_organization_code_ = organization_code;

  headers_ = {
      {"content-type", "application/json"},
      {"user-agent", settings.user_agent},
      {"webhook-id", ""},
      {"webhook-timestamp", ""},
      {"webhook-signature", ""},
      {"x-webhook-event", ""},
  };
  if (!api_key.empty()) headers_.emplace_back("x-api-key", api_key);
  if (!organization_code.empty()) headers_.emplace_back("x-organization-code", organization_code);
  const json::object configured = ParseObject(config.headers_json);
  AddConfiguredHeaders(configured, headers_);
  event_header_configured_ =
      std::any_of(configured.begin(), configured.end(),
                  [](const auto& header) { return Lowercase(header.key()) == "x-webhook-event"; });
}

bool PreparedConfig::IsFor(const WebhookConfig& config, const RequestSettings& settings) const {
  return url_ == config.url && secret_ == config.secret &&
         previous_secret_ == config.previous_secret &&
         previous_secret_expires_at_ == config.previous_secret_expires_at &&
         attributes_json_ == config.attributes_json && headers_json_ == config.headers_json &&
         send_organization_code_ == config.send_organization_code &&
         settings_.user_agent == settings.user_agent &&
         settings_.connect_timeout_ms == settings.connect_timeout_ms &&
         settings_.timeout_ms == settings.timeout_ms;
}

const Result<crypto::HmacSha256Key>* PreparedConfig::previous_key(UnixMillis now) const {
  if (!previous_key_ || previous_secret_expires_at_ <= now) return nullptr;
  return &*previous_key_;
}

}  // namespace webhookd::delivery
