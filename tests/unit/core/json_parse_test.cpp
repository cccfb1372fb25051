#include "core/json_parse.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace webhookd {
namespace {

std::string ErrorOf(std::string_view text) {
  const Result<boost::json::value> parsed = ParseJson(text);
  return parsed.ok() ? std::string("parsed") : parsed.error().message;
}

TEST(ParseJsonTest, SaysTheLineColumnAndByteWhereTheTextStopsBeingJson) {
  EXPECT_EQ(ErrorOf(R"({"payload": { ... }})"), "syntax error at line 1, column 15 (byte 14)");
  EXPECT_EQ(ErrorOf("{\n  \"a\": 1,\n  \"b\": x\n}"), "syntax error at line 3, column 8 (byte 19)");
  EXPECT_EQ(ErrorOf("[1, 2,]"), "syntax error at line 1, column 7 (byte 6)");
  EXPECT_EQ(ErrorOf(R"({"a": 1} x)"), "extra data at line 1, column 10 (byte 9)");
}

TEST(ParseJsonTest, TextThatEndsTooSoonIsIncompleteAtTheEnd) {
  EXPECT_EQ(ErrorOf(R"({"a": 1)"), "incomplete JSON at the end (byte 7)");
  EXPECT_EQ(ErrorOf(""), "incomplete JSON at the end (byte 0)");
}

TEST(ParseJsonTest, ParsesValidTextAndBoundsTheDepth) {
  const Result<boost::json::value> parsed = ParseJson("{\"a\": [1, 2]}\n");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(*parsed, boost::json::parse(R"({"a":[1,2]})"));
  EXPECT_TRUE(ParseJson("[[[1]]]", 3).ok());
  EXPECT_EQ(ParseJson("[[[[1]]]]", 3).error().message.rfind("too deep at line 1", 0), 0u)
      << ParseJson("[[[[1]]]]", 3).error().message;
}

}  // namespace
}  // namespace webhookd
