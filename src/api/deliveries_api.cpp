// /deliveries: the attempt log, manual retries; and the per-configuration actions that act on
// deliveries: recover (re-queue failures since T) and test (send the sample now).
#include "api/api.hpp"
#include "api/delivery_json.hpp"
#include "api/json_io.hpp"
#include "api/problem.hpp"
#include "core/time_format.hpp"
#include "core/utf8.hpp"
#include "delivery/attempt_outcome.hpp"
#include "delivery/dispatcher.hpp"

namespace webhookd::api {
namespace {

Result<std::int64_t> ConfigId(const Call& call) {
  const std::optional<std::int64_t> id = call.IdParam("id");
  if (!id) return Error::NotFound("no webhook configuration " + call.Param("id"));
  return *id;
}

Result<DeliveryFilter> FilterFromQuery(const Request& request, const Catalog& catalog) {
  DeliveryFilter filter;
  Result<std::optional<std::int64_t>> config =
      QueryInteger(request, "externalEventId", kPositiveIntegers);
  if (!config.ok()) return config.error();
  filter.config_id = *config;
  if (auto it = request.query.find("eventId"); it != request.query.end() && !it->second.empty()) {
    filter.event_id = it->second;
  }
  Result<std::optional<int>> type = QueryEventType(request, "eventName", catalog);
  if (!type.ok()) return type.error();
  filter.event_type_id = *type;
  if (auto it = request.query.find("status"); it != request.query.end() && !it->second.empty()) {
    filter.status = ParseDeliveryStatus(it->second);
    if (!filter.status) {
      return Error::Invalid("status must be pending, delivering, succeeded or failed", "status");
    }
  }
  Result<std::optional<UnixMillis>> since = QueryTime(request, "since");
  if (!since.ok()) return since.error();
  filter.since = *since;
  Result<std::optional<UnixMillis>> until = QueryTime(request, "until");
  if (!until.ok()) return until.error();
  filter.until = *until;
  Result<int> limit = QueryLimit(request, 50, 250);
  if (!limit.ok()) return limit.error();
  filter.limit = *limit;
  Result<std::optional<std::string>> cursor = QuerySortableIdCursor(request, "delivery", "dlv");
  if (!cursor.ok()) return cursor.error();
  filter.after_id = cursor->value_or("");
  return filter;
}

// The organizations a list may show: `organizationId` narrows an admin key's to one; an
// organization key naming another organization gets nothing (nullopt), as configuration
// lists do.
Result<std::optional<OrgScope>> ListedScope(const Request& request, const Principal& principal) {
  Result<std::optional<std::int64_t>> org =
      QueryInteger(request, "organizationId", kPositiveIntegers);
  if (!org.ok()) return org.error();
  if (principal.is_admin()) return std::optional<OrgScope>(*org);
  if (*org && **org != *principal.scope) return std::optional<OrgScope>();
  return std::optional<OrgScope>(principal.scope);
}

// Judged as a delivery would be: a 2xx is a success, unless the event type is an inference
// whose answer is not a usable result, which is a failure here with the attempt log's words.
boost::json::object TestResultJson(const delivery::HttpResponse& response, const EventType& type) {
  std::string error = response.error;
  bool success = delivery::ClassOf(response) == AttemptClass::kSuccess;
  if (success && type.is_inference) {
    if (std::optional<std::string> invalid = delivery::InvalidInferenceResult(response)) {
      success = false;
      error = std::move(*invalid);
    }
  }
  boost::json::object headers;
  for (const auto& [name, value] : response.headers) headers[name] = value;
  return {{"success", success},
          {"statusCode", response.status_code == 0 ? boost::json::value(nullptr)
                                                   : boost::json::value(response.status_code)},
          {"durationMs", response.duration_ms},
          {"responseHeaders", std::move(headers)},
          {"responseBody", ValidUtf8(response.body)},
          {"error", error.empty() ? boost::json::value(nullptr) : boost::json::value(error)}};
}

class DeliveriesApi {
 public:
  explicit DeliveriesApi(ApiContext& context) : context_(context) {}

  Response List(Call& call) {
    Result<DeliveryFilter> filter = FilterFromQuery(call.request, context_.catalog);
    if (!filter.ok()) return ProblemResponse(filter.error());
    Result<std::optional<OrgScope>> scope = ListedScope(call.request, call.principal);
    if (!scope.ok()) return ProblemResponse(scope.error());
    if (!scope->has_value()) return ListResponse({}, "");
    Result<Page<Delivery>> page = context_.store.ListDeliveries(*filter, **scope);
    if (!page.ok()) return ProblemResponse(page.error());
    boost::json::array data;
    for (const Delivery& d : page->items) data.push_back(DeliveryToJson(d));
    return ListResponse(std::move(data), page->next_cursor);
  }

  Response Get(Call& call) {
    Result<Delivery> d = context_.store.GetDelivery(call.Param("id"), call.principal.scope);
    if (!d.ok()) return ProblemResponse(d.error());
    return JsonResponse(200, DeliveryToJson(*d));
  }

  Response Attempts(Call& call) {
    Result<Delivery> d = context_.store.GetDelivery(call.Param("id"), call.principal.scope);
    if (!d.ok()) return ProblemResponse(d.error());
    call.audit.organization_id = d->organization_id;
    Result<std::vector<Attempt>> attempts =
        context_.store.ListAttempts(d->id, call.principal.scope);
    if (!attempts.ok()) return ProblemResponse(attempts.error());
    boost::json::array data;
    for (const Attempt& a : *attempts) data.push_back(AttemptToJson(a));
    return ListResponse(std::move(data), "");
  }

  Response Retry(Call& call) {
    Result<Delivery> d =
        context_.store.RetryDelivery(call.Param("id"), call.principal.scope, call.AuditChange(202));
    if (!d.ok()) return ProblemResponse(d.error());
    return JsonResponse(202, DeliveryToJson(*d));
  }

  Response Recover(Call& call) {
    Result<std::int64_t> id = ConfigId(call);
    if (!id.ok()) return ProblemResponse(id.error());
    Result<boost::json::object> body = ParseJsonObject(call.request.body);
    if (!body.ok()) return ProblemResponse(body.error());
    if (Status s = RejectUnknownFields(*body, {"since"}); !s.ok())
      return ProblemResponse(s.error());
    Result<std::optional<std::string>> since_text = OptionalString(*body, "since", 64);
    if (!since_text.ok()) return ProblemResponse(since_text.error());
    if (!since_text->has_value()) {
      return ProblemResponse(Error::Invalid("since is required (an RFC 3339 time)", "/since"));
    }
    const std::optional<UnixMillis> since = ParseRfc3339(**since_text);
    if (!since) {
      return ProblemResponse(
          Error::Invalid("since must be an RFC 3339 time, e.g. 2026-11-27T00:00:00Z", "/since"));
    }
    Result<std::int64_t> count =
        context_.store.RecoverConfig(*id, *since, call.principal.scope, call.AuditChange(202));
    if (!count.ok()) return ProblemResponse(count.error());
    return JsonResponse(202, {{"externalEventId", *id}, {"requeued", *count}});
  }

  Response Test(Call& call) {
    Result<std::int64_t> id = ConfigId(call);
    if (!id.ok()) return ProblemResponse(id.error());
    Result<WebhookConfig> config = context_.store.GetConfig(*id, call.principal.scope);
    if (!config.ok()) return ProblemResponse(config.error());
    call.audit.organization_id = config->organization_id;
    if (config->is_deleted) {
      return ProblemResponse(
          Error::NotFound("webhook configuration " + call.Param("id") + " was deleted"));
    }
    if (context_.dispatcher == nullptr) {
      return ProblemResponse(Error::Unavailable("this server runs without a dispatcher"));
    }
    const EventType* type = context_.catalog.Find(config->event_type_id);
    if (type == nullptr) return ProblemResponse(Error::Internal("configuration has no event type"));
    const delivery::HttpResponse response =
        context_.dispatcher->SendNow(*config, *type, type->sample_json);
    boost::json::object out = TestResultJson(response, *type);
    out["eventName"] = type->name;
    return JsonResponse(200, out);
  }

 private:
  ApiContext& context_;
};

}  // namespace

void AddDeliveryRoutes(Router& router, ApiContext& context) {
  auto api = std::make_shared<DeliveriesApi>(context);
  router.Add("GET", "/deliveries", Access::kAnyKey, [api](Call& call) { return api->List(call); });
  router.Add("GET", "/deliveries/{id}", Access::kAnyKey,
             [api](Call& call) { return api->Get(call); });
  router.Add(
      "GET", "/deliveries/{id}/attempts", Access::kAnyKey,
      [api](Call& call) { return api->Attempts(call); }, Audit::kPatientData);
  router.Add("POST", "/deliveries/{id}/retry", Access::kAnyKey,
             [api](Call& call) { return api->Retry(call); });
  router.Add("POST", "/external-events/{id}/recover", Access::kAnyKey,
             [api](Call& call) { return api->Recover(call); });
  router.Add("POST", "/external-events/{id}/test", Access::kAnyKey,
             [api](Call& call) { return api->Test(call); });
}

}  // namespace webhookd::api
