// A configuration's delivery settings worked out once per version of its row: the decoded
// signing keys, the header block that every delivery repeats and the organization code the
// body gets. Each send then adds only what changes per message: the body, webhook-id,
// webhook-timestamp, webhook-signature and x-webhook-event (BuildDeliveryRequest).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "core/model.hpp"
#include "core/result.hpp"
#include "crypto/crypto.hpp"
#include "delivery/http_client.hpp"

namespace webhookd::delivery {

// "webhookd/<version>".
std::string DefaultUserAgent();

struct RequestSettings {
  std::string user_agent = DefaultUserAgent();
  std::int64_t connect_timeout_ms = 5'000;
  std::int64_t timeout_ms = 15'000;
};

// Positions in PreparedConfig::headers() of the values each send fills in: the headers that
// the signature covers come first, so configured headers can neither replace nor move them.
inline constexpr std::size_t kWebhookIdHeader = 2;
inline constexpr std::size_t kWebhookTimestampHeader = 3;
inline constexpr std::size_t kWebhookSignatureHeader = 4;
inline constexpr std::size_t kWebhookEventHeader = 5;

// Immutable once built; the dispatcher keeps one per configuration queue and builds a new one
// when IsFor() says the row (or the settings) changed.
class PreparedConfig {
 public:
  // Never fails: a secret that cannot be decoded is kept as its error, which each send reports
  // (the attempt fails without a request, as it would unprepared).
  PreparedConfig(const WebhookConfig& config, const RequestSettings& settings);

  // Whether preparing `config` with `settings` would give this same form, so it can be reused.
  bool IsFor(const WebhookConfig& config, const RequestSettings& settings) const;

  const std::string& url() const { return url_; }
  std::int64_t connect_timeout_ms() const { return settings_.connect_timeout_ms; }
  std::int64_t timeout_ms() const { return settings_.timeout_ms; }
  // Every header in sending order, with empty values at the kWebhook*Header positions, except
  // x-webhook-event when a configured header gave it a value.
  const HttpHeaders& headers() const { return headers_; }
  bool event_header_configured() const { return event_header_configured_; }
  // Added to the body as "organizationCode"; empty: the body is the payload as it is.
  const std::string& body_organization_code() const { return body_organization_code_; }
  // The secret's HMAC key, or why the secret cannot be used.
  const Result<crypto::HmacSha256Key>& key() const { return key_; }
  // The previous secret's key while it signs too: at `now` before its expiry.
  const Result<crypto::HmacSha256Key>* previous_key(UnixMillis now) const;

 private:
  // What the prepared form was built from, for IsFor().
  std::string url_;
  std::string secret_;
  std::string previous_secret_;
  UnixMillis previous_secret_expires_at_ = 0;
  std::string attributes_json_;
  std::string headers_json_;
  bool send_organization_code_ = false;
  RequestSettings settings_;

  HttpHeaders headers_;
  bool event_header_configured_ = false;
  std::string body_organization_code_;
  Result<crypto::HmacSha256Key> key_;
  std::optional<Result<crypto::HmacSha256Key>> previous_key_;  // nullopt: no previous secret
};

}  // namespace webhookd::delivery
