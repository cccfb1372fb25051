#include "store/sqlite/sealed_rows.hpp"

#include "store/sqlite/statements.hpp"

namespace webhookd::sqlite {
namespace {

// ?1: the id after which to read, ?2: at most this many rows.
constexpr std::string_view kReadEvents =
    "SELECT id, id, payload FROM events WHERE id > ?1 ORDER BY id LIMIT ?2";
constexpr std::string_view kReadConfigs =
    "SELECT id, organization_id, attributes_json, headers_json, secret, previous_secret "
    "FROM webhook_configs WHERE id > ?1 ORDER BY id LIMIT ?2";
constexpr std::string_view kReadAttempts =
    "SELECT id, delivery_id, response_headers_json, response_body FROM attempts "
    "WHERE id > ?1 ORDER BY id LIMIT ?2";
// ?1: the id; then the new values; then the values read, which must not have changed since.
constexpr std::string_view kReplaceEvent =
    "UPDATE events SET payload = ?2 WHERE id = ?1 AND CAST(payload AS BLOB) = ?3";
constexpr std::string_view kReplaceConfig =
    "UPDATE webhook_configs SET attributes_json = ?2, headers_json = ?3, secret = ?4, "
    "previous_secret = ?5 WHERE id = ?1 AND attributes_json = ?6 AND headers_json = ?7 "
    "AND secret = ?8 AND previous_secret = ?9";
constexpr std::string_view kReplaceAttempt =
    "UPDATE attempts SET response_headers_json = ?2, response_body = ?3 WHERE id = ?1 "
    "AND response_headers_json = ?4 AND response_body = ?5";
constexpr std::string_view kRegisteredKeys =
    "SELECT name, check_value FROM encryption_keys ORDER BY name";
constexpr std::string_view kRegisterKey =
    "INSERT INTO encryption_keys (name, check_value, registered_at) VALUES (?1, ?2, ?3) "
    "ON CONFLICT DO NOTHING";
constexpr std::string_view kTruncateWal = "PRAGMA wal_checkpoint(TRUNCATE)";
constexpr std::string_view kForgetKeysExcept = "DELETE FROM encryption_keys WHERE name <> ?1";

bool IntegerIds(SealedTable table) { return table != SealedTable::kEvents; }

// Bound as BLOBs: a response body and an event payload (as the store writes them; an older
// payload may be TEXT, which kReplaceEvent reads as a BLOB: SQLite never finds a BLOB equal to
// TEXT).
bool IsBlobColumn(SealedTable table, std::size_t column) {
  return (table == SealedTable::kAttempts && column == 1) ||
         (table == SealedTable::kEvents && column == 0);
}

std::string_view ReadStatement(SealedTable table) {
  switch (table) {
    case SealedTable::kEvents:
      return kReadEvents;
    case SealedTable::kConfigs:
      return kReadConfigs;
    case SealedTable::kAttempts:
      break;
  }
  return kReadAttempts;
}

std::string_view ReplaceStatement(SealedTable table) {
  switch (table) {
    case SealedTable::kEvents:
      return kReplaceEvent;
    case SealedTable::kConfigs:
      return kReplaceConfig;
    case SealedTable::kAttempts:
      break;
  }
  return kReplaceAttempt;
}

void BindId(Query& query, SealedTable table, const std::string& id) {
  if (IntegerIds(table)) {
    query.BindInt(1, id.empty() ? 0 : std::stoll(id));
  } else {
    query.BindText(1, id);
  }
}

void BindValue(Query& query, SealedTable table, int index, std::size_t column,
               const std::string& value) {
  if (IsBlobColumn(table, column)) {
    query.BindBlob(index, value);
  } else {
    query.BindText(index, value);
  }
}

}  // namespace

crypto::SealedForm SqliteSealedRows::FormOf(SealedTable table, std::size_t column) const {
  return table == SealedTable::kEvents && column == 0 ? crypto::SealedForm::kBytes
                                                      : crypto::SealedForm::kText;
}

Result<std::unique_ptr<SqliteSealedRows>> SqliteSealedRows::Open(const std::string& path) {
  Result<std::unique_ptr<Connection>> db = Connection::Open(path, /*create=*/false);
  if (!db.ok()) return db.error();
  // secure_delete: the space a replaced plain value leaves is zeroed rather than left readable.
  if (Status s = (*db)->Exec("PRAGMA synchronous = FULL; PRAGMA secure_delete = ON;"); !s.ok()) {
    return s.error();
  }
  return std::unique_ptr<SqliteSealedRows>(new SqliteSealedRows(std::move(*db)));
}

Result<std::vector<RegisteredKey>> SqliteSealedRows::RegisteredKeys() {
  Result<Query> query = db_->Prepare(kRegisteredKeys);
  if (!query.ok()) return query.error();
  std::vector<RegisteredKey> keys;
  for (;;) {
    Result<bool> row = query->Step();
    if (!row.ok()) return row.error();
    if (!*row) return keys;
    keys.push_back({query->Text(0), query->Text(1)});
  }
}

Status SqliteSealedRows::RegisterKey(const RegisteredKey& key, UnixMillis now) {
  Result<Query> query = db_->Prepare(kRegisterKey);
  if (!query.ok()) return query.error();
  return query->BindText(1, key.name).BindText(2, key.check_value).BindInt(3, now).Run();
}

Status SqliteSealedRows::FinishRewrap(std::string_view newest) {
  Result<Query> query = db_->Prepare(kForgetKeysExcept);
  if (!query.ok()) return query.error();
  if (Status s = query->BindText(1, newest).Run(); !s.ok()) return s;
  // Best effort: a reader of a running server may keep the WAL from being truncated now.
  Result<Query> checkpoint = db_->Prepare(kTruncateWal);
  if (!checkpoint.ok()) return checkpoint.error();
  (void)checkpoint->Step();
  return Status::Ok();
}

Result<std::vector<SealedRow>> SqliteSealedRows::ReadBatch(SealedTable table,
                                                           const std::string& after_id, int limit) {
  Result<Query> query = db_->Prepare(ReadStatement(table));
  if (!query.ok()) return query.error();
  BindId(*query, table, after_id);
  query->BindInt(2, limit);
  const std::size_t columns = SealedColumns(table).size();
  std::vector<SealedRow> rows;
  for (;;) {
    Result<bool> more = query->Step();
    if (!more.ok()) return more.error();
    if (!*more) return rows;
    SealedRow row{query->Text(0), query->Text(1), {}};
    for (std::size_t c = 0; c < columns; ++c) row.values.push_back(query->Text(2 + int(c)));
    rows.push_back(std::move(row));
  }
}

Result<int> SqliteSealedRows::ReplaceBatch(SealedTable table, const std::vector<SealedRow>& before,
                                           const std::vector<std::vector<std::string>>& after) {
  if (Status s = db_->Run(kBeginImmediate); !s.ok()) return s.error();
  int replaced = 0;
  for (std::size_t i = 0; i < before.size(); ++i) {
    Result<Query> query = db_->Prepare(ReplaceStatement(table));
    if (!query.ok()) {
      (void)db_->Run(kRollback);
      return query.error();
    }
    BindId(*query, table, before[i].id);
    const std::size_t columns = before[i].values.size();
    for (std::size_t c = 0; c < columns; ++c) {
      BindValue(*query, table, 2 + int(c), c, after[i][c]);
      BindValue(*query, table, 2 + int(columns + c), c, before[i].values[c]);
    }
    if (Status s = query->Run(); !s.ok()) {
      (void)db_->Run(kRollback);
      return s.error();
    }
    replaced += static_cast<int>(db_->Changes());
  }
  if (Status s = db_->Run(kCommit); !s.ok()) return s.error();
  return replaced;
}

}  // namespace webhookd::sqlite
