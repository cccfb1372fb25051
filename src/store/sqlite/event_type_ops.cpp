#include <string>

#include "store/common/row_mapping.hpp"
#include "store/sqlite/operations.hpp"
#include "store/sqlite/query_util.hpp"
#include "store/sqlite/rows.hpp"
#include "store/sqlite/statements.hpp"

namespace webhookd::sqlite {
namespace {

Status InsertVersion(Connection& db, const StoredEventType& type) {
  Result<Query> insert = db.Prepare(kInsertEventTypeVersion);
  if (!insert.ok()) return insert.error();
  insert->BindInt(1, type.id)
      .BindInt(2, type.version)
      .BindText(3, type.description)
      .BindText(4, type.schema_json)
      .BindText(5, type.sample_json)
      .BindText(6, type.sample_headers_json)
      .BindInt(7, type.created_at);
  return insert->Run();
}

Status InsertType(Connection& db, std::string_view statement, const StoredEventType& type) {
  Result<Query> insert = db.Prepare(statement);
  if (!insert.ok()) return insert.error();
  insert->BindInt(1, type.id)
      .BindText(2, type.name)
      .BindInt(3, type.is_inference ? 1 : 0)
      .BindInt(4, type.created_at);
  return insert->Run();
}

Result<int> NextEventTypeId(Connection& db) {
  Result<Query> query = db.Prepare(kNextEventTypeId);
  if (!query.ok()) return query.error();
  Result<std::optional<std::int64_t>> next =
      ReadFirst<std::int64_t>(*query, [](const Query& row) { return row.Int(0); });
  if (!next.ok()) return next.error();
  return static_cast<int>(next->value_or(13));
}

}  // namespace

Result<std::vector<StoredEventType>> Operations::ListEventTypes(Connection& db) {
  Result<Query> query = db.Prepare(kListEventTypes);
  if (!query.ok()) return query.error();
  return ReadAll<StoredEventType>(*query, [](const Query& row) {
    return store_common::ReadStoredEventType(QueryColumns(row));
  });
}

Result<StoredEventType> Operations::CreateEventType(Connection& db, const StoredEventType& type,
                                                    UnixMillis now) {
  StoredEventType stored = type;
  stored.created_at = now;
  if (stored.id == 0) {
    Result<int> next = NextEventTypeId(db);
    if (!next.ok()) return next.error();
    stored.id = *next;
  }
  if (Status s = InsertType(db, kInsertEventType, stored); !s.ok()) {
    if (s.error().kind != ErrorKind::kConflict) return s.error();
    return Error::Conflict("an event type named " + stored.name + " or numbered " +
                           std::to_string(stored.id) + " exists already");
  }
  if (Status s = InsertVersion(db, stored); !s.ok()) return s.error();
  return stored;
}

Result<StoredEventType> Operations::AddEventTypeVersion(Connection& db,
                                                        const StoredEventType& version,
                                                        UnixMillis now) {
  StoredEventType stored = version;
  stored.created_at = now;
  if (Status s = InsertType(db, kInsertEventTypeIfMissing, stored); !s.ok()) return s.error();
  if (Status s = InsertVersion(db, stored); !s.ok()) {
    if (s.error().kind != ErrorKind::kConflict) return s.error();
    return Error::Conflict("version " + std::to_string(stored.version) + " of " + stored.name +
                           " was stored by another request at the same time; read it and retry");
  }
  return stored;
}

Status Operations::ArchiveEventType(Connection& db, int id, UnixMillis now) {
  Result<Query> update = db.Prepare(kArchiveEventType);
  if (!update.ok()) return update.error();
  update->BindInt(1, id).BindInt(2, now);
  Result<std::int64_t> changed = RunChanges(db, *update);
  if (!changed.ok()) return changed.error();
  if (*changed == 0) return Error::NotFound("event type " + std::to_string(id) + " not found");
  return Status::Ok();
}

Result<std::int64_t> Operations::CatalogVersion(Connection& db) {
  Result<Query> query = db.Prepare(kCatalogVersion);
  if (!query.ok()) return query.error();
  Result<std::optional<std::int64_t>> version =
      ReadFirst<std::int64_t>(*query, [](const Query& row) { return row.Int(0); });
  if (!version.ok()) return version.error();
  if (!version->has_value()) return Error::Internal("catalog_version has no row");
  return **version;
}

Status Operations::BumpCatalogVersion(Connection& db) {
  Result<Query> update = db.Prepare(kBumpCatalogVersion);
  if (!update.ok()) return update.error();
  return update->Run();
}

}  // namespace webhookd::sqlite
