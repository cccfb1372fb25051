// A thin RAII layer over libpq: one Connection per thread of use, statements prepared once per
// connection (on first use) and run with text parameters, results read as text, SQLSTATEs turned
// into webhookd Errors.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "core/result.hpp"

namespace webhookd::postgres {

// How often the server plans a statement. Once (prepared on first use) saves planning on every
// call, but the plan may be made while a table is empty and kept as it grows; a statement whose
// best plan depends on its arguments' size or the table's is planned with each call's values.
enum class Planning { kOnce, kEachCall };

// A named SQL statement with $n parameters (see statements.hpp).
struct Statement {
  std::string_view name;
  std::string_view sql;
  Planning planning = Planning::kOnce;
};

// Parameters of one statement, in order ($1, $2, ...). Everything is sent as text except
// Bytes, which is sent as binary (bytea, any bytes).
class Params {
 public:
  Params& Int(std::int64_t value);
  Params& Bool(bool value);
  Params& Text(std::string_view value);
  Params& Bytes(std::string value);
  // A text[] or bytea[] parameter in PostgreSQL's binary array form: each item's bytes as they
  // are, where the text form ({"a","b"}, "\\x..." for bytes) would be escaped here and parsed
  // again by the server, a cost that grows with every byte of a batch's payloads.
  Params& TextArray(const std::vector<std::string>& items);
  Params& BytesArray(const std::vector<std::string>& items);
  Params& Null();
  Params& OptInt(const std::optional<std::int64_t>& value);
  Params& OptText(const std::optional<std::string>& value);

  int size() const { return static_cast<int>(values_.size()); }
  std::vector<const char*> Pointers() const;
  std::vector<int> Lengths() const;
  const std::vector<int>& formats() const { return formats_; }

 private:
  std::vector<std::string> values_;
  std::vector<bool> null_;
  std::vector<int> formats_;
};

// The text literal of a PostgreSQL array of `items` ({"a","b"}), for $n::bigint[] and the like.
std::string ArrayLiteral(const std::vector<std::string>& items);

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};

// Rows of one statement. Columns are 0-based and read as text.
class Rows {
 public:
  explicit Rows(PGresult* result) : result_(result) {}
  int size() const { return PQntuples(result_.get()); }
  bool IsNull(int row, int column) const { return PQgetisnull(result_.get(), row, column) != 0; }
  std::int64_t Int(int row, int column) const;  // 0 for NULL
  bool Bool(int row, int column) const;
  std::string Text(int row, int column) const;   // "" for NULL
  std::string Bytes(int row, int column) const;  // a bytea column, decoded
  // Rows changed by an INSERT/UPDATE/DELETE.
  std::int64_t Affected() const;

 private:
  std::unique_ptr<PGresult, ResultDeleter> result_;
};

class Connection;

// Writes held back so that many rows go to the server in one statement (the writer's batches,
// writer.hpp). A connection holding some sends them before any other statement it runs, so
// that the statements still reach the server in the order they were made.
class HeldWrites {
 public:
  virtual ~HeldWrites() = default;
  virtual bool empty() const = 0;
  // Sends what is held on `db`; empty() afterwards, whatever the outcome.
  virtual Status Send(Connection& db) = 0;
};

class Connection {
 public:
  // Connects with `conninfo` (a postgres:// URL or key=value string). Never logs it.
  static Result<std::unique_ptr<Connection>> Open(const std::string& conninfo);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs `statement` (prepared on this connection the first time, unless planned on each call)
  // with `params`. Statements still in the pipeline (Write) go in the same round trip, and the
  // first of them that failed is the error returned.
  Result<Rows> Run(const Statement& statement, const Params& params = {});
  // A statement whose rows are not needed. While the connection holds writes (HoldWrites), it
  // is sent without waiting for its result: it travels with the statements after it, in one
  // pipeline, up to the next Run or Exec, which reads its result and reports its failure
  // (LastErrorFromWrite). Otherwise it simply runs.
  Status Write(const Statement& statement, const Params& params = {});
  // Write sends without waiting now.
  bool DefersWrites() const { return held_ != nullptr; }
  // The last error came from a Write still in the pipeline, not from the Run or Exec that read
  // it.
  bool LastErrorFromWrite() const { return last_error_from_write_; }
  // Runs parameterless SQL text, possibly several statements (transactions, migrations).
  Status Exec(std::string_view sql);
  // False once the connection is broken; Reset() then tries to reconnect.
  bool Healthy() const;
  Status Reset();
  // True while a transaction is open (or failed and not yet ended).
  bool InTransaction() const;
  // The last failure was a deadlock or serialization failure: the whole transaction may
  // simply be run again.
  bool LastErrorRetryable() const { return last_retryable_; }
  PGconn* handle() const { return conn_; }
  // While `writes` is set (null: none), Run, Write and Exec send it first when it holds
  // anything.
  void HoldWrites(HeldWrites* writes) { held_ = writes; }
  HeldWrites* held_writes() const { return held_; }
  // Sends what is held now, if anything.
  Status SendHeldWrites();
  // Opens a transaction with the next Run, Write or Exec: BEGIN goes in the same round trip as
  // that command instead of one of its own. Until then nothing is sent and InTransaction() is
  // false; DropPendingBegin() forgets it (nothing to roll back).
  void BeginWithNextCommand() { begin_pending_ = true; }
  bool BeginPending() const { return begin_pending_; }
  void DropPendingBegin() { begin_pending_ = false; }

 private:
  explicit Connection(PGconn* conn) : conn_(conn) {}
  Status Prepare(const Statement& statement, int param_count);
  PGresult* Execute(const Statement& statement, const Params& params);
  bool Send(const Statement& statement, const Params& params);
  // Adds `statement` to the pipeline (entered if need be), after BEGIN if one is pending and
  // after its own preparation if it is not yet prepared.
  bool SendToPipeline(const Statement& statement, const Params& params);
  // Ends the pipeline with a sync and reads every result in it: the last one's, or the first
  // error (from a Write unless it is the last result's and `last_is_write` is false). The
  // connection leaves pipeline mode, or is broken until Reset() if it cannot.
  Result<Rows> FinishPipeline(bool last_is_write);
  Error ErrorOf(const PGresult* result, std::string_view what);

  // A result the open pipeline still owes: the statement it comes from, and whether it is that
  // statement's preparation.
  struct Pipelined {
    std::string_view name;
    bool prepare = false;
  };

  PGconn* conn_;
  std::unordered_set<std::string_view> prepared_;
  bool last_retryable_ = false;
  bool last_error_from_write_ = false;
  bool begin_pending_ = false;
  std::vector<Pipelined> pipelined_;
  // Pipeline mode could not be left (results the connection lost): unusable until Reset().
  bool broken_ = false;
  HeldWrites* held_ = nullptr;
};

}  // namespace webhookd::postgres
