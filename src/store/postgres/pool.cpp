#include "store/postgres/pool.hpp"

namespace webhookd::postgres {

ConnectionPool::Lease::~Lease() {
  if (db_ != nullptr && pool_ != nullptr) pool_->Return(std::move(db_));
}

Result<ConnectionPool::Lease> ConnectionPool::Acquire() {
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      std::unique_ptr<Connection> db = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(db));
    }
  }
  Result<std::unique_ptr<Connection>> db = Connection::Open(conninfo_);
  if (!db.ok()) return db.error();
  return Lease(this, std::move(*db));
}

void ConnectionPool::Return(std::unique_ptr<Connection> db) {
  if (!db->Healthy() || db->InTransaction()) return;
  std::lock_guard lock(mu_);
  if (idle_.size() < kMaxIdle) idle_.push_back(std::move(db));
}

}  // namespace webhookd::postgres
