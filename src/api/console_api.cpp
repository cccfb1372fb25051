// The web console's files at /console/ (public: the console signs in with an API key that it
// sends to the API like any client), and / redirecting there.
#include "api/api.hpp"
#include "api/problem.hpp"
#include "console/assets.hpp"

namespace webhookd::api {
namespace {

// The console runs only its own files: no inline script or style, no other origin, no frames.
constexpr std::string_view kContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

Response AssetResponse(std::string_view name) {
  const std::optional<console::Asset> asset = console::FindAsset(name);
  if (!asset)
    return ProblemResponse(Error::NotFound("the console has no file " + std::string(name)));
  Response response;
  response.content_type = std::string(asset->content_type);
  response.body = std::string(asset->body);
  response.headers = {{"content-security-policy", std::string(kContentSecurityPolicy)},
                      {"x-content-type-options", "nosniff"},
                      {"referrer-policy", "no-referrer"},
                      {"cache-control", "no-cache"}};
  return response;
}

Response Redirect(std::string location) {
  Response response;
  response.status = 302;
  response.content_type = "text/plain; charset=utf-8";
  response.headers = {{"location", location}};
  response.body = "see " + location + "\n";
  return response;
}

}  // namespace

void AddConsoleRoutes(Router& router) {
  router.Add("GET", "/", Access::kPublic, [](Call&) { return Redirect("/console/"); });
  router.Add("GET", "/console", Access::kPublic, [](Call&) { return AssetResponse("index.html"); });
  router.Add("GET", "/console/{file}", Access::kPublic,
             [](Call& call) { return AssetResponse(call.Param("file")); });
}

}  // namespace webhookd::api
