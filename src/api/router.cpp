#include "api/router.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <exception>

#include "api/problem.hpp"

namespace webhookd::api {
namespace {

std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> segments;
  std::size_t pos = 0;
  while (pos < path.size()) {
    if (path[pos] == '/') {
      ++pos;
      continue;
    }
    const std::size_t end = std::min(path.find('/', pos), path.size());
    segments.push_back(path.substr(pos, end - pos));
    pos = end;
  }
  return segments;
}

std::vector<std::string> PatternSegments(std::string_view pattern) {
  std::vector<std::string> segments;
  for (std::string_view s : SplitPath(pattern)) segments.emplace_back(s);
  return segments;
}

bool IsParam(std::string_view segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

}  // namespace

std::string_view Request::Header(std::string_view lowercase_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lowercase_name) return value;
  }
  return {};
}

void AuditNote::ApplyTo(AuditEntry& entry) const {
  if (organization_id) entry.organization_id = organization_id;
  if (!object_id.empty()) entry.object_id = object_id;
}

const AuditEntry* Call::AuditChange(int status) {
  if (!audit_entry) return nullptr;
  audit.ApplyTo(*audit_entry);
  audit_entry->status = status;
  audit_committed_status = status;
  return &*audit_entry;
}

const std::string& Call::Param(std::string_view name) const {
  static const std::string kEmpty;
  const auto it = params.find(name);
  return it == params.end() ? kEmpty : it->second;
}

std::optional<std::int64_t> Call::IdParam(std::string_view name) const {
  const std::string& text = Param(name);
  std::int64_t id = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc() || end != text.data() + text.size() || id <= 0) return std::nullopt;
  return id;
}

void Router::Add(std::string method, std::string_view pattern, Access access, Handler handler,
                 Audit audit) {
  routes_.push_back({std::move(method), std::string(pattern), PatternSegments(pattern), access,
                     std::move(handler), nullptr, audit});
}

void Router::AddAsync(std::string method, std::string_view pattern, Access access,
                      AsyncHandler handler, Audit audit) {
  routes_.push_back({std::move(method), std::string(pattern), PatternSegments(pattern), access,
                     nullptr, std::move(handler), audit});
}

void Router::SetFallback(Handler handler) {
  fallback_ = Route{"*", "*", {}, Access::kPublic, std::move(handler), nullptr, Audit::kNever};
}

std::vector<std::pair<std::string, std::string>> Router::Routes() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const Route& r : routes_) out.emplace_back(r.method, r.pattern);
  return out;
}

bool Router::Match(const Route& route, const std::vector<std::string_view>& path, Params& params) {
  if (route.segments.size() != path.size()) return false;
  params.clear();
  for (std::size_t i = 0; i < path.size(); ++i) {
    const std::string& want = route.segments[i];
    if (IsParam(want)) {
      params.emplace(want.substr(1, want.size() - 2), std::string(path[i]));
    } else if (want != path[i]) {
      return false;
    }
  }
  return true;
}

// The number of literal segments: where several patterns match a path, the one with the most
// literal segments is the path's resource ("/events/batch" over "/events/{id}").
std::size_t Router::Specificity(const Route& route) {
  return static_cast<std::size_t>(
      std::count_if(route.segments.begin(), route.segments.end(),
                    [](const std::string& segment) { return !IsParam(segment); }));
}

const Router::Route* Router::Resolve(const Request& request, Params& params,
                                     Response& unrouted) const {
  const std::vector<std::string_view> path = SplitPath(request.path);
  std::size_t best = 0;
  bool matched = false;
  for (const Route& route : routes_) {
    if (!Match(route, path, params)) continue;
    best = matched ? std::max(best, Specificity(route)) : Specificity(route);
    matched = true;
  }
  std::string allowed;
  for (const Route& route : routes_) {
    if (!Match(route, path, params) || Specificity(route) != best) continue;
    if (route.method == request.method || (request.method == "HEAD" && route.method == "GET")) {
      return &route;
    }
    if (!allowed.empty()) allowed += ", ";
    allowed += route.method;
  }
  params.clear();
  if (allowed.empty()) {
    if (fallback_) return &*fallback_;
    unrouted = ProblemResponse(Error::NotFound("no such resource: " + request.path));
    return nullptr;
  }
  unrouted = ProblemResponse(
      405, "method-not-allowed", "Method not allowed",
      request.method + " is not allowed on " + request.path + "; allowed: " + allowed);
  unrouted.headers.emplace_back("allow", allowed);
  return nullptr;
}

void Router::DispatchAsync(const Request& request, const BlockingRunner& run_blocking,
                           Reply reply) const {
  Params params;
  Response unrouted;
  const Route* route = Resolve(request, params, unrouted);
  if (route == nullptr) {
    reply(std::move(unrouted));
  } else if (route->async_handler) {
    Call call{request, std::move(params), {}, {}, {}, {}};
    InvokeAsync(*route, call, std::move(reply));
  } else {
    run_blocking(
        [this, route, &request, params = std::move(params), reply = std::move(reply)]() mutable {
          Call call{request, std::move(params), {}, {}, {}, {}};
          Response response = Invoke(*route, call);
          Answer(*route, call, std::move(response), reply);
        });
  }
}

std::optional<Response> Router::Authenticate(const Route& route, Call& call) const {
  if (route.access == Access::kPublic) return std::nullopt;
  Result<Principal> principal = authenticator_(call.request);
  if (!principal.ok()) return ProblemResponse(principal.error());
  call.principal = *principal;
  if (route.access == Access::kAdminKey && !principal->is_admin()) {
    return ProblemResponse(Error::Forbidden("this endpoint needs an admin API key"));
  }
  return std::nullopt;
}

bool Router::Audited(const Route& route, const Call& call) const {
  if (!audit_ || route.access == Access::kPublic || call.principal.key_id == 0) return false;
  return route.audit == Audit::kPatientData ||
         (route.audit == Audit::kChanges && route.method != "GET");
}

AuditEntry Router::EntryFor(const Route& route, const Call& call) {
  AuditEntry entry;
  entry.key_id = call.principal.key_id;
  entry.key_name = call.principal.key_name;
  entry.organization_id = call.principal.scope;
  entry.method = call.request.method;
  entry.route = route.pattern;
  entry.object_id = call.Param("id");
  entry.address = call.request.remote_address;
  call.audit.ApplyTo(entry);
  return entry;
}

void Router::Answer(const Route& route, const Call& call, Response response,
                    const Reply& reply) const {
  if (!Audited(route, call) || call.audit_committed_status == response.status) {
    return reply(std::move(response));
  }
  Record(route, EntryFor(route, call), std::move(response), reply);
}

void Router::Record(const Route& route, AuditEntry entry, Response response,
                    const Reply& reply) const {
  entry.status = response.status;
  const bool disclosure = route.audit == Audit::kPatientData;
  audit_(std::move(entry), [disclosure, response = std::move(response), reply](Status recorded) {
    if (recorded.ok()) return reply(response);
    spdlog::error("audit log: a request could not be recorded: {}", recorded.error().message);
    // Patient data is not disclosed unrecorded; a change has happened, and is answered as such.
    if (!disclosure) return reply(response);
    reply(ProblemResponse(Error::Unavailable(
        "the audit log could not record this read of patient data, so nothing was disclosed; "
        "try again")));
  });
}

Response Router::Invoke(const Route& route, Call& call) const {
  if (std::optional<Response> refused = Authenticate(route, call)) return std::move(*refused);
  if (Audited(route, call)) call.audit_entry = EntryFor(route, call);
  try {
    return route.handler(call);
  } catch (const std::exception& e) {
    return ProblemResponse(Error::Internal(std::string("handler threw: ") + e.what()));
  } catch (...) {
    return ProblemResponse(Error::Internal("handler threw a non-standard exception"));
  }
}

void Router::InvokeAsync(const Route& route, Call& call, Reply reply) const {
  if (std::optional<Response> refused = Authenticate(route, call)) {
    Answer(route, call, std::move(*refused), reply);
    return;
  }
  if (Audited(route, call)) {
    reply = [this, &route, entry = EntryFor(route, call), reply](Response response) {
      Record(route, entry, std::move(response), reply);
    };
  }
  // A handler that throws has not handed `reply` on (it throws before it starts the store's
  // work), so answering here cannot answer twice.
  try {
    route.async_handler(call, reply);
  } catch (const std::exception& e) {
    reply(ProblemResponse(Error::Internal(std::string("handler threw: ") + e.what())));
  } catch (...) {
    reply(ProblemResponse(Error::Internal("handler threw a non-standard exception")));
  }
}

}  // namespace webhookd::api
