#include "store/sqlite/connection.hpp"

#include <mutex>
#include <utility>

#include "store/sqlite/wal_write_buffer.hpp"

namespace webhookd::sqlite {
namespace {

// SQLite counts every allocation under one process-wide mutex by default (memory statistics
// that webhookd never reads); the writer allocates on every row, so it paid for that lock on
// each one, against the readers. Must run before SQLite initialises itself, hence once, here.
void ConfigureSqliteOnce() {
  static std::once_flag once;
  std::call_once(once, [] { (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); });
}

// Long enough to ride out another process's checkpoint; short enough that a stuck database
// turns into a 503 instead of a hung request.
constexpr int kBusyTimeoutMs = 5000;

bool IsUnavailable(int primary) {
  switch (primary) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_PROTOCOL:
    case SQLITE_NOMEM:
    case SQLITE_READONLY:
    case SQLITE_INTERRUPT:
      return true;
    default:
      return false;
  }
}

}  // namespace

Error ErrorFromCode(int code, sqlite3* db, std::string_view what) {
  std::string message(what);
  message += ": ";
  message += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(code);
  const int primary = code & 0xFF;
  if (primary == SQLITE_CONSTRAINT) return Error::Conflict(std::move(message));
  if (IsUnavailable(primary)) return Error::Unavailable(std::move(message));
  return Error::Internal(std::move(message));
}

Query::Query(Query&& other) noexcept
    : stmt_(std::exchange(other.stmt_, nullptr)), db_(other.db_), bind_error_(other.bind_error_) {}

Query::~Query() {
  if (stmt_ == nullptr) return;
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

void Query::Check(int code) {
  if (code != SQLITE_OK && bind_error_ == SQLITE_OK) bind_error_ = code;
}

Query& Query::BindInt(int index, std::int64_t value) {
  Check(sqlite3_bind_int64(stmt_, index, value));
  return *this;
}

Query& Query::BindText(int index, std::string_view value) {
  Check(
      sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
  return *this;
}

Query& Query::BindBlob(int index, std::string_view value) {
  Check(sqlite3_bind_blob64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT));
  return *this;
}

// The destructor's sqlite3_clear_bindings drops these pointers before the values may go.
Query& Query::BindTextView(int index, std::string_view value) {
  Check(sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_STATIC, SQLITE_UTF8));
  return *this;
}

Query& Query::BindBlobView(int index, std::string_view value) {
  Check(sqlite3_bind_blob64(stmt_, index, value.data(), value.size(), SQLITE_STATIC));
  return *this;
}

Query& Query::BindNull(int index) {
  Check(sqlite3_bind_null(stmt_, index));
  return *this;
}

Query& Query::BindOptionalInt(int index, const std::optional<std::int64_t>& value) {
  return value ? BindInt(index, *value) : BindNull(index);
}

Query& Query::BindOptionalText(int index, const std::optional<std::string>& value) {
  return value ? BindText(index, *value) : BindNull(index);
}

Result<bool> Query::Step() {
  if (bind_error_ != SQLITE_OK) return ErrorFromCode(bind_error_, db_, "binding parameters");
  const int code = sqlite3_step(stmt_);
  if (code == SQLITE_ROW) return true;
  if (code == SQLITE_DONE) return false;
  return ErrorFromCode(code, db_, "executing a statement");
}

Status Query::Run() {
  while (true) {
    Result<bool> row = Step();
    if (!row.ok()) return row.error();
    if (!*row) return Status::Ok();
  }
}

bool Query::IsNull(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }

std::int64_t Query::Int(int column) const { return sqlite3_column_int64(stmt_, column); }

std::string Query::Text(int column) const {
  const void* data = sqlite3_column_blob(stmt_, column);
  const int size = sqlite3_column_bytes(stmt_, column);
  if (data == nullptr || size <= 0) return {};
  return std::string(static_cast<const char*>(data), static_cast<std::size_t>(size));
}

Result<std::unique_ptr<Connection>> Connection::Open(const std::string& path, bool create,
                                                     WalWrites wal_writes) {
  ConfigureSqliteOnce();
  const char* vfs = wal_writes == WalWrites::kBuffered ? WalWriteBufferVfsName() : nullptr;
  sqlite3* db = nullptr;
  // NOMUTEX: a Connection is used by one thread at a time (the writer, or a pooled reader).
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
  const int code = sqlite3_open_v2(path.c_str(), &db, flags, vfs);
  if (code != SQLITE_OK) {
    Error error = ErrorFromCode(code, db, "opening SQLite database '" + path + "'");
    sqlite3_close_v2(db);
    return error;
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  return std::unique_ptr<Connection>(new Connection(db));
}

Connection::~Connection() {
  for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
  sqlite3_close_v2(db_);
}

Status Connection::Exec(std::string_view sql) {
  const std::string text(sql);
  const int code = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, nullptr);
  if (code != SQLITE_OK) return ErrorFromCode(code, db_, "executing SQL");
  return Status::Ok();
}

Result<Query> Connection::Prepare(std::string_view sql) {
  RecentStatement& recent = recent_[RecentSlot(sql.data())];
  if (recent.entry == nullptr || recent.sql != sql.data() || recent.entry->first != sql) {
    auto it = statements_.find(sql);
    if (it == statements_.end()) {
      sqlite3_stmt* stmt = nullptr;
      const int code = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                          SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
      if (code != SQLITE_OK) return ErrorFromCode(code, db_, "preparing a statement");
      it = statements_.emplace(std::string(sql), stmt).first;
    }
    recent = {sql.data(), &*it};
  }
  const auto& [text, stmt] = *recent.entry;
  if (sqlite3_stmt_busy(stmt)) return Error::Internal("statement used twice at once: " + text);
  return Query(stmt, db_);
}

Status Connection::Run(std::string_view sql) {
  Result<Query> query = Prepare(sql);
  if (!query.ok()) return query.error();
  return query->Run();
}

std::int64_t Connection::LastInsertId() const { return sqlite3_last_insert_rowid(db_); }

std::int64_t Connection::Changes() const { return sqlite3_changes64(db_); }

bool Connection::InAutocommit() const { return sqlite3_get_autocommit(db_) != 0; }

}  // namespace webhookd::sqlite
