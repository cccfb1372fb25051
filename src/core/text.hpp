// Small text helpers shared across parts.
#pragma once

#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>

namespace webhookd {

// ASCII lowercase (HTTP header names); other bytes are kept as they are.
inline std::string Lowercase(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower;
}

}  // namespace webhookd
