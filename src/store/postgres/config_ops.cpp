#include <string>

#include "store/common/page.hpp"
#include "store/common/store_rules.hpp"
#include "store/postgres/operations.hpp"
#include "store/postgres/rows.hpp"
#include "store/postgres/statements.hpp"

namespace webhookd::postgres {
using store_common::ConfigNotFound;

Status Operations::Ping(Connection& db) {
  if (Result<Rows> rows = db.Run(kPing); !rows.ok()) return rows.error();
  return Status::Ok();
}

Result<WebhookConfig> Operations::CreateConfig(Connection& db, const WebhookConfig& config,
                                               UnixMillis now) {
  WebhookConfig stored = config;
  stored.created_at = now;
  stored.updated_at = now;
  Params params;
  store_common::BindConfigFields(params, stored);
  Result<Rows> inserted = db.Run(kInsertConfig, params);
  if (!inserted.ok()) return inserted.error();
  stored.id = inserted->Int(0, 0);
  return stored;
}

Result<WebhookConfig> Operations::GetConfig(Connection& db, std::int64_t id, OrgScope scope) {
  Result<Rows> rows = db.Run(kGetConfig, Params().Int(id).OptInt(scope));
  if (!rows.ok()) return rows.error();
  if (rows->size() == 0) return ConfigNotFound(id);
  return ReadConfigRow(*rows, 0);
}

Result<Page<WebhookConfig>> Operations::ListConfigs(Connection& db, const ConfigFilter& filter,
                                                    OrgScope scope) {
  const std::optional<OrgScope> organization = store_common::ListedOrganization(filter, scope);
  if (!organization) return Page<WebhookConfig>{};
  const int page_size = store_common::ClampPageSize(filter.limit);
  Params params;
  params.Int(filter.after_id).OptInt(*organization);
  params.OptInt(filter.event_type_id ? std::optional<std::int64_t>(*filter.event_type_id)
                                     : std::nullopt);
  if (filter.active) {
    params.Bool(*filter.active);
  } else {
    params.Null();
  }
  params.Bool(filter.include_deleted).Int(page_size + 1).Text(filter.search);
  Result<Rows> rows = db.Run(kListConfigs, params);
  if (!rows.ok()) return rows.error();
  return store_common::MakePage(ReadAll<WebhookConfig>(*rows, ReadConfigRow), page_size,
                                [](const WebhookConfig& c) { return std::to_string(c.id); });
}

Result<WebhookConfig> Operations::UpdateConfig(Connection& db, const WebhookConfig& c,
                                               OrgScope scope, UnixMillis now) {
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
      .Int(c.rate_limit)
      .Text(DeliveryOrderingName(c.ordering))
      .OptInt(scope);
  Result<Rows> updated = db.Run(kUpdateConfig, params);
  if (!updated.ok()) return updated.error();
  if (updated->Affected() == 0) return ConfigNotFound(c.id);
  return GetConfig(db, c.id, scope);
}

Status Operations::DeleteConfig(Connection& db, std::int64_t id, OrgScope scope, UnixMillis now) {
  Result<Rows> updated = db.Run(kDeleteConfig, Params().Int(id).OptInt(scope).Int(now));
  if (!updated.ok()) return updated.error();
  if (updated->Affected() == 0) return ConfigNotFound(id);
  return Status::Ok();
}

// ---- API keys ----

Result<ApiKey> Operations::CreateApiKey(Connection& db, const ApiKey& key, UnixMillis now) {
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

Result<ApiKey> Operations::FindApiKeyByHash(Connection& db, const std::string& hash) {
  Result<Rows> rows = db.Run(kFindApiKeyByHash, Params().Text(hash));
  if (!rows.ok()) return rows.error();
  if (rows->size() == 0) return Error::NotFound("API key not found");
  return ReadApiKeyRow(*rows, 0);
}

Result<std::vector<ApiKey>> Operations::ListApiKeys(Connection& db, OrgScope scope) {
  Result<Rows> rows = db.Run(kListApiKeys, Params().OptInt(scope));
  if (!rows.ok()) return rows.error();
  return ReadAll<ApiKey>(*rows, ReadApiKeyRow);
}

Status Operations::RevokeApiKey(Connection& db, std::int64_t id, OrgScope scope, UnixMillis now) {
  Result<Rows> updated = db.Run(kRevokeApiKey, Params().Int(id).OptInt(scope).Int(now));
  if (!updated.ok()) return updated.error();
  if (updated->Affected() == 0) {
    return Error::NotFound("API key " + std::to_string(id) + " not found");
  }
  return Status::Ok();
}

Result<std::int64_t> Operations::LockAndCountLiveConfigs(Connection& db,
                                                         std::int64_t organization_id) {
  if (Result<Rows> lock = db.Run(kLockOrganizationConfigs, Params().Int(organization_id));
      !lock.ok()) {
    return lock.error();
  }
  Result<Rows> rows = db.Run(kCountLiveConfigs, Params().Int(organization_id));
  if (!rows.ok()) return rows.error();
  return rows->Int(0, 0);
}

Result<bool> Operations::LockAndCheckLastAdminKey(Connection& db, std::int64_t id) {
  if (Result<Rows> lock = db.Run(kLockAdminKeys); !lock.ok()) return lock.error();
  Result<Rows> rows = db.Run(kIsLastAdminKey, Params().Int(id));
  if (!rows.ok()) return rows.error();
  return rows->Int(0, 0) == 1;
}

Result<std::int64_t> Operations::CountApiKeys(Connection& db) {
  Result<Rows> rows = db.Run(kCountApiKeys);
  if (!rows.ok()) return rows.error();
  return rows->Int(0, 0);
}

}  // namespace webhookd::postgres
