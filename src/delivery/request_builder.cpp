#include "delivery/request_builder.hpp"

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <string>
#include <vector>

#include "core/text.hpp"
#include "core/utf8.hpp"
#include "crypto/secret.hpp"

namespace webhookd::delivery {
namespace {

namespace json = boost::json;

constexpr std::array<std::string_view, 4> kSecretHeaders = {"x-api-key", "authorization",
                                                            "proxy-authorization", "cookie"};
constexpr std::array<std::string_view, 5> kSecretNameParts = {"key", "token", "secret", "password",
                                                              "signature"};

// Values shorter than this are masked entirely: 4 visible characters would be too much of them.
constexpr std::size_t kMinPartlyShownLength = 12;
constexpr std::size_t kShownCharacters = 4;

std::string BodyWithOrganizationCode(std::string_view payload_json,
                                     const std::string& organization_code) {
  boost::system::error_code ec;
  json::value payload = json::parse(payload_json, ec);
  if (ec || !payload.is_object()) return std::string(payload_json);
  payload.as_object()["organizationCode"] = organization_code;
  return json::serialize(payload);
}

Result<std::string> Signatures(const PreparedConfig& prepared, const MessageToSend& message,
                               std::string_view timestamp, std::string_view body) {
  if (!prepared.key().ok()) return prepared.key().error();
  std::string signatures = crypto::SignV1(*prepared.key(), message.event_id, timestamp, body);
  if (const Result<crypto::HmacSha256Key>* previous = prepared.previous_key(message.now)) {
    if (!previous->ok()) return previous->error();
    signatures.append(" ").append(crypto::SignV1(**previous, message.event_id, timestamp, body));
  }
  return signatures;
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

HeaderMask MaskFor(std::string_view name) {
  const std::string lower = Lowercase(name);
  if (lower == "webhook-signature") return HeaderMask::kSignatures;
  return IsSecretHeader(lower) ? HeaderMask::kPartly : HeaderMask::kShown;
}

// What the attempt log keeps of a header's value.
std::string Masked(HeaderMask mask, std::string_view value) {
  switch (mask) {
    case HeaderMask::kSignatures:
      return MaskSignatures(value);
    case HeaderMask::kPartly:
      return MaskValue(value);
    case HeaderMask::kShown:
      break;
  }
  return std::string(value);
}

}  // namespace

Result<HttpRequest> BuildDeliveryRequest(const WebhookConfig& config, const MessageToSend& message,
                                         const RequestSettings& settings) {
  return BuildDeliveryRequest(PreparedConfig(config, settings), message);
}

Result<HttpRequest> BuildDeliveryRequest(const PreparedConfig& prepared,
                                         const MessageToSend& message) {
  HttpRequest request;
  request.url = prepared.url();
  request.connect_timeout_ms = prepared.connect_timeout_ms();
  request.timeout_ms = prepared.timeout_ms();
  request.body =
      prepared.body_organization_code().empty()
          ? std::string(message.payload_json)
          : BodyWithOrganizationCode(message.payload_json, prepared.body_organization_code());

  std::string timestamp = std::to_string(message.now / 1000);
  Result<std::string> signatures = Signatures(prepared, message, timestamp, request.body);
  if (!signatures.ok()) return signatures.error();

  request.headers = prepared.headers();
  request.headers[kWebhookIdHeader].second = message.event_id;
  request.headers[kWebhookTimestampHeader].second = std::move(timestamp);
  request.headers[kWebhookSignatureHeader].second = std::move(*signatures);
  if (!prepared.event_header_configured()) {
    request.headers[kWebhookEventHeader].second = message.event_name;
  }
  return request;
}

HttpHeaders MaskSecrets(const HttpHeaders& headers) {
  HttpHeaders masked;
  masked.reserve(headers.size());
  for (const auto& [name, value] : headers) {
    masked.emplace_back(name, Masked(MaskFor(name), value));
  }
  return masked;
}

namespace {

// Compares every pair, which a few headers make cheaper than a set; many (a response may send
// thousands) count as repeating, and go through the object.
bool HasRepeatedName(const std::vector<std::string>& names) {
  constexpr std::size_t kMaxCompared = 32;
  if (names.size() > kMaxCompared) return true;
  for (auto it = names.begin(); it != names.end(); ++it) {
    if (std::find(names.begin(), it, *it) != it) return true;
  }
  return false;
}

}  // namespace

// Written out directly, one header after another, unless a name repeats: a json::object and
// its serialization cost a fifth of the dispatcher's time per request (the recorded request
// headers, and the response's). The output is the object's, byte for byte.
std::string HeadersToJson(const HttpHeaders& headers) {
  // A receiver's bytes need not be UTF-8, and JSON text (and PostgreSQL's) must be.
  std::vector<std::string> names;
  names.reserve(headers.size());
  for (const auto& header : headers) names.push_back(ValidUtf8(header.first));
  if (!HasRepeatedName(names)) {
    std::string out = "{";
    for (std::size_t i = 0; i < headers.size(); ++i) {
      if (i > 0) out += ',';
      AppendJsonString(out, names[i]);
      out += ':';
      AppendJsonString(out, headers[i].second);
    }
    out += '}';
    return out;
  }
  json::object object;
  for (std::size_t i = 0; i < headers.size(); ++i) {
    const std::string text = ValidUtf8(headers[i].second);
    auto [it, inserted] = object.emplace(names[i], text);
    if (!inserted) it->value().as_string().append(", ").append(text);
  }
  return json::serialize(object);
}

RecordedHeadersForm::RecordedHeadersForm(const PreparedConfig& prepared)
    : header_count_(prepared.headers().size()) {
  const HttpHeaders& headers = prepared.headers();
  std::vector<std::string> names;
  names.reserve(headers.size());
  for (const auto& header : headers) names.push_back(ValidUtf8(header.first));
  whole_ = HasRepeatedName(names);
  if (whole_) return;
  std::vector<std::size_t> per_send = {kWebhookIdHeader, kWebhookTimestampHeader,
                                       kWebhookSignatureHeader};
  if (!prepared.event_header_configured()) per_send.push_back(kWebhookEventHeader);
  std::string piece = "{";
  for (std::size_t i = 0; i < headers.size(); ++i) {
    if (i > 0) piece += ',';
    AppendJsonString(piece, names[i]);
    piece += ':';
    if (std::find(per_send.begin(), per_send.end(), i) != per_send.end()) {
      pieces_.push_back(std::exchange(piece, std::string()));
      slots_.push_back(i);
      slot_masks_.push_back(MaskFor(headers[i].first));
    } else {
      AppendJsonString(piece, Masked(MaskFor(headers[i].first), headers[i].second));
    }
  }
  piece += '}';
  pieces_.push_back(std::move(piece));
}

std::string RecordedHeadersForm::Render(const HttpHeaders& sent) const {
  if (whole_ || sent.size() != header_count_) return HeadersToJson(MaskSecrets(sent));
  std::string out = pieces_.front();
  for (std::size_t k = 0; k < slots_.size(); ++k) {
    AppendJsonString(out, Masked(slot_masks_[k], sent[slots_[k]].second));
    out += pieces_[k + 1];
  }
  return out;
}

}  // namespace webhookd::delivery
