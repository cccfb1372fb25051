#include "store/sqlite/writer.hpp"

#include "store/sqlite/statements.hpp"

namespace webhookd::sqlite {

Status WriterSession::Begin() { return db_->Run(kBeginImmediate); }

Status WriterSession::Savepoint() { return db_->Run(kSavepoint); }

Status WriterSession::ReleaseSavepoint() { return db_->Run(kReleaseSavepoint); }

Status WriterSession::RollbackToSavepoint() { return db_->Run(kRollbackToSavepoint); }

// The local work listener is told by the writer after the commit; there are no other nodes.
Status WriterSession::Commit(bool /*work_due*/) { return db_->Run(kCommit); }

bool WriterSession::Abandon() {
  if (!db_->InAutocommit()) (void)db_->Run(kRollback);
  return false;
}

}  // namespace webhookd::sqlite
