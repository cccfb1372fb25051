#include <string>

#include "store/sqlite/operations.hpp"
#include "store/sqlite/query_util.hpp"
#include "store/sqlite/rows.hpp"
#include "store/sqlite/statements.hpp"

namespace webhookd::sqlite {

Result<ApiKey> Operations::CreateApiKey(Connection& db, const ApiKey& key, UnixMillis now) {
  ApiKey stored = key;
  stored.created_at = now;
  Result<Query> insert = db.Prepare(kInsertApiKey);
  if (!insert.ok()) return insert.error();
  insert->BindOptionalInt(1, stored.organization_id)
      .BindText(2, stored.name)
      .BindText(3, stored.hash)
      .BindText(4, stored.prefix)
      .BindInt(5, stored.created_at)
      .BindInt(6, stored.revoked_at);
  if (Status s = insert->Run(); !s.ok()) {
    if (s.error().kind == ErrorKind::kConflict) return Error::Conflict("API key already exists");
    return s.error();
  }
  stored.id = db.LastInsertId();
  return stored;
}

Result<ApiKey> Operations::FindApiKeyByHash(Connection& db, const std::string& hash) {
  Result<Query> query = db.Prepare(kFindApiKeyByHash);
  if (!query.ok()) return query.error();
  query->BindText(1, hash);
  Result<std::optional<ApiKey>> row = ReadFirst<ApiKey>(*query, ReadApiKeyRow);
  if (!row.ok()) return row.error();
  if (!*row) return Error::NotFound("API key not found");
  return std::move(**row);
}

Result<std::vector<ApiKey>> Operations::ListApiKeys(Connection& db, OrgScope scope) {
  Result<Query> query = db.Prepare(kListApiKeys);
  if (!query.ok()) return query.error();
  query->BindOptionalInt(1, scope);
  return ReadAll<ApiKey>(*query, ReadApiKeyRow);
}

Status Operations::RevokeApiKey(Connection& db, std::int64_t id, OrgScope scope, UnixMillis now) {
  Result<Query> update = db.Prepare(kRevokeApiKey);
  if (!update.ok()) return update.error();
  update->BindInt(1, id).BindOptionalInt(2, scope).BindInt(3, now);
  Result<std::int64_t> changed = RunChanges(db, *update);
  if (!changed.ok()) return changed.error();
  if (*changed == 0) return Error::NotFound("API key " + std::to_string(id) + " not found");
  return Status::Ok();
}

// The writer thread is the only writer: nothing can revoke between the check and the revocation.
Result<bool> Operations::LockAndCheckLastAdminKey(Connection& db, std::int64_t id) {
  Result<Query> query = db.Prepare(kIsLastAdminKey);
  if (!query.ok()) return query.error();
  query->BindInt(1, id);
  Result<std::int64_t> last = ReadInt(*query);
  if (!last.ok()) return last.error();
  return *last == 1;
}

Result<std::int64_t> Operations::CountApiKeys(Connection& db) {
  Result<Query> query = db.Prepare(kCountApiKeys);
  if (!query.ok()) return query.error();
  return ReadInt(*query);
}

}  // namespace webhookd::sqlite
