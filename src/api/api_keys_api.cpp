// /api-keys: admin and organization API keys. Keys are shown once, at creation.
#include "api/api.hpp"

#include "api/json_io.hpp"
#include "api/problem.hpp"
#include "core/time_format.hpp"
#include "crypto/secret.hpp"

namespace webhookd::api {
namespace {

constexpr std::size_t kPrefixLength = 12;  // "whk_" + 8 hex characters

boost::json::object KeyToJson(const ApiKey& key) {
  boost::json::object out;
  out["id"] = key.id;
  out["name"] = key.name;
  out["organizationId"] =
      key.organization_id ? boost::json::value(*key.organization_id) : boost::json::value(nullptr);
  out["prefix"] = key.prefix;
  out["createdAt"] = FormatRfc3339(key.created_at);
  return out;
}

Response Create(Store& store, Call& call) {
  Result<boost::json::object> body = ParseJsonObject(call.request.body);
  if (!body.ok()) return ProblemResponse(body.error());
  if (Status s = RejectUnknownFields(*body, {"name", "organizationId"}); !s.ok()) {
    return ProblemResponse(s.error());
  }
  Result<std::optional<std::string>> name = OptionalSingleLine(*body, "name", 200);
  if (!name.ok()) return ProblemResponse(name.error());
  Result<std::optional<std::int64_t>> org =
      OptionalInteger(*body, "organizationId", kPositiveIntegers);
  if (!org.ok()) return ProblemResponse(org.error());
  call.audit.organization_id = *org;
  Result<IssuedKey> issued =
      IssueApiKey(store, *org, name->value_or("api key"), call.AuditChange(201));
  if (!issued.ok()) return ProblemResponse(issued.error());
  boost::json::object out = KeyToJson(issued->record);
  out["key"] = issued->key;
  return JsonResponse(201, out);
}

Response List(Store& store, Call& call) {
  Result<std::vector<ApiKey>> keys = store.ListApiKeys(call.principal.scope);
  if (!keys.ok()) return ProblemResponse(keys.error());
  boost::json::array data;
  for (const ApiKey& key : *keys) data.push_back(KeyToJson(key));
  return ListResponse(std::move(data), "");
}

Response Revoke(Store& store, Call& call) {
  const std::optional<std::int64_t> id = call.IdParam("id");
  if (!id) return ProblemResponse(Error::NotFound("no API key " + call.Param("id")));
  if (Status s = store.RevokeApiKey(*id, call.principal.scope, call.AuditChange(204)); !s.ok()) {
    return ProblemResponse(s.error());
  }
  return NoContent();
}

}  // namespace

Result<IssuedKey> IssueApiKey(Store& store, std::optional<std::int64_t> organization,
                              std::string name, const AuditEntry* audit) {
  IssuedKey issued;
  issued.key = crypto::GenerateApiKey();
  issued.record.organization_id = organization;
  issued.record.name = std::move(name);
  issued.record.hash = crypto::HashApiKey(issued.key);
  issued.record.prefix = issued.key.substr(0, kPrefixLength);
  Result<ApiKey> stored = store.CreateApiKey(issued.record, audit);
  if (!stored.ok()) return stored.error();
  issued.record = *stored;
  return issued;
}

void AddApiKeyRoutes(Router& router, ApiContext& context) {
  Store& store = context.store;
  router.Add("POST", "/api-keys", Access::kAdminKey,
             [&store](Call& call) { return Create(store, call); });
  router.Add("GET", "/api-keys", Access::kAnyKey,
             [&store](Call& call) { return List(store, call); });
  router.Add("DELETE", "/api-keys/{id}", Access::kAnyKey,
             [&store](Call& call) { return Revoke(store, call); });
}

}  // namespace webhookd::api
