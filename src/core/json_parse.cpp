#include "core/json_parse.hpp"

#include <boost/json/stream_parser.hpp>

namespace webhookd {

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

Result<boost::json::value> ParseJson(std::string_view text, std::size_t max_depth) {
  boost::json::parse_options options;
  options.max_depth = max_depth;
  boost::json::stream_parser parser({}, options);
  boost::json::error_code ec;
  // On an error, the count is the offset of the byte the parser stopped at.
  const std::size_t consumed = parser.write(text.data(), text.size(), ec);
  if (!ec) parser.finish(ec);
  if (ec) return Error::Invalid(ec.message() + " at " + TextPosition(text, consumed));
  return parser.release();
}

}  // namespace webhookd
