// Helpers shared by the fuzz targets: the input as text, cut into fields.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

namespace webhookd::fuzz {

inline std::string_view AsText(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// The first `count` lines of `text` (without their '\n'), then the rest as one last field, so
// that a seed reads as a small text file. Missing lines are empty.
inline std::vector<std::string_view> SplitFields(std::string_view text, std::size_t count) {
  std::vector<std::string_view> fields;
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t newline = text.find('\n');
    fields.push_back(text.substr(0, newline));
    text = newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);
  }
  fields.push_back(text);
  return fields;
}

// A property the code promises was broken: libFuzzer saves the input as a crash.
[[noreturn]] inline void Broken(const char* promise) {
  std::fprintf(stderr, "broken promise: %s\n", promise);
  std::abort();
}

}  // namespace webhookd::fuzz
