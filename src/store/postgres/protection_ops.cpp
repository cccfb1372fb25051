// Organization settings and the audit log (docs/security.md); payload retention is beside the
// purge in event_ops.cpp.
#include "store/common/page.hpp"
#include "store/common/row_mapping.hpp"
#include "store/postgres/operations.hpp"
#include "store/postgres/rows.hpp"
#include "store/postgres/statements.hpp"

namespace webhookd::postgres {
namespace {

AuditEntry ReadAuditRow(const Rows& r, int row) {
  return store_common::ReadAuditEntry(RowColumns(r, row));
}
OrganizationSettings ReadSettingsRow(const Rows& r, int row) {
  return store_common::ReadOrganizationSettings(RowColumns(r, row));
}

}  // namespace

Result<OrganizationSettings> Operations::GetOrganizationSettings(Connection& db,
                                                                 std::int64_t organization_id) {
  Result<Rows> rows = db.Run(kGetOrganizationSettings, Params().Int(organization_id));
  if (!rows.ok()) return rows.error();
  if (rows->size() == 0) return OrganizationSettings{organization_id, 0, 0};
  return ReadSettingsRow(*rows, 0);
}

Result<OrganizationSettings> Operations::PutOrganizationSettings(
    Connection& db, const OrganizationSettings& settings, UnixMillis now) {
  Result<Rows> rows = db.Run(kPutOrganizationSettings, Params()
                                                           .Int(settings.organization_id)
                                                           .Int(settings.retention_ms)
                                                           .Int(settings.payload_retention_ms)
                                                           .Int(now));
  if (!rows.ok()) return rows.error();
  return settings;
}

Result<std::vector<OrganizationSettings>> Operations::ListOrganizationOverrides(Connection& db) {
  Result<Rows> rows = db.Run(kListOrganizationOverrides);
  if (!rows.ok()) return rows.error();
  return ReadAll<OrganizationSettings>(*rows, ReadSettingsRow);
}

Status Operations::AppendAudit(Connection& db, const AuditEntry& entry) {
  Result<Rows> rows = db.Run(kInsertAuditEntry, Params()
                                                    .Int(entry.at)
                                                    .Int(entry.key_id)
                                                    .Text(entry.key_name)
                                                    .OptInt(entry.organization_id)
                                                    .Text(entry.method)
                                                    .Text(entry.route)
                                                    .Text(entry.object_id)
                                                    .Text(entry.address)
                                                    .Int(entry.status));
  if (!rows.ok()) return rows.error();
  return Status::Ok();
}

Result<Page<AuditEntry>> Operations::ListAudit(Connection& db, const AuditFilter& filter,
                                               OrgScope scope) {
  const int page_size = store_common::ClampPageSize(filter.limit);
  Result<Rows> rows = db.Run(kListAuditEntries, Params()
                                                    .Int(filter.after_id)
                                                    .OptInt(filter.organization_id)
                                                    .OptInt(filter.key_id)
                                                    .OptText(filter.object_id)
                                                    .OptInt(filter.since)
                                                    .OptInt(filter.before)
                                                    .OptInt(scope)
                                                    .Int(page_size + 1));
  if (!rows.ok()) return rows.error();
  return store_common::MakePage(ReadAll<AuditEntry>(*rows, ReadAuditRow), page_size,
                                [](const AuditEntry& e) { return std::to_string(e.id); });
}

Result<std::int64_t> Operations::PurgeAuditBefore(Connection& db, UnixMillis cutoff,
                                                  int max_entries) {
  Result<Rows> rows = db.Run(kPurgeAuditEntries, Params().Int(cutoff).Int(max_entries));
  if (!rows.ok()) return rows.error();
  return rows->Affected();
}

}  // namespace webhookd::postgres
