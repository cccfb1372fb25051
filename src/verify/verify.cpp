// Receiver-side verification. Self-contained on OpenSSL's libcrypto (no webhookd internals),
// because it is installed for receivers and built as C++17.
#include "webhookd/verify.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <climits>
#include <cstdlib>
#include <memory>
#include <vector>

namespace webhookd {
namespace {

constexpr std::string_view kSecretPrefix = "whsec_";
constexpr std::string_view kPublicKeyPrefix = "whpk_";
constexpr std::string_view kSigningKeyPrefix = "whsk_";
constexpr std::size_t kEd25519KeyBytes = 32;
constexpr std::size_t kEd25519SignatureBytes = 64;

struct PkeyDeleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;

const unsigned char* Bytes(std::string_view s) {
  // OpenSSL may read a null pointer as "no input" (HMAC: "reuse the previous key").
  static constexpr unsigned char kEmpty[1] = {0};
  return s.empty() ? kEmpty : reinterpret_cast<const unsigned char*>(s.data());
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

std::string Base64Encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');  // +1: EVP_EncodeBlock writes a NUL
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), Bytes(bytes),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

// Standard padded base64 and nothing else (no whitespace, no URL alphabet).
std::optional<std::string> Base64Decode(std::string_view text) {
  if (text.size() % 4 != 0 || text.size() > INT_MAX) return std::nullopt;
  std::string out(3 * (text.size() / 4), '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()), Bytes(text),
                                static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  // EVP_DecodeBlock counts padding as zero bytes of output; the real length is shorter.
  std::size_t padding = 0;
  if (!text.empty() && text.back() == '=') ++padding;
  if (text.size() >= 2 && text[text.size() - 2] == '=') ++padding;
  if (static_cast<std::size_t>(n) < padding) return std::nullopt;
  out.resize(static_cast<std::size_t>(n) - padding);
  // EVP_DecodeBlock tolerates whitespace and misplaced '='; accept only the canonical encoding.
  if (Base64Encode(out) != text) return std::nullopt;
  return out;
}

std::string SignedContent(std::string_view id, std::string_view timestamp, std::string_view body) {
  std::string content;
  content.reserve(id.size() + timestamp.size() + body.size() + 2);
  content.append(id).append(".").append(timestamp).append(".").append(body);
  return content;
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), Bytes(key), static_cast<int>(key.size()), Bytes(data), data.size(), mac,
           &len) == nullptr) {
    std::abort();  // HMAC-SHA256 over memory fails only if libcrypto itself is broken
  }
  return std::string(reinterpret_cast<const char*>(mac), len);
}

PkeyPtr Ed25519PrivateKey(std::string_view seed) {
  if (seed.size() != kEd25519KeyBytes) return nullptr;
  return PkeyPtr(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, Bytes(seed), seed.size()));
}

PkeyPtr Ed25519PublicKey(std::string_view raw) {
  if (raw.size() != kEd25519KeyBytes) return nullptr;
  return PkeyPtr(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, Bytes(raw), raw.size()));
}

std::optional<std::string> Ed25519Sign(EVP_PKEY* key, std::string_view message) {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  std::string signature(kEd25519SignatureBytes, '\0');
  std::size_t len = signature.size();
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key) != 1 ||
      EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &len,
                     Bytes(message), message.size()) != 1) {
    return std::nullopt;
  }
  signature.resize(len);
  return signature;
}

bool Ed25519Verify(EVP_PKEY* key, std::string_view message, std::string_view signature) {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  return ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key) == 1 &&
         EVP_DigestVerify(ctx.get(), Bytes(signature), signature.size(), Bytes(message),
                          message.size()) == 1;
}

std::optional<std::string> RawPublicKey(EVP_PKEY* key) {
  std::string raw(kEd25519KeyBytes, '\0');
  std::size_t len = raw.size();
  if (EVP_PKEY_get_raw_public_key(key, reinterpret_cast<unsigned char*>(raw.data()), &len) != 1) {
    return std::nullopt;
  }
  raw.resize(len);
  return raw;
}

// The key Verify checks signatures with: an HMAC secret ("v1") or an ed25519 public key ("v1a").
struct VerificationKey {
  std::string_view version;
  std::string hmac_key;
  PkeyPtr public_key;
};

VerifyResult MakeResult(VerifyStatus status, std::string message) {
  return VerifyResult{status, std::move(message)};
}

// Fills `key` from `secret`, or returns why it cannot be used.
std::optional<VerifyResult> ParseVerificationKey(std::string_view secret, VerificationKey* key) {
  if (StartsWith(secret, kSigningKeyPrefix)) {
    return MakeResult(
        VerifyStatus::kBadSecret,
        "a whsk_ key is the sender's private signing key; verify with its whpk_ public "
        "key");
  }
  if (StartsWith(secret, kPublicKeyPrefix)) {
    std::optional<std::string> raw = Base64Decode(secret.substr(kPublicKeyPrefix.size()));
    if (raw) key->public_key = Ed25519PublicKey(*raw);
    if (!key->public_key) {
      return MakeResult(VerifyStatus::kBadSecret,
                        "public key is not whpk_ followed by the base64 of 32 bytes");
    }
    key->version = "v1a";
    return std::nullopt;
  }
  if (StartsWith(secret, kSecretPrefix)) secret.remove_prefix(kSecretPrefix.size());
  std::optional<std::string> raw = Base64Decode(secret);
  if (!raw || raw->empty()) {
    return MakeResult(VerifyStatus::kBadSecret,
                      "secret is not whsec_ followed by base64 (copy it whole from the webhook "
                      "configuration)");
  }
  key->version = "v1";
  key->hmac_key = std::move(*raw);
  return std::nullopt;
}

std::optional<std::int64_t> ParseUnixSeconds(std::string_view text) {
  // 15 digits is beyond any real timestamp and keeps the arithmetic below far from overflow.
  if (text.empty() || text.size() > 15) return std::nullopt;
  std::int64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  return value;
}

struct SignatureEntry {
  std::string_view version;
  std::string_view signature;
};

// Entries of a webhook-signature header: space-separated "<version>,<signature>".
std::vector<SignatureEntry> ParseSignatureHeader(std::string_view header) {
  std::vector<SignatureEntry> entries;
  while (!header.empty()) {
    const std::size_t space = header.find(' ');
    const std::string_view token = header.substr(0, space);
    const std::size_t comma = token.find(',');
    if (comma != std::string_view::npos && comma > 0 && comma + 1 < token.size()) {
      entries.push_back({token.substr(0, comma), token.substr(comma + 1)});
    }
    if (space == std::string_view::npos) break;
    header.remove_prefix(space + 1);
  }
  return entries;
}

bool Matches(const VerificationKey& key, const SignatureEntry& entry, std::string_view content) {
  if (entry.version != key.version) return false;
  if (key.public_key) {
    std::optional<std::string> signature = Base64Decode(entry.signature);
    return signature && signature->size() == kEd25519SignatureBytes &&
           Ed25519Verify(key.public_key.get(), content, *signature);
  }
  const std::string expected = Base64Encode(HmacSha256(key.hmac_key, content));
  // Only the length, which is public (always 44 for v1), decides before the constant-time part.
  return entry.signature.size() == expected.size() &&
         CRYPTO_memcmp(entry.signature.data(), expected.data(), expected.size()) == 0;
}

std::optional<VerifyResult> CheckHeadersPresent(std::string_view id, std::string_view timestamp,
                                                std::string_view signature) {
  const char* missing = id.empty()          ? "webhook-id"
                        : timestamp.empty() ? "webhook-timestamp"
                        : signature.empty() ? "webhook-signature"
                                            : nullptr;
  if (missing == nullptr) return std::nullopt;
  return MakeResult(VerifyStatus::kMissingHeader, std::string("missing header ") + missing);
}

std::optional<VerifyResult> CheckTimestamp(std::int64_t signed_at, std::int64_t now,
                                           std::int64_t tolerance) {
  if (now - signed_at > tolerance) {
    return MakeResult(VerifyStatus::kTimestampTooOld,
                      "webhook-timestamp is " + std::to_string(now - signed_at) +
                          " s in the past; at most " + std::to_string(tolerance) +
                          " s is accepted");
  }
  if (signed_at - now > tolerance) {
    return MakeResult(VerifyStatus::kTimestampTooNew,
                      "webhook-timestamp is " + std::to_string(signed_at - now) +
                          " s in the future; at most " + std::to_string(tolerance) +
                          " s is accepted (is this machine's clock right?)");
  }
  return std::nullopt;
}

}  // namespace

const char* ToString(VerifyStatus status) {
  switch (status) {
    case VerifyStatus::kOk:
      return "ok";
    case VerifyStatus::kBadSecret:
      return "bad_secret";
    case VerifyStatus::kMissingHeader:
      return "missing_header";
    case VerifyStatus::kMalformedHeader:
      return "malformed_header";
    case VerifyStatus::kTimestampTooOld:
      return "timestamp_too_old";
    case VerifyStatus::kTimestampTooNew:
      return "timestamp_too_new";
    case VerifyStatus::kNoMatchingSignature:
      return "no_matching_signature";
  }
  return "unknown";
}

VerifyResult Verify(std::string_view secret, std::string_view webhook_id,
                    std::string_view webhook_timestamp, std::string_view webhook_signature,
                    std::string_view body, std::chrono::system_clock::time_point now,
                    std::chrono::seconds tolerance) {
  VerificationKey key;
  if (auto refused = ParseVerificationKey(secret, &key)) return *std::move(refused);
  if (auto refused = CheckHeadersPresent(webhook_id, webhook_timestamp, webhook_signature)) {
    return *std::move(refused);
  }
  const std::optional<std::int64_t> signed_at = ParseUnixSeconds(webhook_timestamp);
  if (!signed_at) {
    return MakeResult(VerifyStatus::kMalformedHeader,
                      "webhook-timestamp is not a number of Unix seconds");
  }
  const std::vector<SignatureEntry> entries = ParseSignatureHeader(webhook_signature);
  if (entries.empty()) {
    return MakeResult(VerifyStatus::kMalformedHeader,
                      "webhook-signature has no entry of the form <version>,<base64 signature>");
  }
  const std::int64_t now_seconds =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  if (auto refused = CheckTimestamp(*signed_at, now_seconds, tolerance.count())) {
    return *std::move(refused);
  }
  const std::string content = SignedContent(webhook_id, webhook_timestamp, body);
  for (const SignatureEntry& entry : entries) {
    if (Matches(key, entry, content)) return MakeResult(VerifyStatus::kOk, "signature verified");
  }
  return MakeResult(VerifyStatus::kNoMatchingSignature,
                    "no " + std::string(key.version) +
                        " signature matches this secret; the secret is wrong, or the id, timestamp "
                        "or body were changed after signing");
}

std::optional<std::string> Sign(std::string_view secret_or_signing_key, std::string_view webhook_id,
                                std::int64_t timestamp_seconds, std::string_view body) {
  const std::string content = SignedContent(webhook_id, std::to_string(timestamp_seconds), body);
  if (StartsWith(secret_or_signing_key, kSigningKeyPrefix)) {
    std::optional<std::string> seed =
        Base64Decode(secret_or_signing_key.substr(kSigningKeyPrefix.size()));
    PkeyPtr key = seed ? Ed25519PrivateKey(*seed) : nullptr;
    if (!key) return std::nullopt;
    std::optional<std::string> signature = Ed25519Sign(key.get(), content);
    if (!signature) return std::nullopt;
    return "v1a," + Base64Encode(*signature);
  }
  std::string_view secret = secret_or_signing_key;
  if (StartsWith(secret, kSecretPrefix)) secret.remove_prefix(kSecretPrefix.size());
  std::optional<std::string> hmac_key = Base64Decode(secret);
  if (!hmac_key || hmac_key->empty()) return std::nullopt;
  return "v1," + Base64Encode(HmacSha256(*hmac_key, content));
}

Ed25519KeyPair GenerateEd25519KeyPair() {
  std::string seed(kEd25519KeyBytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(seed.data()), static_cast<int>(seed.size())) !=
      1) {
    std::abort();  // without randomness no key is safe; stopping beats a predictable key
  }
  Ed25519KeyPair pair;
  pair.signing_key = std::string(kSigningKeyPrefix) + Base64Encode(seed);
  std::optional<std::string> public_key = PublicKeyOf(pair.signing_key);
  if (!public_key) std::abort();  // a 32-byte seed is always a valid ed25519 key
  pair.public_key = std::move(*public_key);
  return pair;
}

std::optional<std::string> PublicKeyOf(std::string_view signing_key) {
  if (!StartsWith(signing_key, kSigningKeyPrefix)) return std::nullopt;
  std::optional<std::string> seed = Base64Decode(signing_key.substr(kSigningKeyPrefix.size()));
  PkeyPtr key = seed ? Ed25519PrivateKey(*seed) : nullptr;
  std::optional<std::string> raw = key ? RawPublicKey(key.get()) : std::nullopt;
  if (!raw) return std::nullopt;
  return std::string(kPublicKeyPrefix) + Base64Encode(*raw);
}

}  // namespace webhookd
