#include "store/postgres/connection.hpp"

#include <charconv>
#include <cstring>

namespace webhookd::postgres {
namespace {

// SQLSTATE classes: 23 integrity (23505 unique violation), 08 connection, 53 resources,
// 57 operator intervention (shutdown), 40 transaction rollback (deadlock, serialization).
ErrorKind KindOf(std::string_view sqlstate) {
  if (sqlstate == "23505") return ErrorKind::kConflict;
  if (sqlstate.starts_with("08") || sqlstate.starts_with("53") || sqlstate.starts_with("57") ||
      sqlstate.starts_with("40")) {
    return ErrorKind::kUnavailable;
  }
  return ErrorKind::kInternal;
}

std::string FirstLine(const char* text) {
  std::string line = text == nullptr ? "" : text;
  if (const std::size_t end = line.find('\n'); end != std::string::npos) line.resize(end);
  return line;
}

}  // namespace

Params& Params::Int(std::int64_t value) { return Text(std::to_string(value)); }
Params& Params::Bool(bool value) { return Text(value ? "t" : "f"); }

Params& Params::Text(std::string_view value) {
  values_.emplace_back(value);
  null_.push_back(false);
  formats_.push_back(0);
  return *this;
}

Params& Params::Bytes(std::string_view value) {
  values_.emplace_back(value);
  null_.push_back(false);
  formats_.push_back(1);
  return *this;
}

Params& Params::Null() {
  values_.emplace_back();
  null_.push_back(true);
  formats_.push_back(0);
  return *this;
}

Params& Params::OptInt(const std::optional<std::int64_t>& value) {
  return value ? Int(*value) : Null();
}

Params& Params::OptText(const std::optional<std::string>& value) {
  return value ? Text(*value) : Null();
}

std::vector<const char*> Params::Pointers() const {
  std::vector<const char*> out;
  out.reserve(values_.size());
  for (std::size_t i = 0; i < values_.size(); ++i) {
    out.push_back(null_[i] ? nullptr : values_[i].data());
  }
  return out;
}

std::vector<int> Params::Lengths() const {
  std::vector<int> out;
  out.reserve(values_.size());
  for (const std::string& v : values_) out.push_back(static_cast<int>(v.size()));
  return out;
}

std::string ArrayLiteral(const std::vector<std::string>& items) {
  std::size_t size = 2;
  for (const std::string& item : items) size += item.size() + 3;
  std::string out;
  out.reserve(size);
  out += '{';
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ',';
    out += '"';
    // Copies the runs between quotes and backslashes whole: items may be whole payloads.
    std::string_view rest = items[i];
    for (std::size_t special; (special = rest.find_first_of("\"\\")) != rest.npos;) {
      out.append(rest.substr(0, special));
      out += '\\';
      out += rest[special];
      rest.remove_prefix(special + 1);
    }
    out.append(rest);
    out += '"';
  }
  out += '}';
  return out;
}

std::string ByteaHex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out = "\\x";
  out.reserve(2 + bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 0xf];
  }
  return out;
}

std::int64_t Rows::Int(int row, int column) const {
  if (IsNull(row, column)) return 0;
  const char* text = PQgetvalue(result_.get(), row, column);
  std::int64_t value = 0;
  std::from_chars(text, text + std::strlen(text), value);
  return value;
}

bool Rows::Bool(int row, int column) const {
  return !IsNull(row, column) && PQgetvalue(result_.get(), row, column)[0] == 't';
}

std::string Rows::Text(int row, int column) const {
  if (IsNull(row, column)) return {};
  return std::string(PQgetvalue(result_.get(), row, column),
                     static_cast<std::size_t>(PQgetlength(result_.get(), row, column)));
}

std::string Rows::Bytes(int row, int column) const {
  if (IsNull(row, column)) return {};
  std::size_t length = 0;
  unsigned char* raw = PQunescapeBytea(
      reinterpret_cast<const unsigned char*>(PQgetvalue(result_.get(), row, column)), &length);
  if (raw == nullptr) return {};
  std::string out(reinterpret_cast<const char*>(raw), length);
  PQfreemem(raw);
  return out;
}

std::int64_t Rows::Affected() const {
  const char* text = PQcmdTuples(result_.get());
  std::int64_t value = 0;
  std::from_chars(text, text + std::strlen(text), value);
  return value;
}

Result<std::unique_ptr<Connection>> Connection::Open(const std::string& conninfo) {
  PGconn* conn = PQconnectdb(conninfo.c_str());
  if (conn == nullptr) return Error::Unavailable("cannot allocate a PostgreSQL connection");
  if (PQstatus(conn) != CONNECTION_OK) {
    Error error =
        Error::Unavailable("cannot connect to PostgreSQL: " + FirstLine(PQerrorMessage(conn)));
    PQfinish(conn);
    return error;
  }
  auto connection = std::unique_ptr<Connection>(new Connection(conn));
  // Times are Unix milliseconds in BIGINT columns, so the session time zone does not matter;
  // notices (e.g. "relation already exists, skipping") are not errors.
  if (Status s = connection->Exec("SET client_min_messages = warning"); !s.ok()) return s.error();
  return connection;
}

Connection::~Connection() { PQfinish(conn_); }

Error Connection::ErrorOf(const PGresult* result, std::string_view what) {
  const char* state = result == nullptr ? nullptr : PQresultErrorField(result, PG_DIAG_SQLSTATE);
  const std::string sqlstate = state == nullptr ? "" : state;
  last_retryable_ = sqlstate == "40P01" || sqlstate == "40001";
  const char* message = result == nullptr ? PQerrorMessage(conn_)
                                          : PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY);
  if (message == nullptr) message = PQerrorMessage(conn_);
  ErrorKind kind = sqlstate.empty() ? ErrorKind::kUnavailable : KindOf(sqlstate);
  if (PQstatus(conn_) != CONNECTION_OK) kind = ErrorKind::kUnavailable;
  return Error{kind, std::string(what) + ": " + FirstLine(message), {}};
}

Status Connection::Prepare(const Statement& statement, int param_count) {
  if (prepared_.contains(statement.name)) return Status::Ok();
  std::unique_ptr<PGresult, ResultDeleter> result(
      PQprepare(conn_, std::string(statement.name).c_str(), std::string(statement.sql).c_str(),
                param_count, nullptr));
  if (PQresultStatus(result.get()) != PGRES_COMMAND_OK) {
    return ErrorOf(result.get(), "preparing " + std::string(statement.name));
  }
  prepared_.insert(statement.name);
  return Status::Ok();
}

Status Connection::SendHeldWrites() {
  if (held_ == nullptr || held_->empty()) return Status::Ok();
  return held_->Send(*this);
}

Result<Rows> Connection::Run(const Statement& statement, const Params& params) {
  if (Status s = SendHeldWrites(); !s.ok()) return s.error();
  const std::vector<const char*> values = params.Pointers();
  const std::vector<int> lengths = params.Lengths();
  PGresult* raw = nullptr;
  if (statement.planning == Planning::kEachCall) {
    raw = PQexecParams(conn_, std::string(statement.sql).c_str(), params.size(),
                       /*paramTypes=*/nullptr, values.data(), lengths.data(),
                       params.formats().data(), /*resultFormat=*/0);
  } else {
    if (Status s = Prepare(statement, params.size()); !s.ok()) return s.error();
    raw = PQexecPrepared(conn_, std::string(statement.name).c_str(), params.size(), values.data(),
                         lengths.data(), params.formats().data(), /*resultFormat=*/0);
  }
  Rows rows(raw);
  const ExecStatusType status = PQresultStatus(raw);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    return ErrorOf(raw, statement.name);
  }
  last_retryable_ = false;
  return rows;
}

Status Connection::Exec(std::string_view sql) {
  if (Status s = SendHeldWrites(); !s.ok()) return s;
  std::unique_ptr<PGresult, ResultDeleter> result(PQexec(conn_, std::string(sql).c_str()));
  const ExecStatusType status = PQresultStatus(result.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) return ErrorOf(result.get(), "SQL");
  last_retryable_ = false;
  return Status::Ok();
}

bool Connection::Healthy() const { return PQstatus(conn_) == CONNECTION_OK; }

Status Connection::Reset() {
  prepared_.clear();
  PQreset(conn_);
  if (!Healthy()) {
    return Error::Unavailable("cannot reconnect to PostgreSQL: " +
                              FirstLine(PQerrorMessage(conn_)));
  }
  return Exec("SET client_min_messages = warning");
}

bool Connection::InTransaction() const { return PQtransactionStatus(conn_) != PQTRANS_IDLE; }

}  // namespace webhookd::postgres
