// Connections for the store's reads, each lent to one caller at a time. Autocommit: every
// read sees the last commit of any node.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "store/postgres/connection.hpp"

namespace webhookd::postgres {

class ConnectionPool {
 public:
  // Idle connections kept open; more are opened under load and closed when returned.
  static constexpr std::size_t kMaxIdle = 8;

  explicit ConnectionPool(std::string conninfo) : conninfo_(std::move(conninfo)) {}

  // A connection lent to one caller; returns to the pool when destroyed (a broken one is
  // closed instead).
  class Lease {
   public:
    Lease(ConnectionPool* pool, std::unique_ptr<Connection> db) : pool_(pool), db_(std::move(db)) {}
    Lease(Lease&&) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    Connection& operator*() { return *db_; }
    Connection* operator->() { return db_.get(); }

   private:
    ConnectionPool* pool_;
    std::unique_ptr<Connection> db_;
  };

  Result<Lease> Acquire();

 private:
  void Return(std::unique_ptr<Connection> db);

  const std::string conninfo_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_;  // guarded by mu_
};

}  // namespace webhookd::postgres
