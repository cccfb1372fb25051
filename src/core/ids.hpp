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

}  // namespace webhookd
