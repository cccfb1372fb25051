#include "catalog/pattern_checks.hpp"

#include <algorithm>
#include <array>
#include <utility>

namespace webhookd {
namespace {

bool InRange(char c, char low, char high) { return c >= low && c <= high; }
bool IsDigit(char c) { return InRange(c, '0', '9'); }

bool AreDigits(std::string_view text) { return std::all_of(text.begin(), text.end(), IsDigit); }

// What std::regex's \s matches in the classic "C" locale.
bool IsSpace(char c) { return c == ' ' || InRange(c, '\t', '\r'); }

// (0[1-9]|1[0-2])
bool IsMonth(char tens, char ones) {
  return (tens == '0' && InRange(ones, '1', '9')) || (tens == '1' && InRange(ones, '0', '2'));
}

// (0[1-9]|[12][0-9]|3[01])
bool IsDay(char tens, char ones) {
  return (tens == '0' && InRange(ones, '1', '9')) || (InRange(tens, '1', '2') && IsDigit(ones)) ||
         (tens == '3' && InRange(ones, '0', '1'));
}

// ([01][0-9]|2[0-3])
bool IsHour(char tens, char ones) {
  return (InRange(tens, '0', '1') && IsDigit(ones)) || (tens == '2' && InRange(ones, '0', '3'));
}

// [0-5][0-9]
bool IsMinute(char tens, char ones) { return InRange(tens, '0', '5') && IsDigit(ones); }

// ^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$
bool IsDate(std::string_view s) {
  return s.size() == 10 && AreDigits(s.substr(0, 4)) && s[4] == '-' && IsMonth(s[5], s[6]) &&
         s[7] == '-' && IsDay(s[8], s[9]);
}

// ^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$
bool IsTimeOfDay(std::string_view s) {
  if (s.size() != 5 && s.size() != 8) return false;
  if (!IsHour(s[0], s[1]) || s[2] != ':' || !IsMinute(s[3], s[4])) return false;
  return s.size() == 5 || (s[5] == ':' && IsMinute(s[6], s[7]));
}

// ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$
bool IsDateTime(std::string_view s) {
  constexpr std::string_view kShape = "0000-00-00T00:00:00";  // '0': any digit
  if (s.size() <= kShape.size()) return false;
  for (std::size_t i = 0; i < kShape.size(); ++i) {
    if (kShape[i] == '0' ? !IsDigit(s[i]) : s[i] != kShape[i]) return false;
  }
  std::string_view rest = s.substr(kShape.size());
  if (rest.front() == '.') {
    const auto digits_end = std::find_if_not(rest.begin() + 1, rest.end(), IsDigit);
    const auto digits = static_cast<std::size_t>(digits_end - rest.begin()) - 1;
    if (digits == 0) return false;
    rest.remove_prefix(1 + digits);
  }
  if (rest == "Z") return true;
  return rest.size() == 6 && (rest[0] == '+' || rest[0] == '-') && AreDigits(rest.substr(1, 2)) &&
         rest[3] == ':' && AreDigits(rest.substr(4, 2));
}

// ^[^@\s]+@[^@\s]+\.[^@\s]+$: one '@' with something before it, no whitespace, and after
// the '@' a '.' that is neither its first nor its last character.
bool IsEmailAddress(std::string_view s) {
  if (std::any_of(s.begin(), s.end(), IsSpace)) return false;
  const std::size_t at = s.find('@');
  if (at == 0 || at == std::string_view::npos) return false;
  const std::string_view domain = s.substr(at + 1);
  if (domain.find('@') != std::string_view::npos || domain.size() < 3) return false;
  return domain.substr(1, domain.size() - 2).find('.') != std::string_view::npos;
}

constexpr std::array<std::pair<std::string_view, PatternCheck>, 4> kCompiledPatterns = {{
    {"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$", IsDate},
    {"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$", IsTimeOfDay},
    {R"(^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$)",
     IsDateTime},
    {R"(^[^@\s]+@[^@\s]+\.[^@\s]+$)", IsEmailAddress},
}};

}  // namespace

std::optional<PatternCheck> CompiledPatternCheck(std::string_view pattern) {
  for (const auto& [source, check] : kCompiledPatterns) {
    if (source == pattern) return check;
  }
  return std::nullopt;
}

PatternMatcher::PatternMatcher(const std::string& pattern) : check_(CompiledPatternCheck(pattern)) {
  if (!check_) regex_.emplace(pattern);
}

bool PatternMatcher::Matches(std::string_view text) const {
  if (check_) return (*check_)(text);
  return std::regex_search(text.begin(), text.end(), *regex_);
}

}  // namespace webhookd
