// Maps (method, path pattern) to handlers, authenticates callers, and turns a missing route
// into 404 and a wrong method into 405 with an Allow header.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/http_message.hpp"
#include "core/result.hpp"
#include "store/store.hpp"

namespace webhookd::api {

// Who is calling, established from the API key.
struct Principal {
  std::int64_t key_id = 0;
  OrgScope scope;  // nullopt: admin key, every organization
  bool is_admin() const { return !scope.has_value(); }
};

struct Call {
  const Request& request;
  std::map<std::string, std::string, std::less<>> params;  // "{id}" segments of the pattern
  Principal principal;  // meaningful for routes that require a key
  const std::string& Param(std::string_view name) const;
  // A numeric path id (positive); nullopt for anything else, which names no object.
  std::optional<std::int64_t> IdParam(std::string_view name) const;
};

using Handler = std::function<Response(Call&)>;
using Authenticator = std::function<Result<Principal>(const Request&)>;

enum class Access { kPublic, kAnyKey, kAdminKey };

class Router {
 public:
  explicit Router(Authenticator authenticator) : authenticator_(std::move(authenticator)) {}

  // `pattern` is a path such as "/external-events/{id}/secret/rotate"; a trailing slash on the
  // request path is ignored.
  void Add(std::string method, std::string_view pattern, Access access, Handler handler);

  // Answers every request whose path matches no route (instead of 404), without
  // authentication; for catch-all receivers such as `webhookd listen`.
  void SetFallback(Handler handler);

  // Every path pattern registered, with its methods (for documentation checks).
  std::vector<std::pair<std::string, std::string>> Routes() const;

  // Thread-safe once all routes are added. Never throws: a handler's exception becomes a 500.
  Response Dispatch(const Request& request) const;

 private:
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;
    Access access;
    Handler handler;
  };
  static bool Match(const Route& route, const std::vector<std::string_view>& path,
                    std::map<std::string, std::string, std::less<>>& params);
  Response Invoke(const Route& route, Call& call) const;

  Authenticator authenticator_;
  std::vector<Route> routes_;
  std::optional<Route> fallback_;
};

}  // namespace webhookd::api
