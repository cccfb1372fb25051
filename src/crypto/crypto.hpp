// Cryptographic primitives on OpenSSL 3: randomness, hashing, HMAC, base64. Thread-safe.
#pragma once

#include <atomic>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

struct evp_mac_ctx_st;

namespace webhookd::crypto {

// `n` bytes from OpenSSL's CSPRNG. Aborts if the CSPRNG fails (it never should).
std::string RandomBytes(std::size_t n);

std::string Base64Encode(std::string_view bytes);
// Standard alphabet with padding; nullopt for anything that is not exactly that.
std::optional<std::string> Base64Decode(std::string_view text);

std::string Sha256(std::string_view data);                            // raw 32 bytes
std::string Sha256Hex(std::string_view data);                         // lowercase hex
std::string HmacSha256(std::string_view key, std::string_view data);  // raw 32 bytes

// An HMAC-SHA256 key set up once (an OpenSSL MAC context holding the padded key), for many MACs
// with it: no Mac() fetches the algorithm or hashes the key again. Threads may share one.
class HmacSha256Key {
 public:
  explicit HmacSha256Key(std::string_view key);
  ~HmacSha256Key();
  HmacSha256Key(HmacSha256Key&& other) noexcept;
  HmacSha256Key& operator=(HmacSha256Key&& other) noexcept;
  HmacSha256Key(const HmacSha256Key&) = delete;
  HmacSha256Key& operator=(const HmacSha256Key&) = delete;

  // HMAC-SHA256 of the concatenation of `parts` (not copied together), raw 32 bytes.
  std::string Mac(std::initializer_list<std::string_view> parts) const;

 private:
  // A context keyed like context_, ready for a message: the one the last Mac() kept, reset, or
  // else a new copy of context_ (when another caller holds the kept one).
  evp_mac_ctx_st* TakeContext() const;
  // Keeps `used` for the next Mac(), or frees it if another one was kept meanwhile.
  void KeepContext(evp_mac_ctx_st* used) const;

  evp_mac_ctx_st* context_;  // keyed, never finalised itself
  // A context from an earlier Mac(): resetting it instead of copying context_ makes a Mac() of
  // a 1 KB message about a quarter cheaper. One caller at a time holds it.
  mutable std::atomic<evp_mac_ctx_st*> spare_{nullptr};
};

// Constant-time equality of two byte strings (timing does not depend on where they differ).
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace webhookd::crypto
