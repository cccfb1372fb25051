// RFC 3339 timestamps as the API shows them ("2026-11-27T00:17:08.123Z", always UTC).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/model.hpp"

namespace webhookd {

std::string FormatRfc3339(UnixMillis t);
// Accepts "YYYY-MM-DDTHH:MM:SS[.fff][Z|+HH:MM|-HH:MM]" (also with a space or lowercase t/z).
std::optional<UnixMillis> ParseRfc3339(std::string_view text);

}  // namespace webhookd
