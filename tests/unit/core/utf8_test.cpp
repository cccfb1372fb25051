#include "core/utf8.hpp"

#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <string>
#include <vector>

namespace webhookd {
namespace {

const std::string kReplacement = "\xEF\xBF\xBD";

TEST(ValidUtf8Test, KeepsWellFormedText) {
  for (const std::string text : {"", "plain ascii {\"a\":1}", "caf\xC3\xA9", "\xE2\x82\xAC 5",
                                 "\xF0\x9F\x98\x80", "\xED\x9F\xBF", "\xF4\x8F\xBF\xBF"}) {
    EXPECT_EQ(ValidUtf8(text), text);
  }
}

TEST(ValidUtf8Test, ReplacesACharacterCutAtTheEnd) {
  EXPECT_EQ(ValidUtf8("x\xC3\xA9\xC3"), "x\xC3\xA9" + kReplacement);
  EXPECT_EQ(ValidUtf8("\xE2\x82"), kReplacement + kReplacement);
  EXPECT_EQ(ValidUtf8("\xF0\x9F\x98"), kReplacement + kReplacement + kReplacement);
}

TEST(ValidUtf8Test, ReplacesEachByteThatIsNotUtf8) {
  EXPECT_EQ(ValidUtf8("a\xFF"
                      "b"),
            "a" + kReplacement + "b");
  EXPECT_EQ(ValidUtf8("\x80"), kReplacement);                     // lone continuation
  EXPECT_EQ(ValidUtf8("\xC0\xAF"), kReplacement + kReplacement);  // overlong '/'
  EXPECT_EQ(ValidUtf8("\xE0\x80\xAF"), kReplacement + kReplacement + kReplacement);
  EXPECT_EQ(ValidUtf8("\xED\xA0\x80"), kReplacement + kReplacement + kReplacement);  // surrogate
  EXPECT_EQ(ValidUtf8("\xF4\x90\x80\x80"),
            kReplacement + kReplacement + kReplacement + kReplacement);  // above U+10FFFF
  EXPECT_EQ(ValidUtf8("\xC3(ok"), kReplacement + "(ok");
}

// The same bytes json::serialize writes for the string, for every byte value alone and for
// mixed text, invalid UTF-8 included (then as serialize writes the text made valid).
TEST(AppendJsonStringTest, WritesWhatSerializeWrites) {
  std::vector<std::string> texts = {"",
                                    "plain",
                                    "a\"b\\c/d",
                                    "tab\there\r\n\b\f",
                                    std::string("nul\0mid", 7),
                                    "caf\xc3\xa9 \xe2\x82\xac",
                                    "cut \xe2\x82",
                                    "\xff\xfe binary"};
  for (int c = 0; c < 256; ++c) texts.push_back(std::string(1, static_cast<char>(c)));
  for (const std::string& text : texts) {
    std::string out = "[";
    AppendJsonString(out, text);
    EXPECT_EQ(out, "[" + boost::json::serialize(boost::json::string(ValidUtf8(text))))
        << testing::PrintToString(text);
  }
}

}  // namespace
}  // namespace webhookd
