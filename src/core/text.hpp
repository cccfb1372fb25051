// Small text helpers shared across parts.
#pragma once

#include <string>
#include <string_view>

namespace webhookd {

// ASCII lowercase; other bytes are kept as they are. Inline rather than std::tolower, a libc
// call per byte that showed in the profile of every delivery (header names, masking).
inline char AsciiLower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

// ASCII lowercase (HTTP header names, schemes, hosts).
inline std::string Lowercase(std::string_view text) {
  std::string lower(text);
  for (char& c : lower) c = AsciiLower(c);
  return lower;
}

// Whether `text` holds a CR, LF or NUL: an HTTP header name or value that does cannot be
// written without splitting the message (RFC 9110 §5.5).
inline bool HasLineBreak(std::string_view text) {
  return text.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

}  // namespace webhookd
