#include "store/postgres/writer.hpp"

#include "store/postgres/statements.hpp"

namespace webhookd::postgres {

Status WriterSession::Begin() {
  if (!db_->Healthy()) {
    if (Status s = db_->Reset(); !s.ok()) return s;
  }
  db_->BeginWithNextCommand();
  return Status::Ok();
}

Status WriterSession::Savepoint() { return db_->Exec(kSavepoint); }

Status WriterSession::ReleaseSavepoint() { return db_->Exec(kReleaseSavepoint); }

Status WriterSession::RollbackToSavepoint() { return db_->Exec(kRollbackToSavepoint); }

Status WriterSession::Commit(bool work_due) {
  if (work_due) {
    // Delivered to the listening nodes when (and only if) this transaction commits.
    if (Status s = db_->Write(kNotifyWork, Params().Text(notify_payload_)); !s.ok()) return s;
  }
  if (Status s = db_->SendHeldWrites(); !s.ok()) return s;
  if (db_->BeginPending()) {  // nothing was sent: there is no transaction to commit
    db_->DropPendingBegin();
    return Status::Ok();
  }
  // With the writes still in the pipeline, whose failure stops the COMMIT.
  Result<Rows> committed = db_->Run(kCommitWrites);
  return committed.ok() ? Status::Ok() : Status(committed.error());
}

void WriterSession::HoldWrites(bool on) {
  held_events_.Clear();
  db_->HoldWrites(on ? &held_events_ : nullptr);
}

bool WriterSession::Abandon() {
  // Read before the ROLLBACK clears it.
  const bool retryable = db_->LastErrorRetryable();
  db_->DropPendingBegin();
  if (db_->Healthy() && db_->InTransaction()) (void)db_->Exec(kRollback);
  return retryable;
}

}  // namespace webhookd::postgres
