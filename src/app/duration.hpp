// Durations as people type them on the command line: "500ms", "2s", "5m", "1h".
#pragma once

#include <chrono>
#include <string_view>

#include "core/result.hpp"

namespace webhookd::app {

// A non-negative integer followed by ms, s, m or h; a bare number means seconds.
// Error::Invalid naming the text otherwise.
Result<std::chrono::milliseconds> ParseDuration(std::string_view text);

}  // namespace webhookd::app
