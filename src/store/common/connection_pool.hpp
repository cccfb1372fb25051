// Connections for a store's reads, each lent to one caller at a time; reads run on the calling
// thread. Idle connections are kept (up to kMaxIdle), more are opened under load and closed when
// returned. The backend says how to open one and whether a returned one may be used again.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "core/result.hpp"

namespace webhookd::store_common {

template <class Connection>
class ConnectionPool {
 public:
  static constexpr std::size_t kMaxIdle = 8;

  using OpenFn = std::function<Result<std::unique_ptr<Connection>>()>;
  // False for a connection that must not be lent again (broken, or left inside a transaction).
  using ReusableFn = std::function<bool(Connection&)>;

  ConnectionPool(OpenFn open, ReusableFn reusable)
      : open_(std::move(open)), reusable_(std::move(reusable)) {}
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  // A connection lent to one caller; returns to the pool when destroyed.
  class Lease {
   public:
    Lease(ConnectionPool* pool, std::unique_ptr<Connection> db) : pool_(pool), db_(std::move(db)) {}
    Lease(Lease&&) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (db_ != nullptr) pool_->Return(std::move(db_));
    }
    Connection& operator*() { return *db_; }
    Connection* operator->() { return db_.get(); }

   private:
    ConnectionPool* pool_;
    std::unique_ptr<Connection> db_;
  };

  Result<Lease> Acquire() {
    {
      std::lock_guard lock(mu_);
      if (!idle_.empty()) {
        std::unique_ptr<Connection> db = std::move(idle_.back());
        idle_.pop_back();
        return Lease(this, std::move(db));
      }
    }
    Result<std::unique_ptr<Connection>> db = open_();
    if (!db.ok()) return db.error();
    return Lease(this, std::move(*db));
  }

 private:
  void Return(std::unique_ptr<Connection> db) {
    if (!reusable_(*db)) return;
    std::lock_guard lock(mu_);
    if (idle_.size() < kMaxIdle) idle_.push_back(std::move(db));
  }

  const OpenFn open_;
  const ReusableFn reusable_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_;  // guarded by mu_
};

}  // namespace webhookd::store_common
