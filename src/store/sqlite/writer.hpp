// The SQLite side of group commit (store/common/group_commit.hpp): ONE writer thread owns the
// only write connection, since SQLite allows one writer at a time anyway. Each batch is one
// BEGIN IMMEDIATE ... COMMIT: one fsync for the whole batch under synchronous=FULL. A failed
// batch is never run again: with a single writer there is no deadlock to wait out.
#pragma once

#include <memory>

#include "core/result.hpp"
#include "store/common/group_commit.hpp"
#include "store/sqlite/connection.hpp"
#include "store/sqlite/fan_out_memo.hpp"

namespace webhookd::sqlite {

class WriterSession {
 public:
  using Connection = sqlite::Connection;
  static constexpr int kMaxBatchRuns = 1;

  // Takes the write connection (pragmas and migrations already applied), which `fan_outs`
  // watches (FanOutMemo::Watch); `fan_outs` must outlive the session.
  WriterSession(std::unique_ptr<Connection> db, FanOutMemo& fan_outs)
      : db_(std::move(db)), fan_outs_(fan_outs) {}

  Connection& db() { return *db_; }
  Status Begin();
  Status Savepoint();
  Status ReleaseSavepoint();
  Status RollbackToSavepoint();
  // Some errors (I/O, disk full) make SQLite roll back the whole transaction on its own.
  bool TransactionLost() { return db_->InAutocommit(); }
  Status Commit(bool work_due);
  // Nothing is sent with the COMMIT: its failure is its own.
  bool FailedBeforeCommit() const { return false; }
  bool Abandon();
  // SQLite runs each statement in-process: nothing is worth holding back.
  void HoldWrites(bool) {}
  Status SendHeldWrites() { return Status::Ok(); }

 private:
  std::unique_ptr<Connection> db_;
  FanOutMemo& fan_outs_;
};

using WriteContext = store_common::WriteContext<Connection>;
using Writer = store_common::GroupCommitWriter<WriterSession>;

}  // namespace webhookd::sqlite
