// GET /openapi.json: the API's description, docs/openapi.yaml converted to JSON at build time.
#include "api/api.hpp"

namespace webhookd::api {

void AddOpenApiRoutes(Router& router) {
  router.Add("GET", "/openapi.json", Access::kPublic, [](Call&) {
    Response response;
    response.body = std::string(OpenApiJson());
    return response;
  });
}

}  // namespace webhookd::api
