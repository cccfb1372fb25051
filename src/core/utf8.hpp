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

}  // namespace webhookd
