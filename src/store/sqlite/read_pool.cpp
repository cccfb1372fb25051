#include "store/sqlite/read_pool.hpp"

#include "store/sqlite/statements.hpp"

namespace webhookd::sqlite {

ReadPool::Lease::~Lease() {
  if (db_ != nullptr) pool_->Return(std::move(db_));
}

Result<ReadPool::Lease> ReadPool::Acquire() {
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      std::unique_ptr<Connection> db = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(db));
    }
  }
  Result<std::unique_ptr<Connection>> db = Connection::Open(path_, /*create=*/false);
  if (!db.ok()) return db.error();
  if (Status s = (*db)->Exec(kReaderPragmas); !s.ok()) return s.error();
  return Lease(this, std::move(*db));
}

void ReadPool::Return(std::unique_ptr<Connection> db) {
  std::lock_guard lock(mu_);
  // A connection left inside a transaction by a failed read would pin an old snapshot.
  if (idle_.size() < kMaxIdle && db->InAutocommit()) idle_.push_back(std::move(db));
}

}  // namespace webhookd::sqlite
