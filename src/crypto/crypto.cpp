#include "crypto/crypto.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <climits>
#include <cstdlib>
#include <utility>

namespace webhookd::crypto {
namespace {

const unsigned char* Bytes(std::string_view s) {
  // OpenSSL may treat a null pointer with length 0 as "no input" rather than "empty input"
  // (HMAC with a null key means "reuse the previous key"), so never pass null.
  static constexpr unsigned char kEmpty[1] = {0};
  return s.empty() ? kEmpty : reinterpret_cast<const unsigned char*>(s.data());
}

// Fetched once: EVP_sha256() makes OpenSSL 3 look the implementation up again on every call,
// which cost more than hashing an API key (every authenticated request hashes one).
const EVP_MD* Sha256Md() {
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  if (md == nullptr) std::abort();  // SHA-256 is built into OpenSSL's default provider
  return md;
}

}  // namespace

std::string RandomBytes(std::size_t n) {
  std::string out(n, '\0');
  if (n > 0 && RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    // Without randomness no secret or id is safe; continuing would be worse than stopping.
    std::abort();
  }
  return out;
}

std::string Base64Encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');  // +1: EVP_EncodeBlock writes a NUL
  const int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), Bytes(bytes),
                                      static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(written));
  return out;
}

std::optional<std::string> Base64Decode(std::string_view text) {
  if (text.size() % 4 != 0 || text.size() > INT_MAX) return std::nullopt;
  std::string out(3 * (text.size() / 4), '\0');
  const int written = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()), Bytes(text),
                                      static_cast<int>(text.size()));
  if (written < 0) return std::nullopt;
  // EVP_DecodeBlock counts padding as zero bytes of output; the real length is shorter.
  std::size_t padding = 0;
  if (!text.empty() && text.back() == '=') ++padding;
  if (text.size() >= 2 && text[text.size() - 2] == '=') ++padding;
  if (static_cast<std::size_t>(written) < padding) return std::nullopt;
  out.resize(static_cast<std::size_t>(written) - padding);
  // EVP_DecodeBlock also tolerates surrounding whitespace, misplaced '=' and non-zero unused
  // bits; only the canonical encoding of the result is accepted.
  if (Base64Encode(out) != text) return std::nullopt;
  return out;
}

std::string Sha256(std::string_view data) {
  std::string out(EVP_MAX_MD_SIZE, '\0');
  unsigned int len = 0;
  if (EVP_Digest(Bytes(data), data.size(), reinterpret_cast<unsigned char*>(out.data()), &len,
                 Sha256Md(), nullptr) != 1) {
    std::abort();  // SHA-256 on memory cannot fail unless OpenSSL itself is broken
  }
  out.resize(len);
  return out;
}

std::string Sha256Hex(std::string_view data) {
  static constexpr char kHex[] = "0123456789abcdef";
  const std::string digest = Sha256(data);
  std::string out;
  out.reserve(2 * digest.size());
  for (unsigned char c : digest) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0xF]);
  }
  return out;
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  std::string out(EVP_MAX_MD_SIZE, '\0');
  unsigned int len = 0;
  if (HMAC(Sha256Md(), Bytes(key), static_cast<int>(key.size()), Bytes(data), data.size(),
           reinterpret_cast<unsigned char*>(out.data()), &len) == nullptr) {
    std::abort();  // HMAC-SHA256 on memory cannot fail unless OpenSSL itself is broken
  }
  out.resize(len);
  return out;
}

HmacSha256Key::HmacSha256Key(std::string_view key) {
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  context_ = mac != nullptr ? EVP_MAC_CTX_new(mac) : nullptr;
  EVP_MAC_free(mac);  // the context holds its own reference
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                               OSSL_PARAM_END};
  if (context_ == nullptr || EVP_MAC_init(context_, Bytes(key), key.size(), params) != 1) {
    std::abort();  // HMAC-SHA256 is built into OpenSSL's default provider
  }
}

HmacSha256Key::~HmacSha256Key() {
  EVP_MAC_CTX_free(spare_.load());
  EVP_MAC_CTX_free(context_);
}

HmacSha256Key::HmacSha256Key(HmacSha256Key&& other) noexcept
    : context_(std::exchange(other.context_, nullptr)), spare_(other.spare_.exchange(nullptr)) {}

HmacSha256Key& HmacSha256Key::operator=(HmacSha256Key&& other) noexcept {
  std::swap(context_, other.context_);
  spare_.store(other.spare_.exchange(spare_.load()));
  return *this;
}

EVP_MAC_CTX* HmacSha256Key::TakeContext() const {
  EVP_MAC_CTX* kept = spare_.exchange(nullptr, std::memory_order_acquire);
  // A null key resets the kept context to the key from the digest states already in it.
  if (kept != nullptr && EVP_MAC_init(kept, nullptr, 0, nullptr) == 1) return kept;
  EVP_MAC_CTX_free(kept);
  EVP_MAC_CTX* copy = EVP_MAC_CTX_dup(context_);
  if (copy == nullptr) std::abort();
  return copy;
}

void HmacSha256Key::KeepContext(EVP_MAC_CTX* used) const {
  EVP_MAC_CTX* none = nullptr;
  if (!spare_.compare_exchange_strong(none, used, std::memory_order_release)) {
    EVP_MAC_CTX_free(used);  // another caller kept one meanwhile
  }
}

std::string HmacSha256Key::Mac(std::initializer_list<std::string_view> parts) const {
  EVP_MAC_CTX* context = TakeContext();
  bool ok = true;
  for (std::string_view part : parts) {
    ok = ok && EVP_MAC_update(context, Bytes(part), part.size()) == 1;
  }
  std::string out(EVP_MAX_MD_SIZE, '\0');
  std::size_t len = 0;
  ok = ok &&
       EVP_MAC_final(context, reinterpret_cast<unsigned char*>(out.data()), &len, out.size()) == 1;
  if (!ok) std::abort();  // cannot fail on memory unless OpenSSL itself is broken
  KeepContext(context);
  out.resize(len);
  return out;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  // The length is not secret (signatures and hashes have fixed lengths).
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(Bytes(a), Bytes(b), a.size()) == 0;
}

}  // namespace webhookd::crypto
