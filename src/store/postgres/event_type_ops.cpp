#include <string>

#include "store/common/row_mapping.hpp"
#include "store/postgres/operations.hpp"
#include "store/postgres/rows.hpp"
#include "store/postgres/statements.hpp"

namespace webhookd::postgres {
namespace {

Status InsertVersion(Connection& db, const StoredEventType& type) {
  Result<Rows> inserted = db.Run(kInsertEventTypeVersion, Params()
                                                              .Int(type.id)
                                                              .Int(type.version)
                                                              .Text(type.description)
                                                              .Text(type.schema_json)
                                                              .Text(type.sample_json)
                                                              .Text(type.sample_headers_json)
                                                              .Int(type.created_at));
  if (!inserted.ok()) return inserted.error();
  return Status::Ok();
}

Status InsertType(Connection& db, const Statement& statement, const StoredEventType& type) {
  Result<Rows> inserted =
      db.Run(statement,
             Params().Int(type.id).Text(type.name).Bool(type.is_inference).Int(type.created_at));
  if (!inserted.ok()) return inserted.error();
  return Status::Ok();
}

}  // namespace

Result<std::vector<StoredEventType>> Operations::ListEventTypes(Connection& db) {
  Result<Rows> rows = db.Run(kListEventTypes);
  if (!rows.ok()) return rows.error();
  return ReadAll<StoredEventType>(*rows, [](const Rows& r, int row) {
    return store_common::ReadStoredEventType(RowColumns(r, row));
  });
}

Result<StoredEventType> Operations::CreateEventType(Connection& db, const StoredEventType& type,
                                                    UnixMillis now) {
  StoredEventType stored = type;
  stored.created_at = now;
  if (stored.id == 0) {
    Result<Rows> next = db.Run(kNextEventTypeId);
    if (!next.ok()) return next.error();
    stored.id = static_cast<int>(next->Int(0, 0));
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
  Result<Rows> updated = db.Run(kArchiveEventType, Params().Int(id).Int(now));
  if (!updated.ok()) return updated.error();
  if (updated->Affected() == 0) {
    return Error::NotFound("event type " + std::to_string(id) + " not found");
  }
  return Status::Ok();
}

Result<std::int64_t> Operations::CatalogVersion(Connection& db) {
  Result<Rows> rows = db.Run(kCatalogVersion);
  if (!rows.ok()) return rows.error();
  if (rows->size() == 0) return Error::Internal("catalog_version has no row");
  return rows->Int(0, 0);
}

Status Operations::BumpCatalogVersion(Connection& db) {
  Result<Rows> updated = db.Run(kBumpCatalogVersion);
  if (!updated.ok()) return updated.error();
  return Status::Ok();
}

}  // namespace webhookd::postgres
