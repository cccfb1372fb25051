#include "crypto/crypto.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "crypto/secret.hpp"

namespace webhookd::crypto {
namespace {

std::string FromHex(std::string_view hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

std::string ToHex(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0xF]);
  }
  return out;
}

TEST(Sha256Test, MatchesFips180Vector) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(ToHex(Sha256("abc")), Sha256Hex("abc"));
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(HmacSha256Test, MatchesRfc4231TestCase1) {
  EXPECT_EQ(ToHex(HmacSha256(std::string(20, '\x0b'), "Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
}

TEST(HmacSha256Test, MatchesRfc4231TestCase2) {
  EXPECT_EQ(ToHex(HmacSha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(HmacSha256KeyTest, MatchesRfc4231AndTheOneShotHmacMacAfterMac) {
  const HmacSha256Key jefe("Jefe");
  // Reused: each Mac starts from the keyed context, not from the previous message.
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(ToHex(jefe.Mac({"what do ya ", "want for nothing?"})),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  }
  // A key longer than SHA-256's block is hashed first (RFC 4231 test case 6).
  const std::string long_key(131, '\xaa');
  EXPECT_EQ(HmacSha256Key(long_key).Mac({"Test Using Larger Than Block-Size Key - Hash Key First"}),
            HmacSha256(long_key, "Test Using Larger Than Block-Size Key - Hash Key First"));
  EXPECT_EQ(HmacSha256Key("").Mac({}), HmacSha256("", ""));
  HmacSha256Key moved = HmacSha256Key("Jefe");
  EXPECT_EQ(moved.Mac({""}), HmacSha256("Jefe", ""));
}

// Each Mac() after the first resets the context the previous one kept: messages of every length
// (within a block, across blocks) give the one-shot HMAC, whatever came before them.
TEST(HmacSha256KeyTest, AKeptContextStartsEachMacAfresh) {
  const std::string key = "whsec-bytes-of-a-configuration";
  const HmacSha256Key reused(key);
  for (std::size_t length : {0, 1, 55, 56, 63, 64, 65, 1000, 3, 200}) {
    const std::string message(length, static_cast<char>('a' + length % 26));
    EXPECT_EQ(reused.Mac({message}), HmacSha256(key, message)) << length;
    EXPECT_EQ(reused.Mac({"id.", message}), HmacSha256(key, "id." + message)) << length;
  }
}

// Threads share one key (a prepared configuration): the kept context passes from one caller to
// the next, never to two at once (run under TSan by `make tsan`).
TEST(HmacSha256KeyTest, ThreadsSharingAKeyEachGetTheirOwnMac) {
  const HmacSha256Key shared("Jefe");
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        const std::string message = std::to_string(t) + ":" + std::to_string(i);
        if (shared.Mac({message}) != HmacSha256("Jefe", message)) ++wrong;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0);
}

// A moved key takes its kept context along; the one moved into gives up its own.
TEST(HmacSha256KeyTest, MovedKeysKeepSigningWithTheirOwnKey) {
  HmacSha256Key a("first");
  HmacSha256Key b("second");
  ASSERT_EQ(a.Mac({"x"}), HmacSha256("first", "x"));  // both now keep a context
  ASSERT_EQ(b.Mac({"x"}), HmacSha256("second", "x"));
  a = std::move(b);
  EXPECT_EQ(a.Mac({"y"}), HmacSha256("second", "y"));
  HmacSha256Key c(std::move(a));
  EXPECT_EQ(c.Mac({"z"}), HmacSha256("second", "z"));
  EXPECT_EQ(c.Mac({"z"}), HmacSha256("second", "z"));
}

TEST(Base64Test, EncodesAndDecodesRfc4648Vectors) {
  const std::vector<std::pair<std::string, std::string>> vectors = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(Base64Encode(plain), encoded) << plain;
    const std::optional<std::string> decoded = Base64Decode(encoded);
    ASSERT_TRUE(decoded.has_value()) << encoded;
    EXPECT_EQ(*decoded, plain) << encoded;
  }
}

TEST(Base64Test, RoundTripsBinaryBytes) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  EXPECT_EQ(Base64Decode(Base64Encode(all)), all);
}

TEST(Base64Test, RejectsAnythingButCanonicalPaddedStandardBase64) {
  for (std::string_view bad : {"Zg", "Zg=", "Zm9", "Z===", "Zm9v!A==", "Zm-v", "Zm_v", " Zm9v",
                               "Zm9v ", "Zm9v\n", "Zg==Zm9v", "=Zm9", "Zh==", "Zm9="}) {
    EXPECT_EQ(Base64Decode(bad), std::nullopt) << bad;
  }
}

TEST(ConstantTimeEqualsTest, ComparesContentAndLength) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abcd"));
  EXPECT_FALSE(ConstantTimeEquals("", "a"));
}

TEST(RandomBytesTest, ReturnsRequestedLengthAndDiffers) {
  EXPECT_EQ(RandomBytes(0).size(), 0u);
  EXPECT_EQ(RandomBytes(32).size(), 32u);
  EXPECT_NE(RandomBytes(32), RandomBytes(32));
}

TEST(SecretTest, GeneratedSecretIsPrefixedBase64Of24Bytes) {
  std::set<std::string> seen;
  for (int i = 0; i < 20; ++i) {
    const std::string secret = GenerateSecret();
    ASSERT_EQ(secret.substr(0, 6), "whsec_");
    const std::optional<std::string> key = Base64Decode(secret.substr(6));
    ASSERT_TRUE(key.has_value()) << secret;
    EXPECT_EQ(key->size(), 24u);
    Result<std::string> decoded = DecodeSecret(secret);
    ASSERT_TRUE(decoded.ok());
    EXPECT_EQ(*decoded, *key);
    seen.insert(secret);
  }
  EXPECT_EQ(seen.size(), 20u);
}

TEST(SecretTest, DecodeRejectsMissingPrefix) {
  Result<std::string> r = DecodeSecret(Base64Encode(std::string(24, 'k')));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kInvalid);
  EXPECT_NE(r.error().message.find("whsec_"), std::string::npos);
  EXPECT_TRUE(r.error().field.empty());
}

TEST(SecretTest, DecodeRejectsNonBase64) {
  Result<std::string> r = DecodeSecret("whsec_not base64 at all!");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kInvalid);
  EXPECT_NE(r.error().message.find("base64"), std::string::npos);
}

TEST(SecretTest, DecodeRejectsTooShortAndTooLongKeys) {
  for (std::size_t n : {0u, 23u, 65u}) {
    Result<std::string> r = DecodeSecret("whsec_" + Base64Encode(std::string(n, 'k')));
    ASSERT_FALSE(r.ok()) << n;
    EXPECT_EQ(r.error().kind, ErrorKind::kInvalid);
    EXPECT_NE(r.error().message.find(std::to_string(n)), std::string::npos) << r.error().message;
  }
}

TEST(SecretTest, DecodeAcceptsKeysOf24To64Bytes) {
  for (std::size_t n : {24u, 32u, 64u}) {
    const std::string key = RandomBytes(n);
    Result<std::string> r = DecodeSecret("whsec_" + Base64Encode(key));
    ASSERT_TRUE(r.ok()) << n;
    EXPECT_EQ(*r, key);
  }
}

TEST(ApiKeyTest, GeneratedKeyIsPrefixedHexAndDistinct) {
  const std::string key = GenerateApiKey();
  ASSERT_EQ(key.size(), 4u + 64u);
  EXPECT_EQ(key.substr(0, 4), "whk_");
  EXPECT_EQ(key.find_first_not_of("0123456789abcdef", 4), std::string::npos);
  EXPECT_NE(GenerateApiKey(), key);
}

TEST(ApiKeyTest, HashIsLowercaseHexSha256OfWholeKey) {
  const std::string key = "whk_" + std::string(64, 'a');
  const std::string hash = HashApiKey(key);
  EXPECT_EQ(hash.size(), 64u);
  EXPECT_EQ(hash, Sha256Hex(key));
  EXPECT_EQ(hash.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_NE(HashApiKey(key + "b"), hash);
}

// The Standard Webhooks specification's published vector, reproduced by its reference libraries.
TEST(SignV1Test, MatchesStandardWebhooksReferenceVector) {
  Result<std::string> key = DecodeSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(SignV1(*key, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", R"({"test": 2432232314})"),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

TEST(SignV1Test, SignsIdTimestampAndBodyJoinedByDots) {
  const std::string key = FromHex("000102030405060708090a0b0c0d0e0f1011121314151617");
  EXPECT_EQ(SignV1(key, "id", "1", "body"), "v1," + Base64Encode(HmacSha256(key, "id.1.body")));
  EXPECT_NE(SignV1(key, "id", "1", "body"), SignV1(key, "id", "1", "bodz"));
  EXPECT_EQ(SignV1(HmacSha256Key(key), "id", "1", "body"), SignV1(key, "id", "1", "body"));
}

}  // namespace
}  // namespace webhookd::crypto
