// JSON Pointers (RFC 6901), as problem responses name the field they are about.
#pragma once

#include <string>
#include <string_view>

namespace webhookd {

// Appends "/" and `key`, with "~" written "~0" and "/" written "~1".
void AppendPointerToken(std::string& pointer, std::string_view key);

}  // namespace webhookd
