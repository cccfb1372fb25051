// webhookd/verify.hpp: check that a webhook really comes from webhookd.
//
// Every webhook webhookd delivers is signed the Standard Webhooks way
// (https://www.standardwebhooks.com). The request carries three headers:
//
//   webhook-id         unique id of the message; the same on every retry (use it to deduplicate)
//   webhook-timestamp  Unix seconds when it was signed
//   webhook-signature  space-separated list of "<version>,<base64 signature>", for example
//                      "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
//
// A "v1" signature is the HMAC-SHA256, keyed with your endpoint's secret ("whsec_..."), of
// `webhook-id + "." + webhook-timestamp + "." + body`. A "v1a" signature is the ed25519
// signature of the same text, checked with a public key ("whpk_..."). During a secret rotation
// the header holds one signature per key; a request is authentic if any one of them matches.
//
// Verify the raw body bytes exactly as received, before any JSON parsing or re-encoding: one
// changed byte (even whitespace) makes the signature fail. Reject the request (for example with
// 401) unless Verify returns ok, and never log the secret.
//
// Usage:
//
//   #include <webhookd/verify.hpp>
//
//   webhookd::VerifyResult result = webhookd::Verify(
//       secret,  // "whsec_...", from the webhook configuration
//       request.header("webhook-id"), request.header("webhook-timestamp"),
//       request.header("webhook-signature"), request.body());
//   if (!result.ok()) {
//     std::cerr << "rejected webhook: " << result.message << "\n";
//     return Respond(401);
//   }
//   Handle(request.body());
//
// In CMake: find_package(webhookd) and target_link_libraries(app PRIVATE webhookd::verify).
// The header needs C++17; the library needs OpenSSL 3 (libcrypto). All functions are
// thread-safe and do not throw except std::bad_alloc.
#ifndef WEBHOOKD_VERIFY_HPP_
#define WEBHOOKD_VERIFY_HPP_

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace webhookd {

// How far a webhook-timestamp may be from the receiver's clock, in either direction, before the
// request is refused as a possible replay. Standard Webhooks recommends 5 minutes.
inline constexpr std::chrono::seconds kDefaultTolerance{300};

// Why a request was accepted or refused. Refusals are checked in the order listed, and only
// the first problem found is reported.
enum class VerifyStatus {
  kOk,                   // at least one signature matches and the timestamp is recent
  kBadSecret,            // the secret or public key given to Verify is unusable (a setup error)
  kMissingHeader,        // webhook-id, webhook-timestamp or webhook-signature is absent or empty
  kMalformedHeader,      // webhook-timestamp is not Unix seconds, or webhook-signature holds no
                         // "<version>,<signature>" entry
  kTimestampTooOld,      // signed more than `tolerance` before now (replay, or a slow queue)
  kTimestampTooNew,      // signed more than `tolerance` after now (check the receiver's clock)
  kNoMatchingSignature,  // no signature matches: wrong secret, or id, timestamp or body altered
};

// Stable snake_case name of a status ("ok", "bad_secret", "missing_header", "malformed_header",
// "timestamp_too_old", "timestamp_too_new", "no_matching_signature"), for logs and metrics.
const char* ToString(VerifyStatus status);

struct VerifyResult {
  VerifyStatus status = VerifyStatus::kNoMatchingSignature;
  // One human-readable sentence saying exactly what was wrong (which header, how many seconds
  // off, which key type), or "signature verified". Never contains the secret.
  std::string message;

  bool ok() const { return status == VerifyStatus::kOk; }
  explicit operator bool() const { return ok(); }
};

// Verifies one webhook request.
//
// `secret` is the endpoint's signing secret, "whsec_" + base64 (the base64 part alone is
// accepted too) to check "v1" signatures, or an ed25519 public key "whpk_" + base64 of its 32
// bytes to check "v1a" signatures. `webhook_id`, `webhook_timestamp` and `webhook_signature` are
// the header values as received (empty means absent); `body` is the raw request body.
// The timestamp must lie within `tolerance` of `now`. Signature entries whose version does not
// fit the key (or is unknown) are skipped, so headers from newer senders still verify.
// Signatures are compared in constant time.
VerifyResult Verify(std::string_view secret, std::string_view webhook_id,
                    std::string_view webhook_timestamp, std::string_view webhook_signature,
                    std::string_view body,
                    std::chrono::system_clock::time_point now = std::chrono::system_clock::now(),
                    std::chrono::seconds tolerance = kDefaultTolerance);

// Signs a message the way webhookd does, for producers and for receivers' own tests.
//
// With a secret ("whsec_..." or its bare base64) returns "v1,<base64 HMAC-SHA256>"; with an
// ed25519 signing key ("whsk_" + base64 of the 32-byte private seed) returns
// "v1a,<base64 ed25519 signature>". `timestamp_seconds` is the value sent as webhook-timestamp.
// nullopt if the key is not one of those forms.
std::optional<std::string> Sign(std::string_view secret_or_signing_key, std::string_view webhook_id,
                                std::int64_t timestamp_seconds, std::string_view body);

// A fresh ed25519 key pair for "v1a" signatures: the sender keeps `signing_key` ("whsk_..."),
// receivers are given `public_key` ("whpk_...").
struct Ed25519KeyPair {
  std::string signing_key;
  std::string public_key;
};
Ed25519KeyPair GenerateEd25519KeyPair();

// The "whpk_..." public key that belongs to a "whsk_..." signing key; nullopt if the signing
// key is malformed.
std::optional<std::string> PublicKeyOf(std::string_view signing_key);

}  // namespace webhookd

#endif  // WEBHOOKD_VERIFY_HPP_
