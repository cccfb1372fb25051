#include "core/text.hpp"

#include <gtest/gtest.h>

#include <cctype>

namespace webhookd {
namespace {

// The same answer as the C locale's tolower for every byte: ASCII letters only.
TEST(TextTest, AsciiLowerMatchesTheCLocaleForEveryByte) {
  for (int byte = 0; byte < 256; ++byte) {
    const char c = static_cast<char>(byte);
    EXPECT_EQ(AsciiLower(c), static_cast<char>(std::tolower(byte))) << "byte " << byte;
  }
}

TEST(TextTest, LowercaseKeepsEverythingButAsciiLetters) {
  EXPECT_EQ(Lowercase("Content-TYPE"), "content-type");
  EXPECT_EQ(Lowercase("HTTPS://Example.COM:443"), "https://example.com:443");
  EXPECT_EQ(Lowercase("\xC3\x89T\xC3\x89 [@`{]"), "\xC3\x89t\xC3\x89 [@`{]");
  EXPECT_EQ(Lowercase(""), "");
}

}  // namespace
}  // namespace webhookd
