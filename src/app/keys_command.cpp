#include <cstdio>

#include "api/api.hpp"
#include "app/commands.hpp"
#include "core/clock.hpp"
#include "store/open_store.hpp"

namespace webhookd::app {

int RunKeysCreate(const KeysCreateOptions& options) {
  if (!ConfigureLogging("warn")) return 2;
  SystemClock clock;
  Result<std::unique_ptr<Store>> store = OpenStore(options.db, clock);
  if (!store.ok()) {
    std::fprintf(stderr, "webhookd: cannot open %s: %s\n", options.db.c_str(),
                 store.error().message.c_str());
    return 1;
  }
  if (options.organization && *options.organization <= 0) {
    std::fprintf(stderr, "webhookd: --org must be a positive organization id\n");
    return 2;
  }
  Result<api::IssuedKey> issued = api::IssueApiKey(**store, options.organization, options.name);
  if (!issued.ok()) {
    std::fprintf(stderr, "webhookd: cannot create the key: %s\n", issued.error().message.c_str());
    return 1;
  }
  std::printf("%s\n", issued->key.c_str());
  if (options.organization) {
    std::fprintf(stderr, "Created API key %lld for organization %lld. It is shown only once.\n",
                 static_cast<long long>(issued->record.id),
                 static_cast<long long>(*options.organization));
  } else {
    std::fprintf(stderr, "Created admin API key %lld. It is shown only once.\n",
                 static_cast<long long>(issued->record.id));
  }
  return 0;
}

}  // namespace webhookd::app
