#include "store/postgres/connection.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <optional>
#include <utility>

#include "store/postgres/statements.hpp"

namespace webhookd::postgres {
namespace {

// SQLSTATE classes: 23 integrity (23505 unique violation), 08 connection, 53 resources,
// 57 operator intervention (shutdown), 40 transaction rollback (deadlock, serialization); WH
// webhookd's own (statements.hpp).
ErrorKind KindOf(std::string_view sqlstate) {
  if (sqlstate == "23505" || sqlstate == kFanOutChangedState) return ErrorKind::kConflict;
  if (sqlstate == kDeliveryMissingState) return ErrorKind::kNotFound;
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

// PostgreSQL's type oids (pg_type.dat) of the array elements sent in binary.
constexpr std::uint32_t kTextOid = 25;
constexpr std::uint32_t kByteaOid = 17;

void AppendBigEndian(std::string& out, std::uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((value >> shift) & 0xff);
}

// array_recv's input: dimensions, a has-nulls flag, the element type, each dimension's length
// and lower bound, then each element as its length and bytes (textrecv and bytearecv take the
// bytes as they are). An empty array has no dimension.
std::string BinaryArray(const std::vector<std::string>& items, std::uint32_t element_oid) {
  std::size_t size = 20;
  for (const std::string& item : items) size += 4 + item.size();
  std::string out;
  out.reserve(size);
  AppendBigEndian(out, items.empty() ? 0 : 1);
  AppendBigEndian(out, 0);
  AppendBigEndian(out, element_oid);
  if (!items.empty()) {
    AppendBigEndian(out, static_cast<std::uint32_t>(items.size()));
    AppendBigEndian(out, 1);
  }
  for (const std::string& item : items) {
    AppendBigEndian(out, static_cast<std::uint32_t>(item.size()));
    out += item;
  }
  return out;
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

Params& Params::Bytes(std::string value) {
  values_.push_back(std::move(value));
  null_.push_back(false);
  formats_.push_back(1);
  return *this;
}

Params& Params::TextArray(const std::vector<std::string>& items) {
  return Bytes(BinaryArray(items, kTextOid));
}

Params& Params::BytesArray(const std::vector<std::string>& items) {
  return Bytes(BinaryArray(items, kByteaOid));
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
  if (begin_pending_ || !pipelined_.empty()) {
    const bool sent = SendToPipeline(statement, params);
    const Error unsent = sent ? Error{} : ErrorOf(nullptr, statement.name);
    Result<Rows> rows = FinishPipeline(/*last_is_write=*/false);
    if (!rows.ok() || sent) return rows;
    last_error_from_write_ = false;
    return unsent;
  }
  if (statement.planning != Planning::kEachCall) {
    if (Status s = Prepare(statement, params.size()); !s.ok()) return s.error();
  }
  PGresult* raw = Execute(statement, params);
  Rows rows(raw);
  last_error_from_write_ = false;
  const ExecStatusType status = PQresultStatus(raw);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) return ErrorOf(raw, statement.name);
  last_retryable_ = false;
  return rows;
}

Status Connection::Write(const Statement& statement, const Params& params) {
  if (!DefersWrites()) {
    Result<Rows> rows = Run(statement, params);
    return rows.ok() ? Status::Ok() : Status(rows.error());
  }
  if (Status s = SendHeldWrites(); !s.ok()) return s;
  if (SendToPipeline(statement, params)) return Status::Ok();
  const Error unsent = ErrorOf(nullptr, statement.name);
  (void)FinishPipeline(/*last_is_write=*/true);
  last_error_from_write_ = false;
  return unsent;
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

bool Connection::SendToPipeline(const Statement& statement, const Params& params) {
  if (PQpipelineStatus(conn_) == PQ_PIPELINE_OFF && PQenterPipelineMode(conn_) != 1) return false;
  if (begin_pending_) {
    begin_pending_ = false;
    if (PQsendQueryParams(conn_, std::string(kBegin).c_str(), 0, nullptr, nullptr, nullptr, nullptr,
                          0) != 1) {
      return false;
    }
    pipelined_.push_back({kBegin, false});
  }
  const auto being_prepared = [&](const Pipelined& p) {
    return p.prepare && p.name == statement.name;
  };
  if (statement.planning == Planning::kOnce && !prepared_.contains(statement.name) &&
      std::ranges::none_of(pipelined_, being_prepared)) {
    if (PQsendPrepare(conn_, std::string(statement.name).c_str(),
                      std::string(statement.sql).c_str(), params.size(), nullptr) != 1) {
      return false;
    }
    pipelined_.push_back({statement.name, true});
  }
  if (!Send(statement, params)) return false;
  pipelined_.push_back({statement.name, false});
  return true;
}

// After an error the server skips the rest of the pipeline (each skipped statement's result is
// PGRES_PIPELINE_ABORTED) up to the sync; a statement prepared in it counts as prepared only
// once its preparation's result says so.
Result<Rows> Connection::FinishPipeline(bool last_is_write) {
  const std::vector<Pipelined> owed = std::exchange(pipelined_, {});
  std::optional<Error> failed;
  std::unique_ptr<PGresult, ResultDeleter> last;
  std::size_t read = 0;
  last_error_from_write_ = false;
  if (PQpipelineStatus(conn_) != PQ_PIPELINE_OFF) {
    // Each result is followed by a null, and the sync's result comes last; a lost connection
    // ends with nulls.
    const std::size_t most_reads = PQpipelineSync(conn_) == 1 ? 2 * owed.size() + 4 : 0;
    for (std::size_t reads = 0; reads < most_reads; ++reads) {
      std::unique_ptr<PGresult, ResultDeleter> result(PQgetResult(conn_));
      if (!result) {
        if (PQstatus(conn_) != CONNECTION_OK) break;
        continue;
      }
      const ExecStatusType status = PQresultStatus(result.get());
      if (status == PGRES_PIPELINE_SYNC) break;
      if (read == owed.size()) continue;
      const Pipelined& of = owed[read++];
      if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
        if (of.prepare) prepared_.insert(of.name);
        last = std::move(result);
      } else if (status != PGRES_PIPELINE_ABORTED && !failed) {
        failed = ErrorOf(result.get(),
                         of.prepare ? "preparing " + std::string(of.name) : std::string(of.name));
        last_error_from_write_ = last_is_write || read < owed.size();
      }
    }
    if (PQexitPipelineMode(conn_) != 1) broken_ = true;
  }
  if (failed) return *failed;
  if (read < owed.size() || !last) {
    return ErrorOf(nullptr, owed.empty() ? std::string_view("pipeline") : owed.back().name);
  }
  last_retryable_ = false;
  return Rows(last.release());
}

Status Connection::Exec(std::string_view sql) {
  if (Status s = SendHeldWrites(); !s.ok()) return s;
  // A write that failed in the pipeline is the error to report, but the SQL runs all the same:
  // it may be the ROLLBACK that ends the transaction the failure left open.
  std::optional<Error> write_failed;
  if (!pipelined_.empty()) {
    Result<Rows> flushed = FinishPipeline(/*last_is_write=*/true);
    if (!flushed.ok()) write_failed = flushed.error();
  }
  // Several statements in one simple query run in one round trip.
  const std::string text =
      begin_pending_ ? std::string(kBegin) + "; " + std::string(sql) : std::string(sql);
  begin_pending_ = false;
  std::unique_ptr<PGresult, ResultDeleter> result(PQexec(conn_, text.c_str()));
  if (write_failed) {
    last_error_from_write_ = true;
    return *write_failed;
  }
  last_error_from_write_ = false;
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
  pipelined_.clear();
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
