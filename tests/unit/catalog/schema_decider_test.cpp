// SchemaDecider against valijson (ValidateAgainstSchema, valijson alone): on every schema it
// covers, it accepts exactly what valijson accepts, except that it may send a document to
// valijson (Accepts() false) where valijson would accept (integers beyond int64); never the
// reverse.
#include "catalog/schema_decider.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "catalog/catalog.hpp"

namespace webhookd {
namespace {

namespace json = boost::json;

std::unique_ptr<const SchemaDecider> Decider(std::string_view schema) {
  return SchemaDecider::Compile(json::parse(schema));
}

// Asserts that the decider's verdict on each document is valijson's, and returns how many
// documents valijson accepted (so that a test can show it covered both verdicts).
int ExpectSameVerdicts(std::string_view schema_text, const std::vector<json::value>& documents) {
  const json::value schema = json::parse(schema_text);
  const auto decider = SchemaDecider::Compile(schema);
  EXPECT_NE(decider, nullptr) << schema_text;
  if (decider == nullptr) return 0;
  int accepted = 0;
  for (const json::value& document : documents) {
    const bool reference = ValidateAgainstSchema(schema, document).ok();
    EXPECT_EQ(decider->Accepts(document), reference)
        << schema_text << " on " << json::serialize(document);
    accepted += reference ? 1 : 0;
  }
  return accepted;
}

std::vector<json::value> Parsed(const std::vector<std::string_view>& texts) {
  std::vector<json::value> out;
  for (std::string_view text : texts) out.push_back(json::parse(text));
  return out;
}

TEST(SchemaDeciderTest, EveryBuiltinSchemaHasADecider) {
  for (const EventType& type : Catalog::Builtin().types()) {
    const auto decider = SchemaDecider::Compile(json::parse(type.schema_json));
    ASSERT_NE(decider, nullptr) << type.name;
    EXPECT_TRUE(decider->Accepts(json::parse(type.sample_json))) << type.name;
  }
}

TEST(SchemaDeciderTest, KeywordsItDoesNotCoverGiveNoDecider) {
  for (std::string_view schema : {
           R"({"anyOf": [{"type": "string"}, {"type": "integer"}]})",
           R"({"$ref": "#/definitions/x", "definitions": {"x": {"type": "string"}}})",
           R"({"properties": {"a": {"$ref": "#/definitions/x"}}})",
           R"({"format": "date"})",
           R"({"items": [{"type": "string"}]})",
           R"({"items": true})",
           R"({"enum": [1, 2]})",
           R"({"const": {"a": 1}})",
           R"({"exclusiveMinimum": 0})",
           R"({"uniqueItems": true})",
           R"({"patternProperties": {"^a": {}}})",
           R"({"properties": {"a": false}})",
           R"({"x-custom": 1})",
           R"({"type": "text"})",
           R"({"type": []})",
           R"({"minLength": 1.5})",
           R"({"minimum": 18446744073709551615})",
           R"({"pattern": "("})",
           R"(true)",
       }) {
    EXPECT_EQ(Decider(schema), nullptr) << schema;
  }
}

TEST(SchemaDeciderTest, TypesAsValijsonStrictTypes) {
  const std::vector<json::value> documents =
      Parsed({"null", "true", "0", "-7", "1.0", "1.5", "\"1\"", "{}", "[]"});
  for (std::string_view schema :
       {R"({"type": "null"})", R"({"type": "boolean"})", R"({"type": "integer"})",
        R"({"type": "number"})", R"({"type": "string"})", R"({"type": "object"})",
        R"({"type": "array"})", R"({"type": ["integer", "null"]})",
        R"({"type": ["string", "array", "boolean"]})", R"({})"}) {
    EXPECT_GT(ExpectSameVerdicts(schema, documents), 0) << schema;
  }
}

TEST(SchemaDeciderTest, StringsAsValijsonSeesThem) {
  // valijson counts code points, and reads a string only up to its first NUL.
  json::value with_nul = json::string("ab");
  with_nul.as_string().push_back('\0');
  with_nul.as_string().append("cdefgh");
  const std::vector<json::value> documents = {"",    "a",  "ab",  "abc", "abcd",   "é",  "éé",
                                              "ééé", "😀😀", "😀😀😀", "x😀é", with_nul, "ab", 3};
  EXPECT_GT(ExpectSameVerdicts(R"({"minLength": 3})", documents), 0);
  EXPECT_GT(ExpectSameVerdicts(R"({"maxLength": 2})", documents), 0);
  EXPECT_GT(ExpectSameVerdicts(R"({"type": "string", "minLength": 2, "maxLength": 3})", documents),
            0);
  EXPECT_GT(ExpectSameVerdicts(R"({"pattern": "^ab$"})", documents), 0);
  EXPECT_GT(ExpectSameVerdicts(R"({"pattern": "b"})", documents), 0);
  EXPECT_GT(ExpectSameVerdicts(R"({"const": "ab"})", documents), 0);
  EXPECT_GT(ExpectSameVerdicts(R"({"enum": ["é", "ab", null, true]})", documents), 0);
}

TEST(SchemaDeciderTest, LiteralsCompareWithoutConversions) {
  const std::vector<json::value> documents =
      Parsed({"null", "true", "false", "0", "1", "\"true\"", "\"null\"", "\"\"", "[]", "{}"});
  for (std::string_view schema : {R"({"const": null})", R"({"const": true})",
                                  R"({"const": "true"})", R"({"enum": [false, "null", ""]})"}) {
    EXPECT_GT(ExpectSameVerdicts(schema, documents), 0) << schema;
  }
}

TEST(SchemaDeciderTest, NumericLimits) {
  const std::vector<json::value> documents =
      Parsed({"-1", "0", "0.0", "-0.0", "0.5", "1", "2", "2.5", "9007199254740993",
              "-9223372036854775808", "1e300", "\"5\"", "null"});
  for (std::string_view schema :
       {R"({"minimum": 0})", R"({"maximum": 2})", R"({"minimum": 0.5, "maximum": 2.5})",
        R"({"type": "integer", "minimum": 1})", R"({"minimum": -9223372036854775808})"}) {
    EXPECT_GT(ExpectSameVerdicts(schema, documents), 0) << schema;
  }
}

TEST(SchemaDeciderTest, IntegersBeyondInt64AreLeftToValijson) {
  const json::value huge = json::parse("18446744073709551615");
  const json::value inside = json::parse(R"({"a": [18446744073709551615]})");
  for (std::string_view schema : {R"({})", R"({"type": "number"})", R"({"minimum": 0})"}) {
    const auto decider = Decider(schema);
    ASSERT_NE(decider, nullptr) << schema;
    EXPECT_FALSE(decider->Accepts(huge)) << schema;
  }
  const auto reaching = Decider(R"({"properties": {"a": {"items": {}}}})");
  ASSERT_NE(reaching, nullptr);
  EXPECT_FALSE(reaching->Accepts(inside));
  // A value no subschema reaches is not looked at, by valijson either.
  const auto not_reaching = Decider(R"({"properties": {"b": {}}})");
  ASSERT_NE(not_reaching, nullptr);
  EXPECT_TRUE(not_reaching->Accepts(inside));
  EXPECT_TRUE(ValidateAgainstSchema(json::parse(R"({"properties": {"b": {}}})"), inside).ok());
  // valijson's own verdicts, which Catalog::Validate then gives: not a "number", yet no limit
  // applies to it.
  EXPECT_FALSE(ValidateAgainstSchema(json::parse(R"({"type": "number"})"), huge).ok());
  EXPECT_TRUE(ValidateAgainstSchema(json::parse(R"({"minimum": 0})"), huge).ok());
}

TEST(SchemaDeciderTest, ObjectsAndArrays) {
  const std::vector<json::value> documents = Parsed({
      R"({})",
      R"({"a": "x"})",
      R"({"a": "x", "b": 1})",
      R"({"a": 1})",
      R"({"a": "x", "extra": true})",
      R"({"a": "x", "extra": "y"})",
      R"({"b": 2})",
      R"({"a": "x", "b": "x"})",
      R"([])",
      R"(["x"])",
      R"(["x", "y", "z"])",
      R"(["x", 1])",
      R"([[], {}])",
      R"("a")",
  });
  for (std::string_view schema : {
           R"({"required": ["a"]})",
           R"({"properties": {"a": {"type": "string"}, "b": {"type": "integer", "minimum": 2}}})",
           R"({"properties": {"a": {"type": "string"}}, "additionalProperties": false})",
           R"({"properties": {"a": {}}, "additionalProperties": {"type": "boolean"}})",
           R"({"additionalProperties": false})",
           R"({"type": "object", "required": ["a", "b"], "properties": {"b": {"const": "x"}}})",
           R"({"items": {"type": "string"}})",
           R"({"minItems": 1, "maxItems": 2})",
           R"({"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 2})",
           R"({"items": {"type": ["array", "object"], "maxItems": 0}})",
       }) {
    EXPECT_GT(ExpectSameVerdicts(schema, documents), 0) << schema;
  }
}

}  // namespace
}  // namespace webhookd
