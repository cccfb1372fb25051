#include "delivery/request_builder.hpp"

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <cctype>

#include "core/utf8.hpp"
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

constexpr std::array<std::string_view, 4> kSecretHeaders = {"x-api-key", "authorization",
                                                            "proxy-authorization", "cookie"};
constexpr std::array<std::string_view, 5> kSecretNameParts = {"key", "token", "secret", "password",
                                                              "signature"};

// Values shorter than this are masked entirely: 4 visible characters would be too much of them.
constexpr std::size_t kMinPartlyShownLength = 12;
constexpr std::size_t kShownCharacters = 4;

std::string Lowercase(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower;
}

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

std::string BodyWithOrganizationCode(std::string_view payload_json,
                                     const std::string& organization_code) {
  boost::system::error_code ec;
  json::value payload = json::parse(payload_json, ec);
  if (ec || !payload.is_object()) return std::string(payload_json);
  payload.as_object()["organizationCode"] = organization_code;
  return json::serialize(payload);
}

Result<std::string> Signatures(const WebhookConfig& config, const MessageToSend& message,
                               std::string_view timestamp, std::string_view body) {
  Result<std::string> key = crypto::DecodeSecret(config.secret);
  if (!key.ok()) return Error::Invalid("the configuration's secret: " + key.error().message);
  std::string signatures = crypto::SignV1(*key, message.event_id, timestamp, body);
  if (!config.previous_secret.empty() && config.previous_secret_expires_at > message.now) {
    Result<std::string> previous = crypto::DecodeSecret(config.previous_secret);
    if (!previous.ok()) {
      return Error::Invalid("the configuration's previous secret: " + previous.error().message);
    }
    signatures.append(" ").append(crypto::SignV1(*previous, message.event_id, timestamp, body));
  }
  return signatures;
}

void AddConfiguredHeaders(std::string_view headers_json, HttpHeaders& headers) {
  for (const auto& [name, value] : ParseObject(headers_json)) {
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

bool IsSecretHeader(std::string_view lowercase_name) {
  if (std::find(kSecretHeaders.begin(), kSecretHeaders.end(), lowercase_name) !=
      kSecretHeaders.end()) {
    return true;
  }
  return std::any_of(kSecretNameParts.begin(), kSecretNameParts.end(), [&](std::string_view part) {
    return lowercase_name.find(part) != std::string_view::npos;
  });
}

std::string MaskValue(std::string_view value) {
  if (value.size() < kMinPartlyShownLength) return "****";
  return std::string(value.substr(0, kShownCharacters)) + "****";
}

// "v1,<sig> v1,<sig>" -> "v1,<4 chars>**** v1,<4 chars>****".
std::string MaskSignatures(std::string_view value) {
  std::string masked;
  std::size_t start = 0;
  while (start < value.size()) {
    std::size_t end = std::min(value.find(' ', start), value.size());
    std::string_view signature = value.substr(start, end - start);
    std::size_t comma = signature.find(',');
    if (!masked.empty()) masked += ' ';
    if (comma == std::string_view::npos) {
      masked += MaskValue(signature);
    } else {
      std::string_view tag = signature.substr(comma + 1);
      masked += std::string(signature.substr(0, comma + 1)) +
                std::string(tag.substr(0, std::min(kShownCharacters, tag.size() / 4))) + "****";
    }
    start = end + 1;
  }
  return masked;
}

}  // namespace

std::string DefaultUserAgent() { return "webhookd/" WEBHOOKD_VERSION; }

Result<HttpRequest> BuildDeliveryRequest(const WebhookConfig& config, const MessageToSend& message,
                                         const RequestSettings& settings) {
  json::object attributes = ParseObject(config.attributes_json);
  std::string api_key = StringAttribute(attributes, "apiKey");
  std::string organization_code = StringAttribute(attributes, "organizationCode");

  HttpRequest request;
  request.url = config.url;
  request.connect_timeout_ms = settings.connect_timeout_ms;
  request.timeout_ms = settings.timeout_ms;
  request.body = config.send_organization_code && !organization_code.empty()
                     ? BodyWithOrganizationCode(message.payload_json, organization_code)
                     : std::string(message.payload_json);

  std::string timestamp = std::to_string(message.now / 1000);
  Result<std::string> signatures = Signatures(config, message, timestamp, request.body);
  if (!signatures.ok()) return signatures.error();

  request.headers = {
      {"content-type", "application/json"},
      {"user-agent", settings.user_agent},
      {"webhook-id", std::string(message.event_id)},
      {"webhook-timestamp", timestamp},
      {"webhook-signature", std::move(*signatures)},
      {"x-webhook-event", std::string(message.event_name)},
  };
  if (!api_key.empty()) request.headers.emplace_back("x-api-key", api_key);
  if (!organization_code.empty()) {
    request.headers.emplace_back("x-organization-code", organization_code);
  }
  AddConfiguredHeaders(config.headers_json, request.headers);
  return request;
}

HttpHeaders MaskSecrets(const HttpHeaders& headers) {
  HttpHeaders masked;
  masked.reserve(headers.size());
  for (const auto& [name, value] : headers) {
    std::string lower = Lowercase(name);
    if (lower == "webhook-signature") {
      masked.emplace_back(name, MaskSignatures(value));
    } else if (IsSecretHeader(lower)) {
      masked.emplace_back(name, MaskValue(value));
    } else {
      masked.emplace_back(name, value);
    }
  }
  return masked;
}

std::string HeadersToJson(const HttpHeaders& headers) {
  json::object object;
  for (const auto& [name, value] : headers) {
    // A receiver's bytes need not be UTF-8, and JSON text (and PostgreSQL's) must be.
    const std::string text = ValidUtf8(value);
    auto [it, inserted] = object.emplace(ValidUtf8(name), text);
    if (!inserted) it->value().as_string().append(", ").append(text);
  }
  return json::serialize(object);
}

}  // namespace webhookd::delivery
