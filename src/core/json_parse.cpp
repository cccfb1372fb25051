#include "core/json_parse.hpp"

#include <array>
#include <boost/json/stream_parser.hpp>
#include <cstring>

namespace webhookd {
namespace {

bool IsJsonSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::size_t SkipSpace(std::string_view text, std::size_t at) {
  while (at < text.size() && IsJsonSpace(text[at])) ++at;
  return at;
}

// `at` is on a string's opening quote: the offset just past its closing quote (past the end
// when there is none). memchr finds each quote; one is escaped when an odd number of
// backslashes comes right before it.
std::size_t SkipString(std::string_view text, std::size_t at) {
  const char* const content = text.data() + at + 1;
  const char* const end = text.data() + text.size();
  for (const char* from = content; from < end;) {
    const auto* quote = static_cast<const char*>(std::memchr(from, '"', end - from));
    if (quote == nullptr) break;
    const char* run = quote;
    while (run > content && run[-1] == '\\') --run;
    if ((quote - run) % 2 == 0) return static_cast<std::size_t>(quote + 1 - text.data());
    from = quote + 1;
  }
  return text.size() + 1;
}

// What SkipValue stops at inside an array or object; every other byte is skipped in one pass.
enum : unsigned char { kPlain, kQuote, kOpen, kClose };
constexpr std::array<unsigned char, 256> kStructure = [] {
  std::array<unsigned char, 256> table{};
  table['"'] = kQuote;
  table['{'] = table['['] = kOpen;
  table['}'] = table[']'] = kClose;
  return table;
}();

// `at` is on a value's first byte: the offset just past the value.
std::size_t SkipValue(std::string_view text, std::size_t at) {
  if (text[at] == '"') return SkipString(text, at);
  if (text[at] != '{' && text[at] != '[') {
    while (at < text.size() && !IsJsonSpace(text[at]) && text[at] != ',' && text[at] != '}' &&
           text[at] != ']') {
      ++at;
    }
    return at;
  }
  std::size_t depth = 0;
  while (at < text.size()) {
    switch (kStructure[static_cast<unsigned char>(text[at])]) {
      case kQuote:
        at = SkipString(text, at);
        continue;
      case kOpen:
        ++depth;
        break;
      case kClose:
        if (--depth == 0) return at + 1;
        break;
      default:
        break;
    }
    ++at;
  }
  return at;
}

}  // namespace

std::string TextPosition(std::string_view text, std::size_t offset) {
  const std::string byte = "(byte " + std::to_string(offset) + ")";
  if (offset >= text.size()) return "the end " + byte;
  std::size_t line = 1;
  std::size_t line_start = 0;
  for (std::size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(offset - line_start + 1) +
         " " + byte;
}

Result<boost::json::value> ParseJson(std::string_view text, std::size_t max_depth,
                                     boost::json::storage_ptr storage) {
  boost::json::parse_options options;
  options.max_depth = max_depth;
  boost::json::stream_parser parser({}, options);
  parser.reset(std::move(storage));
  boost::json::error_code ec;
  // On an error, the count is the offset of the byte the parser stopped at.
  const std::size_t consumed = parser.write(text.data(), text.size(), ec);
  if (!ec) parser.finish(ec);
  if (ec) return Error::Invalid(ec.message() + " at " + TextPosition(text, consumed));
  return parser.release();
}

std::optional<std::string_view> RawMemberText(std::string_view object_text, std::string_view key) {
  std::size_t at = SkipSpace(object_text, 0);
  if (at >= object_text.size() || object_text[at] != '{') return std::nullopt;
  std::optional<std::string_view> found;
  at = SkipSpace(object_text, at + 1);
  while (at < object_text.size() && object_text[at] == '"') {
    const std::size_t name_end = SkipString(object_text, at);
    if (name_end > object_text.size()) return std::nullopt;
    const std::string_view name = object_text.substr(at + 1, name_end - at - 2);
    if (name.find('\\') != std::string_view::npos) return std::nullopt;
    at = SkipSpace(object_text, SkipSpace(object_text, name_end) + 1);  // past the ':'
    if (at >= object_text.size()) return std::nullopt;
    const std::size_t value_end = SkipValue(object_text, at);
    if (value_end > object_text.size()) return std::nullopt;
    if (name == key) {
      if (found) return std::nullopt;
      found = object_text.substr(at, value_end - at);
    }
    at = SkipSpace(object_text, value_end);
    if (at < object_text.size() && object_text[at] == ',') at = SkipSpace(object_text, at + 1);
  }
  return found;
}

}  // namespace webhookd
