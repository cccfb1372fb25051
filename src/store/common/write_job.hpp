// A write job of the group-commit writer (group_commit.hpp): a caller's function that runs on a
// writer thread inside its own savepoint, and the future the caller waits on.
#pragma once

#include <functional>
#include <future>
#include <optional>
#include <utility>

#include "core/result.hpp"

namespace webhookd::store_common {

// What a write job sees while it runs on a writer thread.
template <class Connection>
class WriteContext {
 public:
  explicit WriteContext(Connection& db) : db_(db) {}
  Connection& db() { return db_; }
  // Asks for the work listener to be told after the commit, if this job's writes commit.
  void MarkWorkDue() { work_due_ = true; }
  bool work_due() const { return work_due_; }

 private:
  Connection& db_;
  bool work_due_ = false;
};

template <class Connection>
class WriteJob {
 public:
  virtual ~WriteJob() = default;
  // Runs on a writer thread inside a savepoint; an error rolls back this job alone. May run
  // more than once when a backend re-runs a batch (a deadlock); the last run counts.
  virtual Status Run(WriteContext<Connection>& context) = 0;
  // Called once with the batch's outcome: ok if the transaction committed (the job's own
  // result stands), otherwise the error that undid it.
  virtual void Complete(const Status& batch) = 0;
};

// R is Status or Result<T>. The caller waits on the future, so the function may capture the
// caller's arguments by reference.
template <class Connection, class R>
class FunctionJob final : public WriteJob<Connection> {
 public:
  using Function = std::function<R(WriteContext<Connection>&)>;

  explicit FunctionJob(Function fn) : fn_(std::move(fn)) {}

  std::future<R> future() { return promise_.get_future(); }

  Status Run(WriteContext<Connection>& context) override {
    result_.emplace(fn_(context));
    if (result_->ok()) return Status::Ok();
    return result_->error();
  }

  void Complete(const Status& batch) override {
    if (!batch.ok()) {
      promise_.set_value(R(batch.error()));
    } else if (result_) {
      promise_.set_value(std::move(*result_));
    } else {
      promise_.set_value(R(Error::Internal("write job failed without a result")));
    }
  }

 private:
  Function fn_;
  std::optional<R> result_;
  std::promise<R> promise_;
};

}  // namespace webhookd::store_common
