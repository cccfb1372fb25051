#include "webhookd/verify.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace webhookd {
namespace {

using std::chrono::seconds;
using std::chrono::system_clock;

// The Standard Webhooks specification's published vector.
constexpr std::string_view kSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
constexpr std::string_view kId = "msg_p5jXN8AQM9LWM0D4loKWxJek";
constexpr std::string_view kTimestamp = "1614265330";
constexpr std::string_view kBody = R"({"test": 2432232314})";
constexpr std::string_view kSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
const system_clock::time_point kSignedAt{seconds{1614265330}};

// The reference Go library's v1a signing vector (libraries/go/webhook_asymmetric_test.go).
constexpr std::string_view kSigningKey = "whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=";
constexpr std::string_view kV1aSignature =
    "v1a,tQ9V2XOqn7jL/DQenEFpqIugdBVtiMmER5mhSkXBNwM0mkATuDe6KYYUuxqtaiHeYGb7KaaBRdM5WqyeFiL8Ag==";

VerifyResult VerifyVector(std::string_view secret, std::string_view id, std::string_view timestamp,
                          std::string_view signature, std::string_view body) {
  return Verify(secret, id, timestamp, signature, body, kSignedAt);
}

// Changes one character to another base64 character.
std::string Flip(std::string s, std::size_t i) {
  s[i] = s[i] == 'A' ? 'B' : 'A';
  return s;
}

TEST(VerifyTest, AcceptsStandardWebhooksReferenceVector) {
  const VerifyResult r = VerifyVector(kSecret, kId, kTimestamp, kSignature, kBody);
  EXPECT_EQ(r.status, VerifyStatus::kOk) << r.message;
  EXPECT_TRUE(r.ok());
  EXPECT_TRUE(static_cast<bool>(r));
}

TEST(VerifyTest, AcceptsSecretWithoutItsPrefix) {
  const VerifyResult r = VerifyVector(kSecret.substr(6), kId, kTimestamp, kSignature, kBody);
  EXPECT_EQ(r.status, VerifyStatus::kOk) << r.message;
}

TEST(SignTest, ReproducesStandardWebhooksReferenceVector) {
  EXPECT_EQ(Sign(kSecret, kId, 1614265330, kBody), std::string(kSignature));
  EXPECT_EQ(Sign(kSecret.substr(6), kId, 1614265330, kBody), std::string(kSignature));
}

TEST(VerifyTest, RejectsBodyWithOneChangedByte) {
  std::string body(kBody);
  body[body.size() - 2] = '5';
  EXPECT_EQ(VerifyVector(kSecret, kId, kTimestamp, kSignature, body).status,
            VerifyStatus::kNoMatchingSignature);
  EXPECT_EQ(VerifyVector(kSecret, kId, kTimestamp, kSignature, std::string(kBody) + " ").status,
            VerifyStatus::kNoMatchingSignature);
}

TEST(VerifyTest, RejectsIdWithOneChangedByte) {
  std::string id(kId);
  id.back() = 'j';
  EXPECT_EQ(VerifyVector(kSecret, id, kTimestamp, kSignature, kBody).status,
            VerifyStatus::kNoMatchingSignature);
}

TEST(VerifyTest, RejectsTimestampWithOneChangedByteEvenWithinTolerance) {
  EXPECT_EQ(VerifyVector(kSecret, kId, "1614265331", kSignature, kBody).status,
            VerifyStatus::kNoMatchingSignature);
}

TEST(VerifyTest, RejectsSignatureWithOneChangedByte) {
  for (std::size_t i : {3u, 20u, 45u}) {
    const VerifyResult r =
        VerifyVector(kSecret, kId, kTimestamp, Flip(std::string(kSignature), i), kBody);
    EXPECT_EQ(r.status, VerifyStatus::kNoMatchingSignature) << i;
    EXPECT_FALSE(r.ok());
  }
}

TEST(VerifyTest, RejectsOtherSecret) {
  const VerifyResult r =
      VerifyVector(Flip(std::string(kSecret), 10), kId, kTimestamp, kSignature, kBody);
  EXPECT_EQ(r.status, VerifyStatus::kNoMatchingSignature);
  EXPECT_EQ(r.message.find("MfKQ"), std::string::npos) << "message must not echo the secret";
}

TEST(VerifyTest, RefusesStaleTimestamp) {
  EXPECT_TRUE(Verify(kSecret, kId, kTimestamp, kSignature, kBody, kSignedAt + seconds{300}).ok());
  const VerifyResult r =
      Verify(kSecret, kId, kTimestamp, kSignature, kBody, kSignedAt + seconds{301});
  EXPECT_EQ(r.status, VerifyStatus::kTimestampTooOld);
  EXPECT_NE(r.message.find("301 s in the past"), std::string::npos) << r.message;
}

TEST(VerifyTest, RefusesFutureTimestamp) {
  EXPECT_TRUE(Verify(kSecret, kId, kTimestamp, kSignature, kBody, kSignedAt - seconds{300}).ok());
  const VerifyResult r =
      Verify(kSecret, kId, kTimestamp, kSignature, kBody, kSignedAt - seconds{301});
  EXPECT_EQ(r.status, VerifyStatus::kTimestampTooNew);
  EXPECT_NE(r.message.find("301 s in the future"), std::string::npos) << r.message;
}

TEST(VerifyTest, ToleranceIsConfigurable) {
  EXPECT_EQ(
      Verify(kSecret, kId, kTimestamp, kSignature, kBody, kSignedAt + seconds{11}, seconds{10})
          .status,
      VerifyStatus::kTimestampTooOld);
  EXPECT_EQ(
      Verify(kSecret, kId, kTimestamp, kSignature, kBody, kSignedAt + seconds{3600}, seconds{7200})
          .status,
      VerifyStatus::kOk);
}

TEST(VerifyTest, ChecksTimestampAgainstTheClockByDefault) {
  const std::int64_t now =
      std::chrono::duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
  const std::optional<std::string> signature = Sign(kSecret, "msg_now", now, kBody);
  ASSERT_TRUE(signature.has_value());
  EXPECT_TRUE(Verify(kSecret, "msg_now", std::to_string(now), *signature, kBody).ok());
  EXPECT_EQ(Verify(kSecret, kId, kTimestamp, kSignature, kBody).status,
            VerifyStatus::kTimestampTooOld);
}

TEST(VerifyTest, ReportsEachMissingHeaderByName) {
  struct Case {
    std::string_view id, timestamp, signature, header;
  };
  for (const Case& c : {Case{"", kTimestamp, kSignature, "webhook-id"},
                        Case{kId, "", kSignature, "webhook-timestamp"},
                        Case{kId, kTimestamp, "", "webhook-signature"}}) {
    const VerifyResult r = VerifyVector(kSecret, c.id, c.timestamp, c.signature, kBody);
    EXPECT_EQ(r.status, VerifyStatus::kMissingHeader) << c.header;
    EXPECT_NE(r.message.find(c.header), std::string::npos) << r.message;
  }
}

TEST(VerifyTest, RefusesMalformedTimestamp) {
  for (std::string_view ts :
       {"abc", "-1614265330", "1614265330.0", " 1614265330", "1e9", "1614265330000000000000"}) {
    const VerifyResult r = VerifyVector(kSecret, kId, ts, kSignature, kBody);
    EXPECT_EQ(r.status, VerifyStatus::kMalformedHeader) << ts;
    EXPECT_NE(r.message.find("webhook-timestamp"), std::string::npos) << r.message;
  }
}

TEST(VerifyTest, RefusesSignatureHeaderWithoutAnyEntry) {
  for (std::string_view sig : {"garbage", "v1", "v1,", ",abc", "   "}) {
    const VerifyResult r = VerifyVector(kSecret, kId, kTimestamp, sig, kBody);
    EXPECT_EQ(r.status, VerifyStatus::kMalformedHeader) << sig;
    EXPECT_NE(r.message.find("webhook-signature"), std::string::npos) << r.message;
  }
}

TEST(VerifyTest, AcceptsRotationHeaderWhenEitherSignatureMatches) {
  const std::string old_secret = "whsec_" + std::string(32, 'A');
  const std::string new_secret = std::string(kSecret);
  const std::string old_signature = *Sign(old_secret, kId, 1614265330, kBody);
  const std::string header = old_signature + " " + std::string(kSignature);
  EXPECT_EQ(VerifyVector(old_secret, kId, kTimestamp, header, kBody).status, VerifyStatus::kOk);
  EXPECT_EQ(VerifyVector(new_secret, kId, kTimestamp, header, kBody).status, VerifyStatus::kOk);
  const std::string third = "whsec_" + std::string(32, 'B');
  EXPECT_EQ(VerifyVector(third, kId, kTimestamp, header, kBody).status,
            VerifyStatus::kNoMatchingSignature);
}

TEST(VerifyTest, SkipsUnknownVersionsAndExtraSpaces) {
  const std::string header = "v2,AAAA  v1a,AAAA " + std::string(kSignature) + " v9,zzz";
  EXPECT_EQ(VerifyVector(kSecret, kId, kTimestamp, header, kBody).status, VerifyStatus::kOk);
  // The right bytes under an unknown version label do not count.
  EXPECT_EQ(VerifyVector(kSecret, kId, kTimestamp, "v2" + std::string(kSignature.substr(2)), kBody)
                .status,
            VerifyStatus::kNoMatchingSignature);
}

TEST(VerifyTest, RefusesUnusableSecrets) {
  for (std::string_view secret :
       {"", "whsec_", "whsec_not base64!", "whsec_Zg", "whpk_", "whpk_AAAA",
        "whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk="}) {
    const VerifyResult r = VerifyVector(secret, kId, kTimestamp, kSignature, kBody);
    EXPECT_EQ(r.status, VerifyStatus::kBadSecret) << secret;
    EXPECT_FALSE(r.message.empty());
  }
}

TEST(VerifyTest, BadSecretIsReportedBeforeRequestProblems) {
  EXPECT_EQ(VerifyVector("whsec_!", "", "", "", kBody).status, VerifyStatus::kBadSecret);
}

TEST(SignTest, RefusesUnusableKeys) {
  for (std::string_view key : {"", "whsec_", "whsec_%%%%", "whsk_AAAA", "whsk_"}) {
    EXPECT_EQ(Sign(key, kId, 1614265330, kBody), std::nullopt) << key;
  }
}

TEST(V1aTest, ReproducesReferenceLibrarySignature) {
  EXPECT_EQ(Sign(kSigningKey, kId, 1614265330, kBody), std::string(kV1aSignature));
}

TEST(V1aTest, VerifiesWithThePublicKeyAndRejectsTampering) {
  const std::optional<std::string> public_key = PublicKeyOf(kSigningKey);
  ASSERT_TRUE(public_key.has_value());
  EXPECT_EQ(public_key->substr(0, 5), "whpk_");
  EXPECT_EQ(public_key->size(), 5u + 44u);
  EXPECT_EQ(VerifyVector(*public_key, kId, kTimestamp, kV1aSignature, kBody).status,
            VerifyStatus::kOk);
  EXPECT_EQ(
      VerifyVector(*public_key, kId, kTimestamp, kV1aSignature, std::string(kBody) + " ").status,
      VerifyStatus::kNoMatchingSignature);
  EXPECT_EQ(VerifyVector(*public_key, "msg_other", kTimestamp, kV1aSignature, kBody).status,
            VerifyStatus::kNoMatchingSignature);
  EXPECT_EQ(VerifyVector(*public_key, kId, "1614265331", kV1aSignature, kBody).status,
            VerifyStatus::kNoMatchingSignature);
  EXPECT_EQ(VerifyVector(*public_key, kId, kTimestamp, Flip(std::string(kV1aSignature), 10), kBody)
                .status,
            VerifyStatus::kNoMatchingSignature);
}

TEST(V1aTest, PublicKeyIgnoresV1SignaturesAndSecretIgnoresV1a) {
  const std::string public_key = *PublicKeyOf(kSigningKey);
  EXPECT_EQ(VerifyVector(public_key, kId, kTimestamp, kSignature, kBody).status,
            VerifyStatus::kNoMatchingSignature);
  EXPECT_EQ(VerifyVector(kSecret, kId, kTimestamp, kV1aSignature, kBody).status,
            VerifyStatus::kNoMatchingSignature);
  const std::string both = std::string(kSignature) + " " + std::string(kV1aSignature);
  EXPECT_TRUE(VerifyVector(public_key, kId, kTimestamp, both, kBody).ok());
  EXPECT_TRUE(VerifyVector(kSecret, kId, kTimestamp, both, kBody).ok());
}

TEST(V1aTest, GeneratedKeyPairsSignAndVerifyAndDiffer) {
  const Ed25519KeyPair pair = GenerateEd25519KeyPair();
  const Ed25519KeyPair other = GenerateEd25519KeyPair();
  EXPECT_EQ(pair.signing_key.substr(0, 5), "whsk_");
  EXPECT_EQ(PublicKeyOf(pair.signing_key), pair.public_key);
  EXPECT_NE(pair.signing_key, other.signing_key);
  const std::string signature = *Sign(pair.signing_key, kId, 1614265330, kBody);
  EXPECT_EQ(signature.substr(0, 4), "v1a,");
  EXPECT_TRUE(VerifyVector(pair.public_key, kId, kTimestamp, signature, kBody).ok());
  EXPECT_EQ(VerifyVector(other.public_key, kId, kTimestamp, signature, kBody).status,
            VerifyStatus::kNoMatchingSignature);
}

TEST(VerifyStatusTest, HasStableNames) {
  EXPECT_STREQ(ToString(VerifyStatus::kOk), "ok");
  EXPECT_STREQ(ToString(VerifyStatus::kBadSecret), "bad_secret");
  EXPECT_STREQ(ToString(VerifyStatus::kMissingHeader), "missing_header");
  EXPECT_STREQ(ToString(VerifyStatus::kMalformedHeader), "malformed_header");
  EXPECT_STREQ(ToString(VerifyStatus::kTimestampTooOld), "timestamp_too_old");
  EXPECT_STREQ(ToString(VerifyStatus::kTimestampTooNew), "timestamp_too_new");
  EXPECT_STREQ(ToString(VerifyStatus::kNoMatchingSignature), "no_matching_signature");
}

}  // namespace
}  // namespace webhookd
