// /external-events/: the webhook configurations of Azodha's "external events" API.
#include "api/api.hpp"
#include "api/config_json.hpp"
#include "api/json_io.hpp"
#include "api/problem.hpp"
#include "api/tenancy.hpp"
#include "crypto/secret.hpp"

namespace webhookd::api {
namespace {

constexpr std::int64_t kMaxRotationGraceSeconds = 7 * 24 * 3600;
// A search longer than the longest URL a configuration may have cannot match.
constexpr std::size_t kMaxSearchLength = 2048;

// Path ids are the numbers the API returned; anything else names no configuration.
Result<std::int64_t> ConfigIdParam(const Call& call) {
  const std::optional<std::int64_t> id = call.IdParam("id");
  if (!id) return Error::NotFound("no webhook configuration " + call.Param("id"));
  return *id;
}

// A configuration stays in its organization. An organization key naming another one is
// refused as on create (403); an admin is told that the field cannot change (400).
Status OrganizationUnchanged(const boost::json::object& body, const WebhookConfig& current,
                             const Principal& principal) {
  Result<std::optional<std::int64_t>> given =
      OptionalInteger(body, "organizationId", kPositiveIntegers);
  if (!given.ok()) return given.error();
  if (!given->has_value() || **given == current.organization_id) return Status::Ok();
  if (!principal.is_admin()) {
    return Error::Forbidden("organizationId " + std::to_string(**given) +
                            " does not match the API key's organization");
  }
  return Error::Invalid("organizationId cannot be changed", "/organizationId");
}

class ConfigsApi {
 public:
  explicit ConfigsApi(ApiContext& context) : context_(context) {}

  Response Create(Call& call) {
    Result<boost::json::object> body = ParseJsonObject(call.request.body);
    if (!body.ok()) return ProblemResponse(body.error());
    Result<std::int64_t> org = OrganizationOfWrite(*body, call.principal);
    if (!org.ok()) return ProblemResponse(org.error());
    call.audit.organization_id = *org;
    WebhookConfig config;
    config.organization_id = *org;
    if (Status s = ApplyConfigJson(*body, WriteMode::kCreate, Rules(), context_.catalog, config);
        !s.ok()) {
      return ProblemResponse(s.error());
    }
    if (config.secret.empty()) config.secret = crypto::GenerateSecret();
    Result<WebhookConfig> stored = context_.store.CreateConfig(
        config, context_.options.max_configs_per_org, call.AuditChange(201));
    if (!stored.ok()) {
      return ProblemResponse(WithLimitFlag(stored.error(), "--max-configs-per-org"));
    }
    Response response = JsonResponse(201, ConfigToJson(*stored, context_.catalog));
    response.headers.emplace_back("location", "/external-events/" + std::to_string(stored->id));
    return response;
  }

  Response List(Call& call) {
    Result<ConfigFilter> filter = FilterFromQuery(call.request);
    if (!filter.ok()) return ProblemResponse(filter.error());
    Result<Page<WebhookConfig>> page = context_.store.ListConfigs(*filter, call.principal.scope);
    if (!page.ok()) return ProblemResponse(page.error());
    boost::json::array data;
    for (const WebhookConfig& config : page->items) {
      data.push_back(ConfigToJson(config, context_.catalog));
    }
    return ListResponse(std::move(data), page->next_cursor);
  }

  Response Get(Call& call) {
    Result<WebhookConfig> config = Load(call);
    if (!config.ok()) return ProblemResponse(config.error());
    return JsonResponse(200, ConfigToJson(*config, context_.catalog));
  }

  Response Write(Call& call, WriteMode mode) {
    Result<WebhookConfig> current = LoadLive(call);
    if (!current.ok()) return ProblemResponse(current.error());
    Result<boost::json::object> body = ParseJsonObject(call.request.body);
    if (!body.ok()) return ProblemResponse(body.error());
    if (Status s = OrganizationUnchanged(*body, *current, call.principal); !s.ok()) {
      return ProblemResponse(s.error());
    }
    WebhookConfig updated = mode == WriteMode::kReplace ? Replaced(*current) : *current;
    if (Status s = ApplyConfigJson(*body, mode, Rules(), context_.catalog, updated); !s.ok()) {
      return ProblemResponse(s.error());
    }
    if (updated.active && !current->active) {
      updated.disabled_reason.clear();
      updated.failing_since = 0;
    }
    return Save(updated, call);
  }

  Response Delete(Call& call) {
    Result<WebhookConfig> current = Load(call);
    if (!current.ok()) return ProblemResponse(current.error());
    call.audit.organization_id = current->organization_id;
    if (Status s =
            context_.store.DeleteConfig(current->id, call.principal.scope, call.AuditChange(204));
        !s.ok()) {
      return ProblemResponse(s.error());
    }
    return NoContent();
  }

  Response RotateSecret(Call& call) {
    Result<WebhookConfig> current = LoadLive(call);
    if (!current.ok()) return ProblemResponse(current.error());
    std::int64_t grace_ms = context_.options.secret_grace_ms;
    std::string new_secret = crypto::GenerateSecret();
    if (!call.request.body.empty()) {
      Result<boost::json::object> body = ParseJsonObject(call.request.body);
      if (!body.ok()) return ProblemResponse(body.error());
      if (Status s = RejectUnknownFields(*body, {"expiresInSeconds", "secret"}); !s.ok()) {
        return ProblemResponse(s.error());
      }
      Result<std::optional<std::int64_t>> expires =
          OptionalInteger(*body, "expiresInSeconds", {0, kMaxRotationGraceSeconds});
      if (!expires.ok()) return ProblemResponse(expires.error());
      if (expires->has_value()) grace_ms = **expires * 1000;
      Result<std::optional<std::string>> secret = OptionalString(*body, "secret", 200);
      if (!secret.ok()) return ProblemResponse(secret.error());
      if (secret->has_value()) {
        if (Result<std::string> key = crypto::DecodeSecret(**secret); !key.ok()) {
          return ProblemResponse(Error::Invalid(key.error().message, "/secret"));
        }
        new_secret = **secret;
      }
    }
    WebhookConfig updated = *current;
    updated.previous_secret = current->secret;
    updated.previous_secret_expires_at = context_.clock.Now() + grace_ms;
    updated.secret = new_secret;
    return Save(updated, call);
  }

 private:
  ConfigRules Rules() const {
    return {context_.options.allow_insecure_urls, &context_.options.ssrf_guard};
  }

  Result<WebhookConfig> Load(const Call& call) {
    Result<std::int64_t> id = ConfigIdParam(call);
    if (!id.ok()) return id.error();
    return context_.store.GetConfig(*id, call.principal.scope);
  }

  // A configuration that can still be changed: deleted ones answer 404.
  Result<WebhookConfig> LoadLive(const Call& call) {
    Result<WebhookConfig> config = Load(call);
    if (config.ok() && config->is_deleted) {
      return Error::NotFound("webhook configuration " + call.Param("id") + " was deleted");
    }
    return config;
  }

  // PUT replaces what the client controls; identity, secret history and health stay.
  static WebhookConfig Replaced(const WebhookConfig& current) {
    WebhookConfig fresh;
    fresh.id = current.id;
    fresh.organization_id = current.organization_id;
    fresh.secret = current.secret;
    fresh.previous_secret = current.previous_secret;
    fresh.previous_secret_expires_at = current.previous_secret_expires_at;
    fresh.created_at = current.created_at;
    fresh.disabled_reason = current.disabled_reason;
    fresh.failing_since = current.failing_since;
    return fresh;
  }

  Response Save(const WebhookConfig& config, Call& call) {
    call.audit.organization_id = config.organization_id;
    Result<WebhookConfig> stored =
        context_.store.UpdateConfig(config, call.principal.scope, call.AuditChange(200));
    if (!stored.ok()) return ProblemResponse(stored.error());
    return JsonResponse(200, ConfigToJson(*stored, context_.catalog));
  }

  Result<ConfigFilter> FilterFromQuery(const Request& request) const {
    ConfigFilter filter;
    Result<std::optional<std::int64_t>> org =
        QueryInteger(request, "organizationId", kPositiveIntegers);
    if (!org.ok()) return org.error();
    filter.organization_id = *org;
    Result<std::optional<int>> type = QueryEventType(request, "eventName", context_.catalog);
    if (!type.ok()) return type.error();
    filter.event_type_id = *type;
    if (auto it = request.query.find("q"); it != request.query.end()) {
      if (it->second.size() > kMaxSearchLength) {
        return Error::Invalid(
            "q must be at most " + std::to_string(kMaxSearchLength) + " characters", "q");
      }
      filter.search = it->second;
    }
    Result<std::optional<bool>> active = QueryBool(request, "active");
    if (!active.ok()) return active.error();
    filter.active = *active;
    Result<std::optional<bool>> deleted = QueryBool(request, "includeDeleted");
    if (!deleted.ok()) return deleted.error();
    filter.include_deleted = deleted->value_or(false);
    Result<int> limit = QueryLimit(request, 50, 250);
    if (!limit.ok()) return limit.error();
    filter.limit = *limit;
    Result<std::optional<std::int64_t>> cursor = QueryIntegerCursor(request, "configuration");
    if (!cursor.ok()) return cursor.error();
    filter.after_id = cursor->value_or(0);
    return filter;
  }

  ApiContext& context_;
};

}  // namespace

void AddConfigRoutes(Router& router, ApiContext& context) {
  auto api = std::make_shared<ConfigsApi>(context);
  router.Add("POST", "/external-events", Access::kAnyKey,
             [api](Call& call) { return api->Create(call); });
  router.Add("GET", "/external-events", Access::kAnyKey,
             [api](Call& call) { return api->List(call); });
  router.Add("GET", "/external-events/{id}", Access::kAnyKey,
             [api](Call& call) { return api->Get(call); });
  router.Add("PUT", "/external-events/{id}", Access::kAnyKey,
             [api](Call& call) { return api->Write(call, WriteMode::kReplace); });
  router.Add("PATCH", "/external-events/{id}", Access::kAnyKey,
             [api](Call& call) { return api->Write(call, WriteMode::kPatch); });
  router.Add("DELETE", "/external-events/{id}", Access::kAnyKey,
             [api](Call& call) { return api->Delete(call); });
  router.Add("POST", "/external-events/{id}/secret/rotate", Access::kAnyKey,
             [api](Call& call) { return api->RotateSecret(call); });
}

}  // namespace webhookd::api
