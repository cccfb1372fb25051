// Payload retention, organization settings and the audit log (docs/security.md).
#include "store/common/page.hpp"
#include "store/common/row_mapping.hpp"
#include "store/sqlite/operations.hpp"
#include "store/sqlite/query_util.hpp"
#include "store/sqlite/retention_selection.hpp"
#include "store/sqlite/rows.hpp"
#include "store/sqlite/statements.hpp"

namespace webhookd::sqlite {
namespace {

AuditEntry ReadAuditRow(const Query& q) { return store_common::ReadAuditEntry(QueryColumns(q)); }
OrganizationSettings ReadSettingsRow(const Query& q) {
  return store_common::ReadOrganizationSettings(QueryColumns(q));
}

}  // namespace

Result<std::int64_t> Operations::ErasePayloadsBefore(Connection& db, UnixMillis cutoff,
                                                     int max_events, RetentionScope scope,
                                                     UnixMillis now) {
  Result<std::int64_t> last_rowid = LastEventCreatedBefore(db, cutoff);
  if (!last_rowid.ok()) return last_rowid.error();
  Result<Query> attempts = db.Prepare(kEraseAttemptData);
  if (!attempts.ok()) return attempts.error();
  BindRetentionSelection(*attempts, cutoff, *last_rowid, max_events, scope);
  if (Status s = attempts->Run(); !s.ok()) return s.error();
  Result<Query> events = db.Prepare(kErasePayloads);
  if (!events.ok()) return events.error();
  BindRetentionSelection(*events, cutoff, *last_rowid, max_events, scope).BindInt(4, now);
  return RunChanges(db, *events);
}

Result<OrganizationSettings> Operations::GetOrganizationSettings(Connection& db,
                                                                 std::int64_t organization_id) {
  Result<Query> query = db.Prepare(kGetOrganizationSettings);
  if (!query.ok()) return query.error();
  query->BindInt(1, organization_id);
  Result<std::optional<OrganizationSettings>> row =
      ReadFirst<OrganizationSettings>(*query, ReadSettingsRow);
  if (!row.ok()) return row.error();
  return row->value_or(OrganizationSettings{organization_id, 0, 0});
}

Result<OrganizationSettings> Operations::PutOrganizationSettings(
    Connection& db, const OrganizationSettings& settings, UnixMillis now) {
  Result<Query> query = db.Prepare(kPutOrganizationSettings);
  if (!query.ok()) return query.error();
  query->BindInt(1, settings.organization_id)
      .BindInt(2, settings.retention_ms)
      .BindInt(3, settings.payload_retention_ms)
      .BindInt(4, now);
  if (Status s = query->Run(); !s.ok()) return s.error();
  return settings;
}

Result<std::vector<OrganizationSettings>> Operations::ListOrganizationOverrides(Connection& db) {
  Result<Query> query = db.Prepare(kListOrganizationOverrides);
  if (!query.ok()) return query.error();
  return ReadAll<OrganizationSettings>(*query, ReadSettingsRow);
}

Status Operations::AppendAudit(Connection& db, const AuditEntry& entry) {
  Result<Query> insert = db.Prepare(kInsertAuditEntry);
  if (!insert.ok()) return insert.error();
  insert->BindInt(1, entry.at)
      .BindInt(2, entry.key_id)
      .BindText(3, entry.key_name)
      .BindOptionalInt(4, entry.organization_id)
      .BindText(5, entry.method)
      .BindText(6, entry.route)
      .BindText(7, entry.object_id)
      .BindText(8, entry.address)
      .BindInt(9, entry.status);
  return insert->Run();
}

Result<Page<AuditEntry>> Operations::ListAudit(Connection& db, const AuditFilter& filter,
                                               OrgScope scope) {
  const int page_size = store_common::ClampPageSize(filter.limit);
  Result<Query> query = db.Prepare(kListAuditEntries);
  if (!query.ok()) return query.error();
  query->BindInt(1, filter.after_id)
      .BindOptionalInt(2, filter.organization_id)
      .BindOptionalInt(3, filter.key_id)
      .BindOptionalText(4, filter.object_id)
      .BindOptionalInt(5, filter.since)
      .BindOptionalInt(6, filter.before)
      .BindOptionalInt(7, scope)
      .BindInt(8, page_size + 1);
  Result<std::vector<AuditEntry>> rows = ReadAll<AuditEntry>(*query, ReadAuditRow);
  if (!rows.ok()) return rows.error();
  return store_common::MakePage(std::move(*rows), page_size,
                                [](const AuditEntry& e) { return std::to_string(e.id); });
}

Result<std::int64_t> Operations::PurgeAuditBefore(Connection& db, UnixMillis cutoff,
                                                  int max_entries) {
  Result<Query> query = db.Prepare(kPurgeAuditEntries);
  if (!query.ok()) return query.error();
  query->BindInt(1, cutoff).BindInt(2, max_entries);
  return RunChanges(db, *query);
}

}  // namespace webhookd::sqlite
