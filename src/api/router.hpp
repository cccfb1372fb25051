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
#include "core/model.hpp"
#include "core/result.hpp"
#include "store/store.hpp"

namespace webhookd::api {

// Who is calling, established from the API key.
struct Principal {
  std::int64_t key_id = 0;
  std::string key_name;  // for the audit log
  OrgScope scope;        // nullopt: admin key, every organization
  bool is_admin() const { return !scope.has_value(); }
};

// What a handler knows better than the router about the object an audited request was about.
struct AuditNote {
  // The object's organization; unset: the caller's (an organization key's), or none (admin).
  std::optional<std::int64_t> organization_id;
  std::string object_id;  // "": the path's {id}, if any
  // Sets in `entry` what this note knows.
  void ApplyTo(AuditEntry& entry) const;
};

struct Call {
  const Request& request;
  std::map<std::string, std::string, std::less<>> params;  // "{id}" segments of the pattern
  Principal principal;  // meaningful for routes that require a key
  AuditNote audit;      // set by handlers of audited routes when they know more
  // Set by the router before the handler of an audited request runs (routes added with Add):
  // the request's audit entry, but for what `audit` and the status add.
  std::optional<AuditEntry> audit_entry;
  // The status answered if the change whose Store call took AuditChange's entry succeeded: the
  // entry committed with the change, and the router does not write it again.
  std::optional<int> audit_committed_status;
  // For the Store call that makes this request's change: the entry to write in the change's own
  // transaction, saying `status`, the answer if the change succeeds (store.hpp, `audit`);
  // nullptr when the request is not audited. If the change fails, the router records the
  // entry with the error's status instead.
  const AuditEntry* AuditChange(int status);
  const std::string& Param(std::string_view name) const;
  // A numeric path id (positive); nullopt for anything else, which names no object.
  std::optional<std::int64_t> IdParam(std::string_view name) const;
};

using Handler = std::function<Response(Call&)>;
// Answers a request; called exactly once, possibly later and on another thread.
using Reply = std::function<void(Response)>;
// A handler that must not block: it reads what it needs from the Call before it returns (the
// Call does not outlive that) and answers through the Reply, now or later.
using AsyncHandler = std::function<void(Call&, Reply)>;
// Runs work that may block somewhere it may (the server's handler threads).
using BlockingRunner = std::function<void(std::function<void()>)>;
using Authenticator = std::function<Result<Principal>(const Request&)>;

enum class Access { kPublic, kAnyKey, kAdminKey };

// Which requests of a route the audit log records (docs/security.md, "Audit log"), once the
// caller's key is known. Public routes are never recorded.
enum class Audit {
  kChanges,      // the default: every method but GET changes state, and is recorded
  kPatientData,  // a GET that reads patient data: recorded; answered 503 if it cannot be
  kNever,        // ingestion: not a read of patient data, and must not wait for the audit log
};

// Appends an audit entry (its `at` still to be set) and calls `done` with the outcome once it
// is committed, on any thread; must not block.
using AuditRecorder = std::function<void(AuditEntry, std::function<void(Status)>)>;
class Router {
 public:
  // Without `audit`, nothing is recorded.
  explicit Router(Authenticator authenticator, AuditRecorder audit = nullptr)
      : authenticator_(std::move(authenticator)), audit_(std::move(audit)) {}

  // `pattern` is a path such as "/external-events/{id}/secret/rotate"; a trailing slash on the
  // request path is ignored.
  void Add(std::string method, std::string_view pattern, Access access, Handler handler,
           Audit audit = Audit::kChanges);
  // A route whose handler does not block (it waits for the store without holding a thread);
  // it and its authentication run on the thread that dispatches.
  void AddAsync(std::string method, std::string_view pattern, Access access, AsyncHandler handler,
                Audit audit = Audit::kChanges);

  // Answers every request whose path matches no route (instead of 404), without
  // authentication; for catch-all receivers such as `webhookd listen`.
  void SetFallback(Handler handler);

  // Every path pattern registered, with its methods (for documentation checks).
  std::vector<std::pair<std::string, std::string>> Routes() const;

  // Thread-safe once all routes are added. Never throws: a handler's exception becomes a 500.
  // Answers through `reply`: routes added with Add run through `run_blocking`, routes added
  // with AddAsync (and 404s, 405s) on this thread. `request` must live until `reply` is called.
  void DispatchAsync(const Request& request, const BlockingRunner& run_blocking, Reply reply) const;

 private:
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;
    Access access;
    Handler handler;             // set for routes added with Add
    AsyncHandler async_handler;  // set for routes added with AddAsync
    Audit audit = Audit::kChanges;
  };
  using Params = std::map<std::string, std::string, std::less<>>;
  // The route that answers `request` (with its params), or the answer when none does.
  const Route* Resolve(const Request& request, Params& params, Response& unrouted) const;
  static bool Match(const Route& route, const std::vector<std::string_view>& path, Params& params);
  static std::size_t Specificity(const Route& route);
  // Sets call.principal, or returns the error answer (a key refused for lacking admin rights
  // leaves call.principal set, so that the refusal is audited).
  std::optional<Response> Authenticate(const Route& route, Call& call) const;
  Response Invoke(const Route& route, Call& call) const;
  void InvokeAsync(const Route& route, Call& call, Reply reply) const;
  bool Audited(const Route& route, const Call& call) const;
  // The audit entry of an audited call, but for `at` and `status`.
  static AuditEntry EntryFor(const Route& route, const Call& call);
  // Answers `response` to an authenticated or refused call, recording its audit entry first
  // unless the call's change committed it (Call::AuditChange).
  void Answer(const Route& route, const Call& call, Response response, const Reply& reply) const;
  // Answers `response` once the audit log has recorded `entry` with its status.
  void Record(const Route& route, AuditEntry entry, Response response, const Reply& reply) const;

  Authenticator authenticator_;
  AuditRecorder audit_;
  std::vector<Route> routes_;
  std::optional<Route> fallback_;
};

}  // namespace webhookd::api
