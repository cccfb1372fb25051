// Bytes from the outside world (a receiver's response body) shown as JSON text.
#pragma once

#include <string>
#include <string_view>

namespace webhookd {

// `bytes` with every byte that is not part of a well-formed UTF-8 sequence (a character cut by
// the 64 KiB cap, binary data, overlong forms, surrogates) replaced by U+FFFD, so that the
// result can be put in a JSON string: JSON text must be UTF-8 and strict parsers refuse the
// whole document otherwise. Valid input is returned unchanged.
std::string ValidUtf8(std::string_view bytes);

// Appends `text` as a JSON string, escaped exactly as json::serialize escapes it (quote,
// backslash, \b \t \n \f \r, other control bytes as \u00xx), without the string that
// serializing one value allocates. Bytes that are not UTF-8 become U+FFFD first.
void AppendJsonString(std::string& out, std::string_view text);

}  // namespace webhookd
