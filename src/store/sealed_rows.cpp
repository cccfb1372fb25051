#include "store/sealed_rows.hpp"

#include "store/encrypting_store.hpp"
#include "store/open_store.hpp"
#include "store/postgres/sealed_rows.hpp"
#include "store/sqlite/sealed_rows.hpp"

namespace webhookd {

std::string_view SealedTableName(SealedTable table) {
  switch (table) {
    case SealedTable::kEvents:
      return "events";
    case SealedTable::kConfigs:
      return "webhook_configs";
    case SealedTable::kAttempts:
      break;
  }
  return "attempts";
}

const std::vector<std::string_view>& SealedColumns(SealedTable table) {
  static const std::vector<std::string_view> kEvents = {"payload"};
  static const std::vector<std::string_view> kConfigs = {"attributes_json", "headers_json",
                                                         "secret", "previous_secret"};
  static const std::vector<std::string_view> kAttempts = {"response_headers_json", "response_body"};
  switch (table) {
    case SealedTable::kEvents:
      return kEvents;
    case SealedTable::kConfigs:
      return kConfigs;
    case SealedTable::kAttempts:
      break;
  }
  return kAttempts;
}

std::string SealedRowContext(SealedTable table, std::string_view column, const SealedRow& row) {
  if (table == SealedTable::kConfigs) return ConfigContext(column, std::stoll(row.binding));
  return SealedContext(SealedTableName(table), column, row.binding);
}

Result<std::unique_ptr<SealedRows>> OpenSealedRows(std::string_view url) {
  constexpr std::string_view kSqlitePrefix = "sqlite:";
  if (url.starts_with(kSqlitePrefix)) {
    Result<std::unique_ptr<sqlite::SqliteSealedRows>> rows =
        sqlite::SqliteSealedRows::Open(std::string(url.substr(kSqlitePrefix.size())));
    if (!rows.ok()) return rows.error();
    return std::unique_ptr<SealedRows>(std::move(*rows));
  }
  if (IsSharedStoreUrl(url)) {
    Result<std::unique_ptr<postgres::PostgresSealedRows>> rows =
        postgres::PostgresSealedRows::Open(std::string(url));
    if (!rows.ok()) return rows.error();
    return std::unique_ptr<SealedRows>(std::move(*rows));
  }
  return Error::Invalid("unsupported store URL");
}

}  // namespace webhookd
