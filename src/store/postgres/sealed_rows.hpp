// SealedRows on PostgreSQL, on a connection of its own (beside running nodes).
#pragma once

#include <memory>
#include <string>

#include "store/postgres/connection.hpp"
#include "store/sealed_rows.hpp"

namespace webhookd::postgres {

class PostgresSealedRows final : public SealedRows {
 public:
  static Result<std::unique_ptr<PostgresSealedRows>> Open(const std::string& conninfo);

  Result<std::vector<RegisteredKey>> RegisteredKeys() override;
  Status RegisterKey(const RegisteredKey& key, UnixMillis now) override;
  Status FinishRewrap(std::string_view newest) override;
  Result<std::vector<SealedRow>> ReadBatch(SealedTable table, const std::string& after_id,
                                           int limit) override;
  Result<int> ReplaceBatch(SealedTable table, const std::vector<SealedRow>& before,
                           const std::vector<std::vector<std::string>>& after_values) override;

 private:
  explicit PostgresSealedRows(std::unique_ptr<Connection> db) : db_(std::move(db)) {}

  std::unique_ptr<Connection> db_;
};

}  // namespace webhookd::postgres
