#include "api/api.hpp"

namespace webhookd::api {

std::unique_ptr<Router> BuildRouter(ApiContext& context) {
  auto router = std::make_unique<Router>(MakeAuthenticator(context.store));
  AddHealthRoutes(*router, context);
  AddEventTypeRoutes(*router, context);
  AddConfigRoutes(*router, context);
  AddApiKeyRoutes(*router, context);
  AddEventRoutes(*router, context);
  AddDeliveryRoutes(*router, context);
  AddMetricsRoutes(*router, context);
  AddOpenApiRoutes(*router, context.catalog);
  return router;
}

}  // namespace webhookd::api
