// Chooses and opens the Store named by a database URL (the --db flag).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "store/store.hpp"

namespace webhookd {

struct StoreOptions {
  // This process's name as the owner of delivery leases (PostgreSQL, where several nodes share
  // the store). Empty: hostname:pid.
  std::string node_id;
};

// "sqlite:PATH": the SQLite store in file PATH, created if missing (its directory must exist),
// migrated to the current schema. "postgres://..." or "postgresql://..." (a libpq URL): the
// PostgreSQL store, migrated to the current schema (under an advisory lock, so several nodes
// may start at once). Any other URL is Error::Invalid with a message that names the accepted
// forms. The URL itself is never echoed, since it may hold a password. `clock` must outlive
// the store.
Result<std::unique_ptr<Store>> OpenStore(std::string_view url, const Clock& clock,
                                         const StoreOptions& options);
Result<std::unique_ptr<Store>> OpenStore(std::string_view url, const Clock& clock);

// True for URLs of a store that several webhookd nodes may share (PostgreSQL).
bool IsSharedStoreUrl(std::string_view url);

// `url` fit for messages and logs: a password in it is replaced by "***" and a query string
// (which may hold one too) is dropped.
std::string RedactedStoreUrl(std::string_view url);

}  // namespace webhookd
