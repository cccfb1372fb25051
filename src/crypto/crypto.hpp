// Cryptographic primitives on OpenSSL 3: randomness, hashing, HMAC, base64. Thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace webhookd::crypto {

// `n` bytes from OpenSSL's CSPRNG. Aborts if the CSPRNG fails (it never should).
std::string RandomBytes(std::size_t n);

std::string Base64Encode(std::string_view bytes);
// Standard alphabet with padding; nullopt for anything that is not exactly that.
std::optional<std::string> Base64Decode(std::string_view text);

std::string Sha256(std::string_view data);                            // raw 32 bytes
std::string Sha256Hex(std::string_view data);                         // lowercase hex
std::string HmacSha256(std::string_view key, std::string_view data);  // raw 32 bytes

// Constant-time equality of two byte strings (timing does not depend on where they differ).
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace webhookd::crypto
