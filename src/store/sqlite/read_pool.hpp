// Read-only connections for the store's reads. In WAL mode a reader sees the last commit and
// never waits for the writer, so reads run on the calling thread, each on a pooled connection
// of its own.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "store/sqlite/connection.hpp"

namespace webhookd::sqlite {

class ReadPool {
 public:
  // Idle connections kept open; more are opened under load and closed when returned.
  static constexpr std::size_t kMaxIdle = 8;

  explicit ReadPool(std::string path) : path_(std::move(path)) {}

  // A connection lent to one caller; returns to the pool when destroyed.
  class Lease {
   public:
    Lease(ReadPool* pool, std::unique_ptr<Connection> db) : pool_(pool), db_(std::move(db)) {}
    Lease(Lease&&) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    Connection& operator*() { return *db_; }
    Connection* operator->() { return db_.get(); }

   private:
    ReadPool* pool_;
    std::unique_ptr<Connection> db_;
  };

  Result<Lease> Acquire();

 private:
  void Return(std::unique_ptr<Connection> db);

  const std::string path_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_;  // guarded by mu_
};

}  // namespace webhookd::sqlite
