#include "store/postgres/connection.hpp"

#include <charconv>
#include <cstring>

#include "store/postgres/statements.hpp"

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
  if (statement.planning != Planning::kEachCall) {
    if (Status s = Prepare(statement, params.size()); !s.ok()) return s.error();
  }
  PGresult* raw =
      begin_pending_ ? ExecuteAfterBegin(statement, params) : Execute(statement, params);
  Rows rows(raw);
  const ExecStatusType status = PQresultStatus(raw);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) return ErrorOf(raw, statement.name);
  last_retryable_ = false;
  return rows;
}

PGresult* Connection::Execute(const Statement& statement, const Params& params) {
  const std::vector<const char*> values = params.Pointers();
  const std::vector<int> lengths = params.Lengths();
  if (statement.planning == Planning::kEachCall) {
    return PQexecParams(conn_, std::string(statement.sql).c_str(), params.size(),
                        /*paramTypes=*/nullptr, values.data(), lengths.data(),
                        params.formats().data(), /*resultFormat=*/0);
  }
  return PQexecPrepared(conn_, std::string(statement.name).c_str(), params.size(), values.data(),
                        lengths.data(), params.formats().data(), /*resultFormat=*/0);
}

bool Connection::Send(const Statement& statement, const Params& params) {
  const std::vector<const char*> values = params.Pointers();
  const std::vector<int> lengths = params.Lengths();
  if (statement.planning == Planning::kEachCall) {
    return PQsendQueryParams(conn_, std::string(statement.sql).c_str(), params.size(),
                             /*paramTypes=*/nullptr, values.data(), lengths.data(),
                             params.formats().data(), /*resultFormat=*/0) == 1;
  }
  return PQsendQueryPrepared(conn_, std::string(statement.name).c_str(), params.size(),
                             values.data(), lengths.data(), params.formats().data(),
                             /*resultFormat=*/0) == 1;
}

// BEGIN and `statement` in one pipeline, so one round trip. Returns the statement's result, or
// BEGIN's when BEGIN failed (the statement is then not run), or null when the connection failed
// (PQerrorMessage says why). Results are read up to the pipeline's sync, so that the connection
// leaves pipeline mode as it entered it; if it cannot, it is broken until Reset().
PGresult* Connection::ExecuteAfterBegin(const Statement& statement, const Params& params) {
  begin_pending_ = false;
  if (PQenterPipelineMode(conn_) != 1) return nullptr;
  const bool sent = PQsendQueryParams(conn_, std::string(kBegin).c_str(), 0, nullptr, nullptr,
                                      nullptr, nullptr, 0) == 1 &&
                    Send(statement, params) && PQpipelineSync(conn_) == 1;
  std::unique_ptr<PGresult, ResultDeleter> begin;
  std::unique_ptr<PGresult, ResultDeleter> result;
  // BEGIN's result and a null, the statement's and a null, then the sync: 5 reads when all
  // goes well; a lost connection ends with nulls.
  for (int reads = 0; sent && reads < 8; ++reads) {
    PGresult* next = PQgetResult(conn_);
    if (next == nullptr) {
      if (PQstatus(conn_) != CONNECTION_OK) break;
      continue;
    }
    if (PQresultStatus(next) == PGRES_PIPELINE_SYNC) {
      PQclear(next);
      break;
    }
    if (!begin) {
      begin.reset(next);
    } else if (!result) {
      result.reset(next);
    } else {
      PQclear(next);
    }
  }
  if (PQexitPipelineMode(conn_) != 1) broken_ = true;
  if (begin && PQresultStatus(begin.get()) != PGRES_COMMAND_OK) return begin.release();
  return result.release();
}

Status Connection::Exec(std::string_view sql) {
  if (Status s = SendHeldWrites(); !s.ok()) return s;
  // Several statements in one simple query run in one round trip.
  const std::string text =
      begin_pending_ ? std::string(kBegin) + "; " + std::string(sql) : std::string(sql);
  begin_pending_ = false;
  std::unique_ptr<PGresult, ResultDeleter> result(PQexec(conn_, text.c_str()));
  const ExecStatusType status = PQresultStatus(result.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) return ErrorOf(result.get(), "SQL");
  last_retryable_ = false;
  return Status::Ok();
}

bool Connection::Healthy() const { return !broken_ && PQstatus(conn_) == CONNECTION_OK; }

Status Connection::Reset() {
  prepared_.clear();
  begin_pending_ = false;
  broken_ = false;
  PQreset(conn_);
  if (PQpipelineStatus(conn_) != PQ_PIPELINE_OFF) (void)PQexitPipelineMode(conn_);
  if (!Healthy()) {
    return Error::Unavailable("cannot reconnect to PostgreSQL: " +
                              FirstLine(PQerrorMessage(conn_)));
  }
  return Exec("SET client_min_messages = warning");
}

bool Connection::InTransaction() const { return PQtransactionStatus(conn_) != PQTRANS_IDLE; }

}  // namespace webhookd::postgres
