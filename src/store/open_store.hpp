// Chooses and opens the Store named by a database URL (the --db flag).
#pragma once

#include <memory>
#include <string_view>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "store/store.hpp"

namespace webhookd {

// "sqlite:PATH": the SQLite store in file PATH, created if missing (its directory must exist),
// migrated to the current schema. Any other URL is Error::Invalid with a message that names
// the accepted forms ("postgres://..." is recognised but not supported yet). The URL itself is
// never echoed, since it may hold a password. `clock` must outlive the store.
Result<std::unique_ptr<Store>> OpenStore(std::string_view url, const Clock& clock);

}  // namespace webhookd
