// The sealed columns of the database, read and written directly: the key registry checked at
// start-up, and the batches of `webhookd encryption rewrap` (docs/security.md). One per
// process, on a connection of its own; both backends.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/model.hpp"
#include "core/result.hpp"
#include "crypto/field_cipher.hpp"

namespace webhookd {

// The tables that hold sealed values, and the columns of each, in this order:
//   kEvents: payload (bound to the event id)
//   kConfigs: attributes_json, headers_json, secret, previous_secret (bound to the organization)
//   kAttempts: response_headers_json, response_body (bound to the delivery id)
enum class SealedTable { kEvents, kConfigs, kAttempts };

struct SealedRow {
  std::string id;       // the primary key, as text
  std::string binding;  // what its values are bound to: event id, organization id, delivery id
  std::vector<std::string> values;
};

// Names of SealedTable columns and the EncryptingStore context of one value.
std::string_view SealedTableName(SealedTable table);
const std::vector<std::string_view>& SealedColumns(SealedTable table);
std::string SealedRowContext(SealedTable table, std::string_view column, const SealedRow& row);

// One entry of the key registry: a key that has encrypted values in this database, with a value
// sealed under it (so that a key file holding another key of that name is found out at start);
// or the name "" while values stored before encryption may remain (not yet rewrapped).
struct RegisteredKey {
  std::string name;
  std::string check_value;
};

class SealedRows {
 public:
  virtual ~SealedRows() = default;

  virtual Result<std::vector<RegisteredKey>> RegisteredKeys() = 0;
  // Adds `key` to the registry (nothing if its name is there already).
  virtual Status RegisterKey(const RegisteredKey& key, UnixMillis now) = 0;
  // After a complete rewrap: removes every key but `newest` from the registry, and (SQLite)
  // checkpoints and truncates the WAL, whose older page images may hold the replaced values.
  virtual Status FinishRewrap(std::string_view newest) = 0;

  // Up to `limit` rows of `table` with ids after `after_id` ("" for the first), by id.
  virtual Result<std::vector<SealedRow>> ReadBatch(SealedTable table, const std::string& after_id,
                                                   int limit) = 0;
  // Replaces the values of `before` by `after_values` in one transaction, for each row whose
  // values are still those of `before` (a row changed meanwhile is left for the next pass).
  // Returns how many rows it replaced.
  virtual Result<int> ReplaceBatch(SealedTable table, const std::vector<SealedRow>& before,
                                   const std::vector<std::vector<std::string>>& after_values) = 0;

  // The form values of `column` (its index in SealedColumns) are sealed in: bytes where this
  // backend stores them as bytes and it saves space that matters, text elsewhere.
  virtual crypto::SealedForm FormOf(SealedTable /*table*/, std::size_t /*column*/) const {
    return crypto::SealedForm::kText;
  }
};

// The SealedRows of the database at `url` (as OpenStore), which must be migrated already.
Result<std::unique_ptr<SealedRows>> OpenSealedRows(std::string_view url);

}  // namespace webhookd
