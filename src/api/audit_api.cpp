// GET /audit-log: who changed what, and who read patient data (docs/security.md). Entries are
// written by the router (Router::Record); no route changes or deletes them.
#include "api/api.hpp"
#include "api/json_io.hpp"
#include "api/problem.hpp"
#include "core/time_format.hpp"

namespace webhookd::api {
namespace {

boost::json::object EntryToJson(const AuditEntry& e) {
  boost::json::object out;
  out["id"] = e.id;
  out["at"] = FormatRfc3339(e.at);
  out["keyId"] = e.key_id;
  out["keyName"] = e.key_name;
  out["organizationId"] = e.organization_id ? boost::json::value(*e.organization_id) : nullptr;
  out["method"] = e.method;
  out["route"] = e.route;
  out["objectId"] =
      e.object_id.empty() ? boost::json::value(nullptr) : boost::json::value(e.object_id);
  out["address"] = e.address;
  out["status"] = e.status;
  return out;
}

Result<AuditFilter> FilterFromQuery(const Request& request) {
  AuditFilter filter;
  Result<std::optional<std::int64_t>> org =
      QueryInteger(request, "organizationId", kPositiveIntegers);
  if (!org.ok()) return org.error();
  filter.organization_id = *org;
  Result<std::optional<std::int64_t>> key = QueryInteger(request, "keyId", kPositiveIntegers);
  if (!key.ok()) return key.error();
  filter.key_id = *key;
  if (auto it = request.query.find("objectId"); it != request.query.end() && !it->second.empty()) {
    filter.object_id = it->second;
  }
  Result<std::optional<UnixMillis>> since = QueryTime(request, "since");
  if (!since.ok()) return since.error();
  filter.since = *since;
  Result<std::optional<UnixMillis>> until = QueryTime(request, "until");
  if (!until.ok()) return until.error();
  filter.before = *until;
  Result<int> limit = QueryLimit(request, 50, 250);
  if (!limit.ok()) return limit.error();
  filter.limit = *limit;
  Result<std::optional<std::int64_t>> cursor = QueryIntegerCursor(request, "audit log entry");
  if (!cursor.ok()) return cursor.error();
  filter.after_id = cursor->value_or(0);
  return filter;
}

Response List(Store& store, const Call& call) {
  Result<AuditFilter> filter = FilterFromQuery(call.request);
  if (!filter.ok()) return ProblemResponse(filter.error());
  Result<Page<AuditEntry>> page = store.ListAudit(*filter, call.principal.scope);
  if (!page.ok()) return ProblemResponse(page.error());
  boost::json::array data;
  for (const AuditEntry& entry : page->items) data.push_back(EntryToJson(entry));
  return ListResponse(std::move(data), page->next_cursor);
}

}  // namespace

void AddAuditRoutes(Router& router, ApiContext& context) {
  Store& store = context.store;
  router.Add("GET", "/audit-log", Access::kAnyKey,
             [&store](Call& call) { return List(store, call); });
}

}  // namespace webhookd::api
