#include "store/sqlite/writer.hpp"

#include "store/sqlite/statements.hpp"

namespace webhookd::sqlite {

Status WriterSession::Begin() {
  if (Status s = db_->Run(kBeginImmediate); !s.ok()) return s;
  return fan_outs_.CheckOtherWriters(*db_);
}

Status WriterSession::Savepoint() { return db_->Run(kSavepoint); }

Status WriterSession::ReleaseSavepoint() { return db_->Run(kReleaseSavepoint); }

Status WriterSession::RollbackToSavepoint() {
  fan_outs_.Forget();
  return db_->Run(kRollbackToSavepoint);
}

// The local work listener is told by the writer after the commit; there are no other nodes.
Status WriterSession::Commit(bool /*work_due*/) { return db_->Run(kCommit); }

bool WriterSession::Abandon() {
  fan_outs_.Forget();
  if (!db_->InAutocommit()) (void)db_->Run(kRollback);
  return false;
}

}  // namespace webhookd::sqlite
