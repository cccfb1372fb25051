#include <string>

#include "store/postgres/operations.hpp"
#include "store/postgres/page_util.hpp"
#include "store/postgres/rows.hpp"
#include "store/postgres/statements.hpp"

namespace webhookd::postgres::ops {
namespace {

Error ConfigNotFound(std::int64_t id) {
  return Error::NotFound("webhook configuration " + std::to_string(id) + " not found");
}

WebhookConfig ReadConfigRow(const Rows& rows, int row) { return ReadConfig(rows, row); }

}  // namespace

Result<WebhookConfig> CreateConfig(Connection& db, const WebhookConfig& config, UnixMillis now) {
  WebhookConfig stored = config;
  stored.created_at = now;
  stored.updated_at = now;
  Params params;
  BindConfigFields(params, stored);
  Result<Rows> inserted = db.Run(kInsertConfig, params);
  if (!inserted.ok()) return inserted.error();
  stored.id = inserted->Int(0, 0);
  return stored;
}

Result<WebhookConfig> GetConfig(Connection& db, std::int64_t id, OrgScope scope) {
  Result<Rows> rows = db.Run(kGetConfig, Params().Int(id).OptInt(scope));
  if (!rows.ok()) return rows.error();
  if (rows->size() == 0) return ConfigNotFound(id);
  return ReadConfig(*rows, 0);
}

Result<Page<WebhookConfig>> ListConfigs(Connection& db, const ConfigFilter& filter,
                                        OrgScope scope) {
  // An organization scope narrows the filter; a filter on another organization matches nothing.
  if (scope && filter.organization_id && *scope != *filter.organization_id) {
    return Page<WebhookConfig>{};
  }
  const OrgScope organization = scope ? scope : filter.organization_id;
  const int page_size = ClampPageSize(filter.limit, kMinPageSize, kMaxPageSize);
  Params params;
  params.Int(filter.after_id).OptInt(organization);
  params.OptInt(filter.event_type_id ? std::optional<std::int64_t>(*filter.event_type_id)
                                     : std::nullopt);
  if (filter.active) {
    params.Bool(*filter.active);
  } else {
    params.Null();
  }
  params.Bool(filter.include_deleted).Int(page_size + 1);
  Result<Rows> rows = db.Run(kListConfigs, params);
  if (!rows.ok()) return rows.error();
  return MakePage(ReadAll<WebhookConfig>(*rows, ReadConfigRow), page_size,
                  [](const WebhookConfig& c) { return std::to_string(c.id); });
}

Result<WebhookConfig> UpdateConfig(Connection& db, const WebhookConfig& c, OrgScope scope,
                                   UnixMillis now) {
  Params params;
  params.Int(c.id)
      .Text(c.name)
      .Text(c.url)
      .Int(c.event_type_id)
      .Text(c.attributes_json)
      .Text(c.headers_json)
      .Bool(c.active)
      .Bool(c.send_organization_code)
      .Int(c.version)
      .Text(c.secret)
      .Text(c.previous_secret)
      .Int(c.previous_secret_expires_at)
      .Int(now)
      .Text(c.disabled_reason)
      .Int(c.timeout_ms)
      .Text(c.retry_schedule_json)
      .Int(c.failing_since)
      .OptInt(scope);
  Result<Rows> updated = db.Run(kUpdateConfig, params);
  if (!updated.ok()) return updated.error();
  if (updated->Affected() == 0) return ConfigNotFound(c.id);
  return GetConfig(db, c.id, scope);
}

Status DeleteConfig(Connection& db, std::int64_t id, OrgScope scope, UnixMillis now) {
  Result<Rows> updated = db.Run(kDeleteConfig, Params().Int(id).OptInt(scope).Int(now));
  if (!updated.ok()) return updated.error();
  if (updated->Affected() == 0) return ConfigNotFound(id);
  return Status::Ok();
}

// ---- API keys ----

Result<ApiKey> CreateApiKey(Connection& db, const ApiKey& key, UnixMillis now) {
  ApiKey stored = key;
  stored.created_at = now;
  Result<Rows> inserted = db.Run(kInsertApiKey, Params()
                                                    .OptInt(stored.organization_id)
                                                    .Text(stored.name)
                                                    .Text(stored.hash)
                                                    .Text(stored.prefix)
                                                    .Int(stored.created_at)
                                                    .Int(stored.revoked_at));
  if (!inserted.ok()) {
    if (inserted.error().kind == ErrorKind::kConflict) {
      return Error::Conflict("API key already exists");
    }
    return inserted.error();
  }
  stored.id = inserted->Int(0, 0);
  return stored;
}

Result<ApiKey> FindApiKeyByHash(Connection& db, const std::string& hash) {
  Result<Rows> rows = db.Run(kFindApiKeyByHash, Params().Text(hash));
  if (!rows.ok()) return rows.error();
  if (rows->size() == 0) return Error::NotFound("API key not found");
  return ReadApiKey(*rows, 0);
}

Result<std::vector<ApiKey>> ListApiKeys(Connection& db, OrgScope scope) {
  Result<Rows> rows = db.Run(kListApiKeys, Params().OptInt(scope));
  if (!rows.ok()) return rows.error();
  return ReadAll<ApiKey>(*rows, ReadApiKey);
}

Status RevokeApiKey(Connection& db, std::int64_t id, OrgScope scope, UnixMillis now) {
  Result<Rows> updated = db.Run(kRevokeApiKey, Params().Int(id).OptInt(scope).Int(now));
  if (!updated.ok()) return updated.error();
  if (updated->Affected() == 0) {
    return Error::NotFound("API key " + std::to_string(id) + " not found");
  }
  return Status::Ok();
}

Result<std::int64_t> CountApiKeys(Connection& db) {
  Result<Rows> rows = db.Run(kCountApiKeys);
  if (!rows.ok()) return rows.error();
  return rows->Int(0, 0);
}

}  // namespace webhookd::postgres::ops
