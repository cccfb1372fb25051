// Parsing JSON text with errors that say where: a client with a 40-line body needs the line.
#pragma once

#include <boost/json/storage_ptr.hpp>
#include <boost/json/value.hpp>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace webhookd {

// "line 3, column 8 (byte 19)": the place of byte `offset` of `text`, lines and columns counted
// from 1 (columns in bytes); an offset at the end of the text is "at the end (byte N)".
std::string TextPosition(std::string_view text, std::size_t offset);

// The one JSON value `text` holds, nested at most `max_depth` deep. Otherwise Error::Invalid
// whose message is the parser's reason and where it stopped, e.g.
// "syntax error at line 3, column 8 (byte 19)" or "incomplete JSON at the end (byte 6)".
// The value's memory comes from `storage` (default: the heap), e.g. an arena that outlives it.
Result<boost::json::value> ParseJson(std::string_view text, std::size_t max_depth = 64,
                                     boost::json::storage_ptr storage = {});

// The exact text of member `key` of the JSON object `object_text`, which ParseJson accepted (it
// is not checked again): what the client wrote, so that a stored value need not be serialized
// anew. Nullopt when `object_text` is not an object, has no such member, has it more than once,
// or has a member name written with an escape (which could spell `key`).
std::optional<std::string_view> RawMemberText(std::string_view object_text, std::string_view key);

}  // namespace webhookd
