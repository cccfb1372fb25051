#include "api/api.hpp"

namespace webhookd::api {

std::unique_ptr<Router> BuildRouter(ApiContext& context) {
  auto router =
      std::make_unique<Router>(MakeAuthenticator(context.store),
                               [&context](AuditEntry entry, std::function<void(Status)> done) {
                                 entry.at = context.clock.Now();
                                 context.store.AppendAuditAsync(std::move(entry), std::move(done));
                               });
  AddHealthRoutes(*router, context);
  AddEventTypeRoutes(*router, context);
  AddConfigRoutes(*router, context);
  AddApiKeyRoutes(*router, context);
  AddEventRoutes(*router, context);
  AddDeliveryRoutes(*router, context);
  AddMetricsRoutes(*router, context);
  AddStatsRoutes(*router, context);
  AddAuditRoutes(*router, context);
  AddOrganizationRoutes(*router, context);
  AddOpenApiRoutes(*router, context.catalog);
  AddConsoleRoutes(*router);
  return router;
}

}  // namespace webhookd::api
