#include "app/duration.hpp"

#include <fmt/core.h>

#include <charconv>
#include <cstdint>
#include <string>

namespace webhookd::app {

Result<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  const Error invalid =
      Error::Invalid(fmt::format("'{}' is not a duration (examples: 500ms, 2s, 5m, 1h)", text));
  std::int64_t amount = 0;
  const auto [rest, ec] = std::from_chars(text.data(), text.data() + text.size(), amount);
  if (ec != std::errc() || rest == text.data() || amount < 0) return invalid;
  const std::string_view unit(rest, static_cast<std::size_t>(text.data() + text.size() - rest));
  constexpr std::int64_t kMaxSeconds = 365LL * 24 * 3600;  // keeps the products below in range
  if (amount > kMaxSeconds * 1000) return invalid;
  if (unit == "ms") return std::chrono::milliseconds(amount);
  if (amount > kMaxSeconds) return invalid;
  if (unit.empty() || unit == "s") return std::chrono::milliseconds(amount * 1000);
  if (unit == "m") return std::chrono::milliseconds(amount * 60'000);
  if (unit == "h") return std::chrono::milliseconds(amount * 3'600'000);
  return invalid;
}

}  // namespace webhookd::app
