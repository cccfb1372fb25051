// A thin RAII layer over the SQLite C API: one Connection per thread of use, prepared
// statements cached per connection, SQLite result codes turned into webhookd Errors.
#pragma once

#include <sqlite3.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/result.hpp"

namespace webhookd::sqlite {

// SQLITE_BUSY/LOCKED and I/O-class failures -> kUnavailable, constraint violations ->
// kConflict, anything else -> kInternal. `what` names the operation for the message.
Error ErrorFromCode(int code, sqlite3* db, std::string_view what);

// One use of a cached prepared statement: bind, step, read columns. Parameters are 1-based,
// columns 0-based (as in SQLite). The destructor resets the statement for its next use, so a
// Query must not outlive the Connection that made it.
class Query {
 public:
  Query(sqlite3_stmt* stmt, sqlite3* db) : stmt_(stmt), db_(db) {}
  Query(Query&& other) noexcept;
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;
  Query& operator=(Query&&) = delete;
  ~Query();

  Query& BindInt(int index, std::int64_t value);
  Query& BindText(int index, std::string_view value);  // copied by SQLite
  Query& BindBlob(int index, std::string_view value);  // copied by SQLite
  // Not copied (SQLITE_STATIC): `value` must stay alive and unchanged until this Query is
  // destroyed. For the writer's hot statements, where each copy was a malloc, a memcpy and a
  // free per value (payloads, attempt records).
  Query& BindTextView(int index, std::string_view value);
  Query& BindBlobView(int index, std::string_view value);
  Query& BindNull(int index);
  Query& BindOptionalInt(int index, const std::optional<std::int64_t>& value);
  Query& BindOptionalText(int index, const std::optional<std::string>& value);

  // Advances to the next row: true when a row is available, false when done.
  Result<bool> Step();
  // Runs a statement that returns no rows (or ignores them) to completion.
  Status Run();

  bool IsNull(int column) const;
  std::int64_t Int(int column) const;
  std::string Text(int column) const;  // "" for NULL; also reads BLOBs byte for byte

 private:
  void Check(int code);

  sqlite3_stmt* stmt_;
  sqlite3* db_;
  int bind_error_ = SQLITE_OK;
};

class Connection {
 public:
  // kBuffered: the connection's WAL frames go to the file in blocks, before each sync
  // (wal_write_buffer.hpp); only for a connection that runs with synchronous=FULL.
  enum class WalWrites { kDirect, kBuffered };

  // Opens (creating if allowed) the database file and sets busy_timeout. Further pragmas are
  // the caller's business.
  static Result<std::unique_ptr<Connection>> Open(const std::string& path, bool create,
                                                  WalWrites wal_writes = WalWrites::kDirect);

  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  // Runs one or more statements that need no parameters (pragmas, migrations).
  Status Exec(std::string_view sql);
  // The cached prepared statement for `sql`, prepared on first use. Fails with kInternal if
  // that statement is already in use (a Query of it is still stepping).
  Result<Query> Prepare(std::string_view sql);
  // Prepare(sql) and Query::Run(): one cached statement that takes no parameters.
  Status Run(std::string_view sql);

  std::int64_t LastInsertId() const;
  std::int64_t Changes() const;
  // False while a transaction is open.
  bool InAutocommit() const;
  sqlite3* handle() const { return db_; }

 private:
  explicit Connection(sqlite3* db) : db_(db) {}

  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  using Statements = std::unordered_map<std::string, sqlite3_stmt*, StringHash, std::equal_to<>>;

  // Where Prepare looks first: the statement last prepared from a text at the same address
  // (a few of its bits pick the slot). Callers pass string constants, so this finds them
  // without hashing their text (about 440 instructions a lookup, four per delivered event in
  // the writer). The text is compared before the entry is trusted: a buffer freed and reused
  // may hold other SQL at the same address.
  struct RecentStatement {
    const char* sql = nullptr;
    const Statements::value_type* entry = nullptr;  // nodes of statements_ never move
  };
  static constexpr std::size_t kRecentSlots = 32;
  // One slot per 8 bytes of address: no statement's text is shorter.
  static std::size_t RecentSlot(const char* sql) {
    return (reinterpret_cast<std::uintptr_t>(sql) >> 3) % kRecentSlots;
  }

  sqlite3* db_;
  Statements statements_;
  std::array<RecentStatement, kRecentSlots> recent_{};
};

}  // namespace webhookd::sqlite
