// The signed POST a receiver gets for one delivery attempt (Standard Webhooks), and the
// masked copy of its headers that the attempt log keeps.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/model.hpp"
#include "core/result.hpp"
#include "delivery/http_client.hpp"
#include "delivery/prepared_config.hpp"

namespace webhookd::delivery {

struct MessageToSend {
  std::string_view event_id;    // webhook-id: the same for every retry and configuration
  std::string_view event_name;  // x-webhook-event, the catalog name
  std::string_view payload_json;
  UnixMillis now = 0;  // webhook-timestamp is its Unix seconds
};

// POST to config.url. Body: the payload, plus a top-level "organizationCode" when
// config.send_organization_code and attributes.organizationCode is set (and the payload is an
// object). Headers, in order: content-type, user-agent, webhook-id, webhook-timestamp,
// webhook-signature (one "v1,<sig>" with the secret, and a second, space-separated, with the
// previous secret while previous_secret_expires_at > now), x-webhook-event, x-api-key and
// x-organization-code from the attributes when set, then config.headers_json. Configured
// headers replace built-in ones of the same name, except content-type and webhook-*, which
// define what the signature covers and are never replaced.
// Error::Invalid when a secret cannot be decoded.
Result<HttpRequest> BuildDeliveryRequest(const WebhookConfig& config, const MessageToSend& message,
                                         const RequestSettings& settings);
// The same request from the configuration prepared once (what the dispatcher sends): only the
// body, webhook-id, webhook-timestamp, webhook-signature and x-webhook-event are made per send.
Result<HttpRequest> BuildDeliveryRequest(const PreparedConfig& prepared,
                                         const MessageToSend& message);

// The headers with secrets masked, for the attempt log: x-api-key, authorization, cookies and
// any header whose name mentions a key, token, secret or password keep their first 4
// characters ("whk_****"); each webhook-signature keeps its version and first 4 characters
// ("v1,K5oZ****"). Short values are masked entirely.
HttpHeaders MaskSecrets(const HttpHeaders& headers);

// A JSON object of name -> value; values of a repeated name are joined with ", ".
std::string HeadersToJson(const HttpHeaders& headers);

// How the attempt log keeps a header's value (MaskSecrets), decided by the header's name.
enum class HeaderMask : unsigned char { kShown, kSignatures, kPartly };

// HeadersToJson(MaskSecrets(sent)) for the headers BuildDeliveryRequest(prepared, ...) sends,
// from text made once per prepared configuration: only the values made per send (webhook-id,
// webhook-timestamp, webhook-signature, and x-webhook-event unless configured) are masked and
// written each time. Masking and writing every header anew was about a twentieth of the
// dispatcher's thread per delivery.
class RecordedHeadersForm {
 public:
  explicit RecordedHeadersForm(const PreparedConfig& prepared);
  std::string Render(const HttpHeaders& sent) const;

 private:
  // pieces_[k] comes before the value of header slots_[k]; the last piece closes the object.
  std::vector<std::string> pieces_;
  std::vector<std::size_t> slots_;
  std::vector<HeaderMask> slot_masks_;  // by slot, decided once from the names
  std::size_t header_count_ = 0;
  bool whole_ = false;  // a name repeats: HeadersToJson joins its values, so render it whole
};

}  // namespace webhookd::delivery
