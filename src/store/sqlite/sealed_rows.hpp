// SealedRows on a SQLite database file, on a connection of its own (WAL: beside a running server).
#pragma once

#include <memory>
#include <string>

#include "store/sealed_rows.hpp"
#include "store/sqlite/connection.hpp"

namespace webhookd::sqlite {

class SqliteSealedRows final : public SealedRows {
 public:
  static Result<std::unique_ptr<SqliteSealedRows>> Open(const std::string& path);

  Result<std::vector<RegisteredKey>> RegisteredKeys() override;
  Status RegisterKey(const RegisteredKey& key, UnixMillis now) override;
  Status FinishRewrap(std::string_view newest) override;
  Result<std::vector<SealedRow>> ReadBatch(SealedTable table, const std::string& after_id,
                                           int limit) override;
  Result<int> ReplaceBatch(SealedTable table, const std::vector<SealedRow>& before,
                           const std::vector<std::vector<std::string>>& after_values) override;
  // Event payloads: a BLOB since migration 9 made events a rowid table; as text, a third
  // longer, they fill fewer rows per page and a payload of 3 KB would overflow its page.
  crypto::SealedForm FormOf(SealedTable table, std::size_t column) const override;

 private:
  explicit SqliteSealedRows(std::unique_ptr<Connection> db) : db_(std::move(db)) {}

  std::unique_ptr<Connection> db_;
};

}  // namespace webhookd::sqlite
