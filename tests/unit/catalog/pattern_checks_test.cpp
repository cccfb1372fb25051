// The compiled pattern checks against std::regex, the engine valijson uses: the same answer
// for every catalog pattern on valid values and on mutations of them.
#include "catalog/pattern_checks.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "catalog/catalog.hpp"

namespace webhookd {
namespace {

void CollectPatterns(const boost::json::value& schema, std::set<std::string>& patterns) {
  if (const auto* array = schema.if_array()) {
    for (const auto& item : *array) CollectPatterns(item, patterns);
  }
  if (const auto* object = schema.if_object()) {
    for (const auto& member : *object) {
      if (member.key() == "pattern" && member.value().is_string()) {
        patterns.insert(std::string(member.value().as_string()));
      } else {
        CollectPatterns(member.value(), patterns);
      }
    }
  }
}

std::set<std::string> CatalogPatterns() {
  std::set<std::string> patterns;
  for (const EventType& type : Catalog::Builtin().types()) {
    CollectPatterns(boost::json::parse(type.schema_json), patterns);
  }
  return patterns;
}

// Values that match one of the patterns, and near misses, to mutate.
const std::vector<std::string> kSeeds = {
    "2024-02-29",
    "1999-12-31",
    "2024-10-09",
    "00:00",
    "23:59:59",
    "19:05:00",
    "09:30",
    "2024-05-01T10:00:00Z",
    "2024-05-01T10:00:00.123+05:30",
    "2024-05-01T10:00:00-00:00",
    "a@b.co",
    "first.last+tag@mail.example.org",
    "x@y..",
    "",
    "@",
};

// Characters that the patterns treat specially, whitespace as std::regex sees it, and bytes
// outside ASCII.
const std::string kAlphabet =
    std::string("0123456789-:T.Z+@ aZt\t\n\v\f\r/") + '\0' + "\x85\xa0\xff";

std::vector<std::string> Mutations(const std::string& seed) {
  std::vector<std::string> out = {seed, seed + seed, " " + seed, seed + "\n"};
  for (std::size_t i = 0; i <= seed.size(); ++i) {
    out.push_back(seed.substr(0, i));
    if (i < seed.size()) out.push_back(seed.substr(0, i) + seed.substr(i + 1));
    for (char c : kAlphabet) {
      out.push_back(seed.substr(0, i) + c + seed.substr(i));
      if (i < seed.size()) out.push_back(seed.substr(0, i) + c + seed.substr(i + 1));
    }
  }
  return out;
}

TEST(PatternChecksTest, EveryCatalogPatternIsCompiled) {
  const std::set<std::string> patterns = CatalogPatterns();
  EXPECT_EQ(patterns.size(), 4u);
  for (const std::string& pattern : patterns) {
    EXPECT_TRUE(CompiledPatternCheck(pattern).has_value()) << pattern;
  }
  EXPECT_FALSE(CompiledPatternCheck("^[a-z]+$").has_value());
}

TEST(PatternChecksTest, AgreesWithStdRegexOnMutatedValues) {
  int compared = 0;
  int matched = 0;
  for (const std::string& pattern : CatalogPatterns()) {
    const std::regex regex(pattern);
    const PatternCheck check = *CompiledPatternCheck(pattern);
    for (const std::string& seed : kSeeds) {
      for (const std::string& value : Mutations(seed)) {
        const bool expected = std::regex_search(value, regex);
        ASSERT_EQ(check(value), expected) << pattern << " on \"" << value << "\"";
        ++compared;
        matched += expected ? 1 : 0;
      }
    }
  }
  // Both answers occur often enough for the comparison to mean something.
  EXPECT_GT(compared, 20'000);
  EXPECT_GT(matched, 500);
}

}  // namespace
}  // namespace webhookd
