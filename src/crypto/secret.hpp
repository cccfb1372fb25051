// Webhook signing secrets and API keys.
//
// Signing secrets follow Standard Webhooks: "whsec_" + base64 of 24 to 64 random bytes.
// API keys are "whk_" + 64 hex characters (32 random bytes); only their SHA-256 is stored.
#pragma once

#include <string>
#include <string_view>

#include "core/result.hpp"
#include "crypto/crypto.hpp"

namespace webhookd::crypto {

inline constexpr std::string_view kSecretPrefix = "whsec_";
inline constexpr std::string_view kApiKeyPrefix = "whk_";

// "whsec_" + base64 of 24 fresh random bytes.
std::string GenerateSecret();
// The raw key bytes of a valid secret, or Error::Invalid saying what is wrong (missing prefix,
// not base64, fewer than 24 or more than 64 bytes). Field is left empty for the caller to set.
Result<std::string> DecodeSecret(std::string_view secret);

std::string GenerateApiKey();
// The value stored for a key: lowercase hex SHA-256 of the whole key text.
std::string HashApiKey(std::string_view key);

// Standard Webhooks signature "v1,<base64 HMAC-SHA256(key, id + "." + timestamp + "." + body)>".
std::string SignV1(std::string_view key_bytes, std::string_view msg_id, std::string_view timestamp,
                   std::string_view body);
// The same with a key set up once (what the dispatcher signs with).
std::string SignV1(const HmacSha256Key& key, std::string_view msg_id, std::string_view timestamp,
                   std::string_view body);

}  // namespace webhookd::crypto
