#include "api/api.hpp"
#include "api/json_io.hpp"
#include "api/problem.hpp"

namespace webhookd::api {

void AddHealthRoutes(Router& router, ApiContext& context) {
  router.Add("GET", "/healthz", Access::kPublic, [](Call&) {
    return JsonResponse(200, {{"status", "ok"}});
  });
  router.Add("GET", "/readyz", Access::kPublic, [&context](Call&) {
    const Status ping = context.store.Ping();
    if (!ping.ok()) {
      return ProblemResponse(
          Error::Unavailable("the store is not reachable: " + ping.error().message));
    }
    return JsonResponse(200, {{"status", "ready"}});
  });
}

}  // namespace webhookd::api
