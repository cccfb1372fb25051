// /organizations/{id}/settings: an organization's own retention periods (docs/security.md,
// "Retention"). Admin keys set them; an organization's key reads its own.
#include "api/api.hpp"
#include "api/json_io.hpp"
#include "api/problem.hpp"
#include "store/retention_janitor.hpp"

namespace webhookd::api {
namespace {

boost::json::value PeriodJson(std::int64_t millis) {
  if (millis <= 0) return nullptr;
  return boost::json::value(FormatRetention(std::chrono::milliseconds(millis)));
}

boost::json::object SettingsToJson(const OrganizationSettings& settings,
                                   const ApiOptions& options) {
  return {{"organizationId", settings.organization_id},
          {"retention", PeriodJson(settings.retention_ms)},
          {"payloadRetention", PeriodJson(settings.payload_retention_ms)},
          {"serverDefaults",
           {{"retention", PeriodJson(options.retention.count())},
            {"payloadRetention", PeriodJson(options.payload_retention.count())}}}};
}

// The organization of the path, as the caller may see it: another organization's is NotFound.
Result<std::int64_t> OrganizationParam(const Call& call) {
  const std::optional<std::int64_t> id = call.IdParam("id");
  const Error not_found = Error::NotFound("no organization " + call.Param("id"));
  if (!id) return not_found;
  if (call.principal.scope && *call.principal.scope != *id) return not_found;
  return *id;
}

// A period member: a retention period ("30d"), or null (or absent) for the server's default.
Result<std::int64_t> PeriodMember(const boost::json::object& body, std::string_view key) {
  Result<std::optional<std::string>> text = OptionalString(body, key, 32);
  if (!text.ok()) return text.error();
  if (!text->has_value()) return std::int64_t{0};
  Result<std::chrono::milliseconds> period = ParseRetention(**text);
  if (!period.ok()) {
    return Error::Invalid(
        std::string(key) + ": " + period.error().message + ", or null for the server's default",
        PointerTo("", key));
  }
  return period->count();
}

class OrganizationsApi {
 public:
  explicit OrganizationsApi(ApiContext& context) : context_(context) {}

  Response GetSettings(Call& call) {
    Result<std::int64_t> org = OrganizationParam(call);
    if (!org.ok()) return ProblemResponse(org.error());
    Result<OrganizationSettings> settings = context_.store.GetOrganizationSettings(*org);
    if (!settings.ok()) return ProblemResponse(settings.error());
    return JsonResponse(200, SettingsToJson(*settings, context_.options));
  }

  // PUT replaces both periods: a member left out goes back to the server's default.
  Response PutSettings(Call& call) {
    Result<std::int64_t> org = OrganizationParam(call);
    if (!org.ok()) return ProblemResponse(org.error());
    call.audit.organization_id = *org;
    Result<boost::json::object> body = ParseJsonObject(call.request.body);
    if (!body.ok()) return ProblemResponse(body.error());
    if (Status s = RejectUnknownFields(*body, {"retention", "payloadRetention"}); !s.ok()) {
      return ProblemResponse(s.error());
    }
    Result<std::int64_t> retention = PeriodMember(*body, "retention");
    if (!retention.ok()) return ProblemResponse(retention.error());
    Result<std::int64_t> payload_retention = PeriodMember(*body, "payloadRetention");
    if (!payload_retention.ok()) return ProblemResponse(payload_retention.error());
    Result<OrganizationSettings> stored = context_.store.PutOrganizationSettings(
        {*org, *retention, *payload_retention}, call.AuditChange(200));
    if (!stored.ok()) return ProblemResponse(stored.error());
    return JsonResponse(200, SettingsToJson(*stored, context_.options));
  }

 private:
  ApiContext& context_;
};

}  // namespace

void AddOrganizationRoutes(Router& router, ApiContext& context) {
  auto api = std::make_shared<OrganizationsApi>(context);
  router.Add("GET", "/organizations/{id}/settings", Access::kAnyKey,
             [api](Call& call) { return api->GetSettings(call); });
  router.Add("PUT", "/organizations/{id}/settings", Access::kAdminKey,
             [api](Call& call) { return api->PutSettings(call); });
}

}  // namespace webhookd::api
