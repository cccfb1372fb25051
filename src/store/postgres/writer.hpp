// The PostgreSQL side of group commit (store/common/group_commit.hpp). Two differences from
// SQLite: several writer threads, each with its own connection, may commit batches at once
// (PostgreSQL has row locks, not one database lock); and a batch that hits a deadlock or
// serialization failure (possible between nodes) is run again from the start. A batch that made
// work due also NOTIFYs the other nodes, inside its transaction, so they hear of it only if it
// commits.
#pragma once

#include <memory>
#include <string>

#include "core/result.hpp"
#include "store/common/group_commit.hpp"
#include "store/postgres/connection.hpp"
#include "store/postgres/event_batch.hpp"

namespace webhookd::postgres {

class WriterSession {
 public:
  using Connection = postgres::Connection;
  // A batch that deadlocked is run again at most this many times in all.
  static constexpr int kMaxBatchRuns = 4;

  // `notify_payload` is sent with NOTIFY by a batch that made work due.
  // `node_id` leases the deliveries that a batch's events hand off (EventBatch).
  WriterSession(std::unique_ptr<Connection> db, std::string notify_payload, std::string node_id)
      : db_(std::move(db)),
        notify_payload_(std::move(notify_payload)),
        held_events_(std::move(node_id)) {}

  Connection& db() { return *db_; }
  // Reconnects a broken connection first; if that fails the batch fails (kUnavailable) and
  // the next one tries again.
  Status Begin();
  Status Savepoint();
  Status ReleaseSavepoint();
  Status RollbackToSavepoint();
  // A lost connection or a deadlock takes the whole transaction with it.
  bool TransactionLost() { return !db_->Healthy() || db_->LastErrorRetryable(); }
  // Sends the batch's writes still in the pipeline (Connection::Write) with the COMMIT: one
  // round trip for them all.
  Status Commit(bool work_due);
  // The last Commit failed in one of those writes, not in the COMMIT.
  bool FailedBeforeCommit() const { return db_->LastErrorFromWrite(); }
  bool Abandon();
  // While on, ingested events are held (EventBatch) and go to the server together, and writes
  // whose rows are not needed go without waiting for their answer (Connection::Write); off
  // drops whatever is held.
  void HoldWrites(bool on);
  Status SendHeldWrites() { return db_->SendHeldWrites(); }

 private:
  std::unique_ptr<Connection> db_;
  const std::string notify_payload_;
  EventBatch held_events_;
};

using WriteContext = store_common::WriteContext<Connection>;
using Writer = store_common::GroupCommitWriter<WriterSession>;

}  // namespace webhookd::postgres
