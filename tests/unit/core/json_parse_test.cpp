#include "core/json_parse.hpp"

#include <gtest/gtest.h>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <optional>

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

TEST(ParseJsonTest, TakesTheValuesMemoryFromTheStorageGiven) {
  boost::json::monotonic_resource arena;
  const std::string_view text = R"({"a": ["a string longer than a small one", {"b": 1.5}]})";
  const Result<boost::json::value> parsed = ParseJson(text, 64, &arena);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->storage().get(), &arena);
  EXPECT_EQ(parsed->at("a").storage().get(), &arena);
  EXPECT_EQ(*parsed, boost::json::parse(text));
  EXPECT_NE(ParseJson(text)->storage().get(), &arena);
}

TEST(RawMemberTextTest, IsTheMembersTextAsWritten) {
  const std::string_view text =
      " {\"a\" : 1.50 ,\"payload\":\t{ \"s\": \"}\\\" ]\", \"n\": [1, {\"x\": \"{\"}],\n"
      "\"e\": \"\\u0041\" } , \"z\":null}\n";
  ASSERT_TRUE(ParseJson(text).ok());
  EXPECT_EQ(RawMemberText(text, "payload"),
            "{ \"s\": \"}\\\" ]\", \"n\": [1, {\"x\": \"{\"}],\n\"e\": \"\\u0041\" }");
  EXPECT_EQ(RawMemberText(text, "a"), "1.50");
  EXPECT_EQ(RawMemberText(text, "z"), "null");
  EXPECT_EQ(RawMemberText(R"({"p":"x\"y","q":[]})", "p"), R"("x\"y")");
  EXPECT_EQ(RawMemberText(R"({"p":"x\"y","q":[]})", "q"), "[]");
  EXPECT_EQ(RawMemberText(R"({"q":-0.5e+3})", "q"), "-0.5e+3");
  // Found by event_ingest_fuzz: Boost.JSON 1.81 parses this number to a neighbouring double
  // alone and inside an object; the stored text keeps every digit the producer sent.
  EXPECT_EQ(RawMemberText(R"({"payload":-93.2781128566754798484034742e122})", "payload"),
            "-93.2781128566754798484034742e122");
}

// Whatever the text, the member's text parses to the member's value.
TEST(RawMemberTextTest, ParsesToTheParsedMember) {
  for (std::string_view text : {
           R"({"payload":{"a":[1,2,{"b":"]}"}],"c":true}})",
           R"({ "x": "payload", "payload" : [ "\"", "\\", {} , [] ] })",
           R"({"payload":"a\\"})",
           R"({"payload":false,"after":{"payload":1}})",
           R"({"before":{"payload":1},"payload":123456789012345678901234567890})",
           // Runs of backslashes before a quote: odd escapes it, even does not.
           R"({"payload":["a\\\"]\\",1,""],"z":"\\\\"})",
           R"({"k":"\\\\\"}","payload":{"k\\":"\\\\\"}","":""}})",
       }) {
    SCOPED_TRACE(text);
    const Result<boost::json::value> parsed = ParseJson(text);
    ASSERT_TRUE(parsed.ok());
    const std::optional<std::string_view> raw = RawMemberText(text, "payload");
    ASSERT_TRUE(raw.has_value());
    EXPECT_EQ(boost::json::parse(*raw), parsed->as_object().at("payload"));
  }
}

TEST(RawMemberTextTest, AnswersNothingWhenItCannotTell) {
  EXPECT_EQ(RawMemberText(R"({"a":1})", "payload"), std::nullopt);
  EXPECT_EQ(RawMemberText(R"({"payload":1,"payload":2})", "payload"), std::nullopt);
  // An escaped name may spell the key: "\u0070ayload" is "payload".
  EXPECT_EQ(RawMemberText(R"({"\u0070ayload":1,"payload":2})", "payload"), std::nullopt);
  EXPECT_EQ(RawMemberText(R"([{"payload":1}])", "payload"), std::nullopt);
  EXPECT_EQ(RawMemberText("", "payload"), std::nullopt);
  EXPECT_EQ(RawMemberText("{}", "payload"), std::nullopt);
  // Text that ParseJson would refuse is not for this function, but a string that never ends
  // still reads nothing past the text's end.
  EXPECT_EQ(RawMemberText(R"({"payload":"abc)", "payload"), std::nullopt);
  EXPECT_EQ(RawMemberText(R"({"payload":["a\"]})", "payload"), std::nullopt);
}

}  // namespace
}  // namespace webhookd
