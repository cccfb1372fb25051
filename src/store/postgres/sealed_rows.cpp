#include "store/postgres/sealed_rows.hpp"

#include "store/postgres/statements.hpp"

namespace webhookd::postgres {
namespace {

// $1: the id after which to read, $2: at most this many rows.
constexpr Statement kReadEvents{
    "sealed_read_events",
    "SELECT id, id, payload FROM events WHERE id > $1::text ORDER BY id LIMIT $2::bigint"};
constexpr Statement kReadConfigs{
    "sealed_read_configs",
    "SELECT id, organization_id, attributes_json, headers_json, secret, previous_secret "
    "FROM webhook_configs WHERE id > $1::bigint ORDER BY id LIMIT $2::bigint"};
constexpr Statement kReadAttempts{
    "sealed_read_attempts",
    "SELECT id, delivery_id, response_headers_json, response_body FROM attempts "
    "WHERE id > $1::bigint ORDER BY id LIMIT $2::bigint"};
// $1: the id; then the new values; then the values read, which must not have changed since.
constexpr Statement kReplaceEvent{
    "sealed_replace_event",
    "UPDATE events SET payload = $2::text WHERE id = $1::text AND payload = $3::text"};
constexpr Statement kReplaceConfig{
    "sealed_replace_config",
    "UPDATE webhook_configs SET attributes_json = $2::text, headers_json = $3::text, "
    "secret = $4::text, previous_secret = $5::text WHERE id = $1::bigint "
    "AND attributes_json = $6::text AND headers_json = $7::text AND secret = $8::text "
    "AND previous_secret = $9::text"};
constexpr Statement kReplaceAttempt{
    "sealed_replace_attempt",
    "UPDATE attempts SET response_headers_json = $2::text, response_body = $3::bytea "
    "WHERE id = $1::bigint AND response_headers_json = $4::text AND response_body = $5::bytea"};
constexpr Statement kRegisteredKeys{"sealed_registered_keys",
                                    "SELECT name, check_value FROM encryption_keys ORDER BY name"};
constexpr Statement kRegisterKey{"sealed_register_key",
                                 "INSERT INTO encryption_keys (name, check_value, registered_at) "
                                 "VALUES ($1::text, $2::text, $3::bigint) ON CONFLICT DO NOTHING"};
constexpr Statement kForgetKeysExcept{"sealed_forget_keys",
                                      "DELETE FROM encryption_keys WHERE name <> $1::text"};

// A response body is bytea: read and compared as bytes.
bool IsByteaColumn(SealedTable table, std::size_t column) {
  return table == SealedTable::kAttempts && column == 1;
}

const Statement& ReadStatement(SealedTable table) {
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

const Statement& ReplaceStatement(SealedTable table) {
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

void AddId(Params& params, SealedTable table, const std::string& id) {
  if (table != SealedTable::kEvents && id.empty()) {
    params.Int(0);
  } else {
    params.Text(id);
  }
}

void AddValue(Params& params, SealedTable table, std::size_t column, const std::string& value) {
  if (IsByteaColumn(table, column)) {
    params.Bytes(value);
  } else {
    params.Text(value);
  }
}

}  // namespace

Result<std::unique_ptr<PostgresSealedRows>> PostgresSealedRows::Open(const std::string& conninfo) {
  Result<std::unique_ptr<Connection>> db = Connection::Open(conninfo);
  if (!db.ok()) return db.error();
  return std::unique_ptr<PostgresSealedRows>(new PostgresSealedRows(std::move(*db)));
}

Result<std::vector<RegisteredKey>> PostgresSealedRows::RegisteredKeys() {
  Result<Rows> rows = db_->Run(kRegisteredKeys);
  if (!rows.ok()) return rows.error();
  std::vector<RegisteredKey> keys;
  for (int i = 0; i < rows->size(); ++i) keys.push_back({rows->Text(i, 0), rows->Text(i, 1)});
  return keys;
}

Status PostgresSealedRows::RegisterKey(const RegisteredKey& key, UnixMillis now) {
  Result<Rows> rows =
      db_->Run(kRegisterKey, Params().Text(key.name).Text(key.check_value).Int(now));
  if (!rows.ok()) return rows.error();
  return Status::Ok();
}

// Dead row versions with the replaced values remain until VACUUM (docs/security.md).
Status PostgresSealedRows::FinishRewrap(std::string_view newest) {
  Result<Rows> rows = db_->Run(kForgetKeysExcept, Params().Text(newest));
  if (!rows.ok()) return rows.error();
  return Status::Ok();
}

Result<std::vector<SealedRow>> PostgresSealedRows::ReadBatch(SealedTable table,
                                                             const std::string& after_id,
                                                             int limit) {
  Params params;
  AddId(params, table, after_id);
  params.Int(limit);
  Result<Rows> rows = db_->Run(ReadStatement(table), params);
  if (!rows.ok()) return rows.error();
  const std::size_t columns = SealedColumns(table).size();
  std::vector<SealedRow> out;
  for (int r = 0; r < rows->size(); ++r) {
    SealedRow row{rows->Text(r, 0), rows->Text(r, 1), {}};
    for (std::size_t c = 0; c < columns; ++c) {
      const int column = 2 + static_cast<int>(c);
      row.values.push_back(IsByteaColumn(table, c) ? rows->Bytes(r, column)
                                                   : rows->Text(r, column));
    }
    out.push_back(std::move(row));
  }
  return out;
}

Result<int> PostgresSealedRows::ReplaceBatch(SealedTable table,
                                             const std::vector<SealedRow>& before,
                                             const std::vector<std::vector<std::string>>& after) {
  if (Status s = db_->Exec(kBegin); !s.ok()) return s.error();
  int replaced = 0;
  for (std::size_t i = 0; i < before.size(); ++i) {
    Params params;
    AddId(params, table, before[i].id);
    for (std::size_t c = 0; c < after[i].size(); ++c) AddValue(params, table, c, after[i][c]);
    for (std::size_t c = 0; c < before[i].values.size(); ++c) {
      AddValue(params, table, c, before[i].values[c]);
    }
    Result<Rows> rows = db_->Run(ReplaceStatement(table), params);
    if (!rows.ok()) {
      (void)db_->Exec(kRollback);
      return rows.error();
    }
    replaced += static_cast<int>(rows->Affected());
  }
  if (Status s = db_->Exec(kCommit); !s.ok()) return s.error();
  return replaced;
}

}  // namespace webhookd::postgres
