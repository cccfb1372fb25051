#include "store/open_store.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <string>
#include <system_error>

#include "store/postgres/postgres_store.hpp"
#include "store/sqlite/sqlite_store.hpp"

namespace webhookd {
namespace {

constexpr std::string_view kSqlitePrefix = "sqlite:";
constexpr std::string_view kAcceptedForms =
    "expected sqlite:PATH, e.g. sqlite:./data/webhookd.db, or postgres://USER@HOST:PORT/DB";

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

Result<std::unique_ptr<Store>> OpenPostgres(std::string_view url, const Clock& clock,
                                            const StoreOptions& options) {
  postgres::PostgresOptions pg_options;
  pg_options.node_id = options.node_id;
  Result<std::unique_ptr<postgres::PostgresStore>> store =
      postgres::PostgresStore::Open(std::string(url), clock, pg_options);
  if (!store.ok()) return store.error();
  return std::unique_ptr<Store>(std::move(*store));
}

}  // namespace

std::string RedactedStoreUrl(std::string_view url) {
  std::string out(url.substr(0, url.find('?')));
  const std::size_t authority = out.find("://");
  if (authority == std::string::npos) return out;
  const std::size_t at = out.find('@', authority + 3);
  const std::size_t slash = out.find('/', authority + 3);
  if (at == std::string::npos || (slash != std::string::npos && slash < at)) return out;
  const std::size_t colon = out.find(':', authority + 3);
  if (colon != std::string::npos && colon < at) out.replace(colon + 1, at - colon - 1, "***");
  return out;
}

bool IsSharedStoreUrl(std::string_view url) {
  return url.starts_with("postgres://") || url.starts_with("postgresql://");
}

Result<std::unique_ptr<Store>> OpenStore(std::string_view url, const Clock& clock) {
  return OpenStore(url, clock, StoreOptions{});
}

Result<std::unique_ptr<Store>> OpenStore(std::string_view url, const Clock& clock,
                                         const StoreOptions& options) {
  if (url.starts_with(kSqlitePrefix)) return OpenSqlite(url.substr(kSqlitePrefix.size()), clock);
  if (IsSharedStoreUrl(url)) return OpenPostgres(url, clock, options);
  const std::string_view scheme = SchemeOf(url);
  if (scheme.empty()) {
    return Error::Invalid("the store URL has no scheme; " + std::string(kAcceptedForms));
  }
  return Error::Invalid("unsupported store scheme '" + std::string(scheme) + "'; " +
                        std::string(kAcceptedForms));
}

}  // namespace webhookd
