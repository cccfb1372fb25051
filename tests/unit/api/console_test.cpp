// The console's files (issue 12): served without a key, from the binary, with a strict
// Content-Security-Policy; / redirects to them.
#include <gtest/gtest.h>

#include <string>

#include "api/api.hpp"
#include "dispatch_and_wait.hpp"

namespace webhookd::api {
namespace {

Router ConsoleRouter() {
  Router router([](const Request&) -> Result<Principal> {
    return Error::Unauthorized("the console's files need no key");
  });
  AddConsoleRoutes(router);
  return router;
}

Response Get(const Router& router, std::string path) {
  Request request;
  request.method = "GET";
  request.path = std::move(path);
  return DispatchAndWait(router, request);
}

std::string HeaderOf(const Response& response, std::string_view name) {
  for (const auto& [key, value] : response.headers) {
    if (key == name) return value;
  }
  return "";
}

TEST(ConsoleRoutes, RootRedirectsToTheConsole) {
  const Response response = Get(ConsoleRouter(), "/");
  EXPECT_EQ(response.status, 302);
  EXPECT_EQ(HeaderOf(response, "location"), "/console/");
}

TEST(ConsoleRoutes, ThePageLoadsOnlyTheConsolesOwnFilesUnderAStrictPolicy) {
  const Router router = ConsoleRouter();
  for (const std::string path : {"/console", "/console/"}) {
    const Response page = Get(router, path);
    EXPECT_EQ(page.status, 200) << path;
    EXPECT_EQ(page.content_type, "text/html; charset=utf-8");
    EXPECT_NE(page.body.find(R"(<script type="module" src="/console/app.js">)"), std::string::npos)
        << page.body;
    const std::string policy = HeaderOf(page, "content-security-policy");
    EXPECT_NE(policy.find("default-src 'none'"), std::string::npos) << policy;
    EXPECT_NE(policy.find("script-src 'self';"), std::string::npos) << policy;
    EXPECT_NE(policy.find("style-src 'self';"), std::string::npos) << policy;
    EXPECT_EQ(policy.find("unsafe"), std::string::npos) << policy;
    EXPECT_EQ(HeaderOf(page, "x-content-type-options"), "nosniff");
  }
}

TEST(ConsoleRoutes, ServesItsModulesAndTheVendoredLibraries) {
  const Router router = ConsoleRouter();
  const Response app = Get(router, "/console/app.js");
  EXPECT_EQ(app.status, 200);
  EXPECT_EQ(app.content_type, "text/javascript; charset=utf-8");
  EXPECT_NE(app.body.find("import"), std::string::npos);
  const Response hooks = Get(router, "/console/vendor-hooks.js");
  EXPECT_EQ(hooks.status, 200);
  // A browser cannot resolve the bare "preact" the package ships with.
  EXPECT_NE(hooks.body.find(R"(from"./vendor-preact.js")"), std::string::npos);
  EXPECT_EQ(hooks.body.find(R"(from"preact")"), std::string::npos);
  EXPECT_EQ(Get(router, "/console/console.css").content_type, "text/css; charset=utf-8");
}

TEST(ConsoleRoutes, AnUnknownFileIsNotFound) {
  const Response missing = Get(ConsoleRouter(), "/console/nothing.js");
  EXPECT_EQ(missing.status, 404);
  EXPECT_NE(missing.body.find("the console has no file nothing.js"), std::string::npos)
      << missing.body;
}

}  // namespace
}  // namespace webhookd::api
