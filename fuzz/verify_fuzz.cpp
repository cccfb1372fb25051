// include/webhookd/verify.hpp faces the internet on the receiver's side: every header and body
// byte comes from whoever sends the request.
// Input: secret, webhook-id, webhook-timestamp and webhook-signature on one line each, then the
// body. Besides not crashing, Verify must accept what Sign produced for the same message and
// never put the secret in its message.
#include <chrono>
#include <string>
#include <webhookd/verify.hpp>

#include "fuzz_input.hpp"

namespace {

using webhookd::fuzz::Broken;

// The seeds' timestamps (the Standard Webhooks reference vector's) are recent at this time.
constexpr std::int64_t kNowSeconds = 1614265330;
const auto kNow = std::chrono::system_clock::time_point(std::chrono::seconds(kNowSeconds));

// What Sign makes with a key, Verify accepts with the matching verification key.
void CheckSignThenVerify(std::string_view key, std::string_view id, std::string_view body) {
  if (id.empty()) return;  // a missing webhook-id is refused whatever the signature
  const std::optional<std::string> signature = webhookd::Sign(key, id, kNowSeconds, body);
  if (!signature) return;
  std::string verification_key(key);
  if (key.starts_with("whsk_")) {
    std::optional<std::string> public_key = webhookd::PublicKeyOf(key);
    if (!public_key) Broken("PublicKeyOf refuses a signing key that Sign accepted");
    verification_key = *public_key;
  }
  const webhookd::VerifyResult result =
      webhookd::Verify(verification_key, id, std::to_string(kNowSeconds), *signature, body, kNow);
  if (!result.ok()) Broken("Verify refuses what Sign signed");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto fields = webhookd::fuzz::SplitFields(webhookd::fuzz::AsText(data, size), 4);
  const std::string_view secret = fields[0];
  const webhookd::VerifyResult result =
      webhookd::Verify(secret, fields[1], fields[2], fields[3], fields[4], kNow);
  // Real secrets are one long word; short ones or several words can be words of the message.
  const bool could_be_a_secret = secret.size() >= 20 && secret.find(' ') == std::string::npos;
  if (could_be_a_secret && result.message.find(secret) != std::string::npos) {
    Broken("Verify's message contains the secret");
  }
  CheckSignThenVerify(secret, fields[1], fields[4]);
  return 0;
}
