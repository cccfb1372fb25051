#include "crypto/field_cipher.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "crypto/crypto.hpp"

namespace webhookd::crypto {
namespace {

Keyring TwoKeys() {
  Result<Keyring> keyring =
      Keyring::Parse("# comment\n\nold " + Base64Encode(std::string(32, 'a')) + "\nnew " +
                     Base64Encode(std::string(32, 'b')) + "\n");
  EXPECT_TRUE(keyring.ok()) << keyring.error().message;
  return *keyring;
}

TEST(KeyringTest, ParsesNamedKeysNewestLast) {
  const Keyring keyring = TwoKeys();
  ASSERT_EQ(keyring.keys().size(), 2u);
  EXPECT_EQ(keyring.newest().name, "new");
  ASSERT_NE(keyring.Find("old"), nullptr);
  EXPECT_EQ(keyring.Find("old")->bytes, std::string(32, 'a'));
}

TEST(KeyringTest, RefusesBadFilesNamingTheLineWithoutKeyMaterial) {
  const std::string short_key = Base64Encode(std::string(16, 'x'));
  Result<Keyring> bad = Keyring::Parse("k1 " + short_key + "\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message, "key file line 1: key 'k1' is not 32 bytes in standard base64");
  EXPECT_EQ(bad.error().message.find(short_key), std::string::npos);

  const std::string key = Base64Encode(std::string(32, 'k'));
  Result<Keyring> twice = Keyring::Parse("k1 " + key + "\nk1 " + key + "\n");
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.error().message, "key file line 2: key name 'k1' appears twice");

  Result<Keyring> empty = Keyring::Parse("# nothing\n");
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().message, "the key file holds no key");

  Result<Keyring> no_key = Keyring::Parse("lonely\n");
  ASSERT_FALSE(no_key.ok());
  EXPECT_EQ(no_key.error().message, "key file line 1: expected 'NAME BASE64KEY'");
}

TEST(FieldCipherTest, SealsUnderTheNewestKeyAndOpensWithAnyKey) {
  const FieldCipher cipher(TwoKeys());
  const std::string sealed = cipher.Seal("{\"patient\":\"P-1\"}", "events.payload/evt_1");
  EXPECT_TRUE(sealed.starts_with("$wk1$new$")) << sealed;
  EXPECT_EQ(sealed.find("P-1"), std::string::npos);
  EXPECT_EQ(FieldCipher::KeyNameOf(sealed), "new");
  Result<std::string> opened = cipher.Open(sealed, "events.payload/evt_1");
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  EXPECT_EQ(*opened, "{\"patient\":\"P-1\"}");

  // A value sealed under the older key (before a rotation) still opens.
  Keyring old_only;
  old_only.Add(TwoKeys().keys().front());
  const std::string old_sealed = FieldCipher(old_only).Seal("old", "c");
  EXPECT_TRUE(old_sealed.starts_with("$wk1$old$"));
  EXPECT_EQ(cipher.Open(old_sealed, "c").value(), "old");
}

TEST(FieldCipherTest, EachValueHasItsOwnNonce) {
  const FieldCipher cipher(TwoKeys());
  EXPECT_NE(cipher.Seal("same", "c"), cipher.Seal("same", "c"));
  EXPECT_EQ(cipher.Open(cipher.Seal("", "c"), "c").value(), "");
}

TEST(FieldCipherTest, RefusesAnotherRowAFlippedByteAndAnUnknownKey) {
  const FieldCipher cipher(TwoKeys());
  const std::string sealed = cipher.Seal("secret", "events.payload/evt_1");

  Result<std::string> moved = cipher.Open(sealed, "events.payload/evt_2");
  ASSERT_FALSE(moved.ok());
  EXPECT_EQ(moved.error().kind, ErrorKind::kUnreadable);
  EXPECT_EQ(moved.error().message,
            "events.payload/evt_2 cannot be decrypted: it was altered or belongs to another row");

  std::string flipped = sealed;
  flipped[flipped.size() - 3] = flipped[flipped.size() - 3] == 'A' ? 'B' : 'A';
  Result<std::string> altered = cipher.Open(flipped, "events.payload/evt_1");
  ASSERT_FALSE(altered.ok());
  EXPECT_EQ(altered.error().kind, ErrorKind::kUnreadable);

  Keyring other;
  other.Add(NamedKey{"elsewhere", std::string(32, 'z')});
  Result<std::string> unknown = cipher.Open(FieldCipher(other).Seal("x", "c"), "c");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().message,
            "c is encrypted under key 'elsewhere', which the key file lacks");
}

// The bytes form (for BLOB columns): a third shorter than the text form, bound to its row and
// checked as strictly; either form opens, whichever a column holds.
TEST(FieldCipherTest, TheBytesFormIsShorterAndOpensAndFailsAsTheTextFormDoes) {
  const FieldCipher cipher(TwoKeys());
  const std::string plain(900, 'p');
  const std::string text = cipher.Seal(plain, "events.payload/evt_1");
  const std::string bytes = cipher.Seal(plain, "events.payload/evt_1", SealedForm::kBytes);
  EXPECT_TRUE(bytes.starts_with("$wk2$new$"));
  EXPECT_EQ(bytes.size(), std::string("$wk2$new$").size() + 12 + plain.size() + 16);
  EXPECT_LT(bytes.size() * 4, text.size() * 3 + 100);
  EXPECT_EQ(FieldCipher::KeyNameOf(bytes), "new");
  EXPECT_TRUE(FieldCipher::IsSealed(bytes));
  EXPECT_EQ(cipher.Open(bytes, "events.payload/evt_1").value(), plain);
  EXPECT_EQ(cipher.Open(text, "events.payload/evt_1").value(), plain);

  Result<std::string> moved = cipher.Open(bytes, "events.payload/evt_2");
  ASSERT_FALSE(moved.ok());
  EXPECT_EQ(moved.error().message,
            "events.payload/evt_2 cannot be decrypted: it was altered or belongs to another row");
  std::string flipped = bytes;
  flipped[flipped.size() - 3] ^= 0x01;
  EXPECT_EQ(cipher.Open(flipped, "events.payload/evt_1").error().kind, ErrorKind::kUnreadable);
  Result<std::string> truncated = cipher.Open(bytes.substr(0, 20), "events.payload/evt_1");
  ASSERT_FALSE(truncated.ok());
  EXPECT_EQ(truncated.error().message,
            "events.payload/evt_1 is damaged: its ciphertext is malformed");
}

TEST(FieldCipherTest, AddKeyToFileCreatesAPrivateFileThenAppends) {
  const std::filesystem::path path = std::filesystem::temp_directory_path() /
                                     ("field_cipher_test_" + std::to_string(::getpid()) + ".key");
  std::filesystem::remove(path);
  Result<std::string> first = AddKeyToFile(path.string());
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(*first, "key-1");
  struct stat info {};
  ASSERT_EQ(::stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  Result<std::string> second = AddKeyToFile(path.string());
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*second, "key-2");
  Result<Keyring> keyring = Keyring::Load(path.string());
  ASSERT_TRUE(keyring.ok());
  EXPECT_EQ(keyring->newest().name, "key-2");
  EXPECT_EQ(keyring->keys().size(), 2u);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace webhookd::crypto
