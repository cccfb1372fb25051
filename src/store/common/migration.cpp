#include "store/common/migration.hpp"

#include <spdlog/spdlog.h>

#include <charconv>
#include <string>

namespace webhookd::store_common {

std::vector<Migration> MigrationsFromFiles(std::span<const std::string_view> names,
                                           std::span<const std::string_view> texts) {
  std::vector<Migration> migrations;
  for (std::size_t i = 0; i < names.size() && i < texts.size(); ++i) {
    const std::string_view file = names[i];  // NNNN_name.sql
    const std::size_t underscore = file.find('_');
    const std::size_t extension = file.rfind('.');
    Migration m{0, {}, texts[i]};
    std::from_chars(file.data(), file.data() + underscore, m.version);
    m.name = file.substr(underscore + 1, extension - underscore - 1);
    migrations.push_back(m);
  }
  return migrations;
}

Status CheckMigrationOrder(std::span<const Migration> migrations) {
  for (std::size_t i = 0; i < migrations.size(); ++i) {
    const int previous = i == 0 ? 0 : migrations[i - 1].version;
    if (migrations[i].version <= previous) {
      return Error::Internal("migration versions do not start at 1 and increase");
    }
  }
  return Status::Ok();
}

Status CheckNotNewer(std::int64_t current, std::span<const Migration> migrations) {
  const int newest = migrations.empty() ? 0 : migrations.back().version;
  if (current <= newest) return Status::Ok();
  return Error::Invalid("the database schema is version " + std::to_string(current) +
                        ", newer than this webhookd supports (" + std::to_string(newest) +
                        "); use a newer webhookd");
}

void LogUpgrade(std::int64_t current, std::span<const Migration> migrations) {
  if (current == 0) return;
  std::string pending;
  for (const Migration& m : migrations) {
    if (m.version <= current) continue;
    pending +=
        (pending.empty() ? "" : ", ") + std::to_string(m.version) + " " + std::string(m.name);
  }
  if (pending.empty()) return;
  spdlog::info(
      "database schema: upgrading from version {} to {} (migrations {}), once; a large "
      "database takes a while",
      current, migrations.back().version, pending);
}

Error MigrationFailed(const Migration& m, const Error& failure) {
  return Error{
      failure.kind, "migration " + std::to_string(m.version) + " failed: " + failure.message, {}};
}

}  // namespace webhookd::store_common
