// `webhookd migrate --db URL`: brings the database schema up to date and exits, so that an
// operator can migrate once before rolling out new nodes. Opening a store applies its pending
// migrations (under an advisory lock on PostgreSQL), so this opens the store and closes it.
#include <cstdio>

#include "app/commands.hpp"
#include "core/clock.hpp"
#include "store/open_store.hpp"

namespace webhookd::app {

int RunMigrate(const MigrateOptions& options) {
  SystemClock clock;
  Result<std::unique_ptr<Store>> store = OpenStore(options.db, clock);
  if (!store.ok()) {
    std::fprintf(stderr, "webhookd: cannot migrate the database %s: %s\n",
                 RedactedStoreUrl(options.db).c_str(), store.error().message.c_str());
    return 1;
  }
  store->reset();
  std::printf("webhookd: the database %s is at the current schema\n",
              RedactedStoreUrl(options.db).c_str());
  return 0;
}

}  // namespace webhookd::app
