// Sortable unique ids for events and deliveries: "<prefix>_" + a 26-character ULID
// (48 bits of milliseconds, 80 random bits, Crockford base32). Ids made later in the same
// process sort after earlier ones, even within one millisecond.
#pragma once

#include <string>
#include <string_view>

#include "core/model.hpp"

namespace webhookd {

// Thread-safe.
std::string NewSortableId(std::string_view prefix, UnixMillis now);

// The smallest id NewSortableId(prefix, t) can give for any t >= `time`: ids at or above it
// were made at or after `time`. Its random part is zero, so its last digit is '0'.
std::string SortableIdLowerBound(std::string_view prefix, UnixMillis time);

// Whether `text` has the form NewSortableId(prefix, ...) gives: "<prefix>_" and 26 Crockford
// base32 digits (upper case), the first of them 0 to 7 (the 128-bit value's top two bits of
// 130 are zero).
bool IsSortableId(std::string_view text, std::string_view prefix);

}  // namespace webhookd
