#include <string>

#include "store/common/page.hpp"
#include "store/common/store_rules.hpp"
#include "store/sqlite/operations.hpp"
#include "store/sqlite/query_util.hpp"
#include "store/sqlite/rows.hpp"
#include "store/sqlite/statements.hpp"

namespace webhookd::sqlite {

using store_common::ConfigNotFound;

Status Operations::Ping(Connection& db) { return db.Run(kPing); }

Result<WebhookConfig> Operations::CreateConfig(Connection& db, const WebhookConfig& config,
                                               UnixMillis now) {
  WebhookConfig stored = config;
  stored.created_at = now;
  stored.updated_at = now;
  Result<Query> insert = db.Prepare(kInsertConfig);
  if (!insert.ok()) return insert.error();
  BindConfigFields(*insert, stored);
  if (Status s = insert->Run(); !s.ok()) return s.error();
  stored.id = db.LastInsertId();
  return stored;
}

Result<WebhookConfig> Operations::GetConfig(Connection& db, std::int64_t id, OrgScope scope) {
  Result<Query> query = db.Prepare(kGetConfig);
  if (!query.ok()) return query.error();
  query->BindInt(1, id).BindOptionalInt(2, scope);
  Result<std::optional<WebhookConfig>> row = ReadFirst<WebhookConfig>(*query, ReadConfigRow);
  if (!row.ok()) return row.error();
  if (!*row) return ConfigNotFound(id);
  return std::move(**row);
}

Result<Page<WebhookConfig>> Operations::ListConfigs(Connection& db, const ConfigFilter& filter,
                                                    OrgScope scope) {
  const std::optional<OrgScope> organization = store_common::ListedOrganization(filter, scope);
  if (!organization) return Page<WebhookConfig>{};
  const int page_size = store_common::ClampPageSize(filter.limit);
  Result<Query> query = db.Prepare(kListConfigs);
  if (!query.ok()) return query.error();
  query->BindInt(1, filter.after_id)
      .BindOptionalInt(2, *organization)
      .BindOptionalInt(3, filter.event_type_id)
      .BindOptionalInt(
          4, filter.active ? std::optional<std::int64_t>(*filter.active ? 1 : 0) : std::nullopt)
      .BindInt(5, filter.include_deleted ? 1 : 0)
      .BindInt(6, page_size + 1)
      .BindText(7, filter.search);
  Result<std::vector<WebhookConfig>> rows = ReadAll<WebhookConfig>(*query, ReadConfigRow);
  if (!rows.ok()) return rows.error();
  return store_common::MakePage(std::move(*rows), page_size,
                                [](const WebhookConfig& c) { return std::to_string(c.id); });
}

Result<WebhookConfig> Operations::UpdateConfig(Connection& db, const WebhookConfig& config,
                                               OrgScope scope, UnixMillis now) {
  WebhookConfig replacement = config;
  replacement.updated_at = now;
  {
    Result<Query> update = db.Prepare(kUpdateConfig);
    if (!update.ok()) return update.error();
    update->BindInt(1, config.id);
    BindConfigFields(*update, replacement);
    update->BindOptionalInt(23, scope);
    Result<std::int64_t> changed = RunChanges(db, *update);
    if (!changed.ok()) return changed.error();
    if (*changed == 0) return ConfigNotFound(config.id);
  }
  return GetConfig(db, config.id, scope);
}

// The writer thread is the only writer: nothing can insert between the count and the insert.
Result<std::int64_t> Operations::LockAndCountLiveConfigs(Connection& db,
                                                         std::int64_t organization_id) {
  Result<Query> query = db.Prepare(kCountLiveConfigs);
  if (!query.ok()) return query.error();
  query->BindInt(1, organization_id);
  return ReadInt(*query);
}

Status Operations::DeleteConfig(Connection& db, std::int64_t id, OrgScope scope, UnixMillis now) {
  Result<Query> update = db.Prepare(kDeleteConfig);
  if (!update.ok()) return update.error();
  update->BindInt(1, id).BindOptionalInt(2, scope).BindInt(3, now);
  Result<std::int64_t> changed = RunChanges(db, *update);
  if (!changed.ok()) return changed.error();
  if (*changed == 0) return ConfigNotFound(id);
  return Status::Ok();
}

}  // namespace webhookd::sqlite
