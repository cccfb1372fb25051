// Hand-compiled checks for the regular expressions of the catalog's "pattern"s: the same
// answer as std::regex_search with the ECMAScript pattern (tests/unit/catalog/
// pattern_checks_test.cpp compares them on the catalog's values and on mutations of them),
// without std::regex's backtracking interpreter on every validated string.
#pragma once

#include <optional>
#include <regex>
#include <string>
#include <string_view>

namespace webhookd {

using PatternCheck = bool (*)(std::string_view text);

// The check equivalent to `pattern`, or nullopt when the pattern is not one of the catalog's
// (its value is then checked with std::regex).
std::optional<PatternCheck> CompiledPatternCheck(std::string_view pattern);

// A "pattern" as the catalog's validators check it: its compiled check when it is one of the
// catalog's, else std::regex_search with the ECMAScript pattern, compiled once here. Throws
// std::regex_error if std::regex cannot compile it. Matches() may be called from any number of
// threads.
class PatternMatcher {
 public:
  explicit PatternMatcher(const std::string& pattern);
  bool Matches(std::string_view text) const;

 private:
  std::optional<PatternCheck> check_;
  std::optional<std::regex> regex_;  // when there is no compiled check
};

}  // namespace webhookd
