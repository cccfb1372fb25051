#include "crypto/secret.hpp"

#include <string>

#include "crypto/crypto.hpp"

namespace webhookd::crypto {
namespace {

constexpr std::size_t kGeneratedSecretBytes = 24;
constexpr std::size_t kMinSecretBytes = 24;
constexpr std::size_t kMaxSecretBytes = 64;
constexpr std::size_t kApiKeyBytes = 32;

std::string Hex(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * bytes.size());
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0xF]);
  }
  return out;
}

}  // namespace

std::string GenerateSecret() {
  return std::string(kSecretPrefix) + Base64Encode(RandomBytes(kGeneratedSecretBytes));
}

Result<std::string> DecodeSecret(std::string_view secret) {
  if (secret.substr(0, kSecretPrefix.size()) != kSecretPrefix) {
    return Error::Invalid("secret must start with \"whsec_\"");
  }
  std::optional<std::string> key = Base64Decode(secret.substr(kSecretPrefix.size()));
  if (!key) return Error::Invalid("secret after \"whsec_\" is not valid base64");
  if (key->size() < kMinSecretBytes || key->size() > kMaxSecretBytes) {
    return Error::Invalid("secret must encode 24 to 64 bytes, not " + std::to_string(key->size()));
  }
  return *std::move(key);
}

std::string GenerateApiKey() { return std::string(kApiKeyPrefix) + Hex(RandomBytes(kApiKeyBytes)); }

std::string HashApiKey(std::string_view key) { return Sha256Hex(key); }

std::string SignV1(std::string_view key_bytes, std::string_view msg_id, std::string_view timestamp,
                   std::string_view body) {
  std::string content;
  content.reserve(msg_id.size() + timestamp.size() + body.size() + 2);
  content.append(msg_id).append(".").append(timestamp).append(".").append(body);
  return "v1," + Base64Encode(HmacSha256(key_bytes, content));
}

std::string SignV1(const HmacSha256Key& key, std::string_view msg_id, std::string_view timestamp,
                   std::string_view body) {
  return "v1," + Base64Encode(key.Mac({msg_id, ".", timestamp, ".", body}));
}

}  // namespace webhookd::crypto
