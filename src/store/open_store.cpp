#include "store/open_store.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <string>
#include <system_error>

#include "store/sqlite/sqlite_store.hpp"

namespace webhookd {
namespace {

constexpr std::string_view kSqlitePrefix = "sqlite:";
constexpr std::string_view kAcceptedForms = "expected sqlite:PATH, e.g. sqlite:./data/webhookd.db";

// The URL's scheme (RFC 3986 characters before the first ':'), or "" if it has none.
std::string_view SchemeOf(std::string_view url) {
  const std::size_t colon = url.find(':');
  if (colon == std::string_view::npos || colon == 0) return {};
  const std::string_view scheme = url.substr(0, colon);
  const bool valid = std::all_of(scheme.begin(), scheme.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
  });
  return valid ? scheme : std::string_view();
}

Result<std::unique_ptr<Store>> OpenSqlite(std::string_view path_text, const Clock& clock) {
  if (path_text.empty())
    return Error::Invalid("the SQLite database path is empty; " + std::string(kAcceptedForms));
  if (path_text.starts_with("//")) {
    return Error::Invalid("sqlite:// URLs are not accepted; " + std::string(kAcceptedForms));
  }
  if (path_text == ":memory:") {
    return Error::Invalid("an in-memory SQLite database cannot be shared between connections; " +
                          std::string(kAcceptedForms));
  }
  const std::filesystem::path path(path_text);
  const std::filesystem::path parent = path.parent_path();
  std::error_code ec;
  if (!parent.empty() && !std::filesystem::is_directory(parent, ec)) {
    return Error::Invalid("the directory '" + parent.string() +
                          "' of the SQLite database does not exist");
  }
  Result<std::unique_ptr<sqlite::SqliteStore>> store =
      sqlite::SqliteStore::Open(path.string(), clock);
  if (!store.ok()) return store.error();
  return std::unique_ptr<Store>(std::move(*store));
}

}  // namespace

Result<std::unique_ptr<Store>> OpenStore(std::string_view url, const Clock& clock) {
  if (url.starts_with(kSqlitePrefix)) return OpenSqlite(url.substr(kSqlitePrefix.size()), clock);
  if (url.starts_with("postgres://") || url.starts_with("postgresql://")) {
    return Error::Invalid("PostgreSQL is not supported yet; " + std::string(kAcceptedForms));
  }
  const std::string_view scheme = SchemeOf(url);
  if (scheme.empty()) {
    return Error::Invalid("the store URL has no scheme; " + std::string(kAcceptedForms));
  }
  return Error::Invalid("unsupported store scheme '" + std::string(scheme) + "'; " +
                        std::string(kAcceptedForms));
}

}  // namespace webhookd
