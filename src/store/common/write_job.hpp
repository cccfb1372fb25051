// A write job of the group-commit writer (group_commit.hpp): a caller's function that runs on a
// writer thread inside the batch's transaction, and what is told its result after the commit.
#pragma once

#include <functional>
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
  // Asks that this job's error fail its whole group (the jobs one caller queued together): the
  // group's writes are undone, its later jobs do not run, and every job completes with this
  // job's error. Only meaningful when the job fails.
  void FailGroup() { fails_group_ = true; }
  bool fails_group() const { return fails_group_; }

 private:
  Connection& db_;
  bool work_due_ = false;
  bool fails_group_ = false;
};

template <class Connection>
class WriteJob {
 public:
  virtual ~WriteJob() = default;
  // Runs on a writer thread inside the batch's transaction; an error rolls back this job alone
  // (the writer runs the batch again with a savepoint per job). May run more than once: after
  // another job's failure, or when a backend re-runs a batch (a deadlock); the last run counts.
  virtual Status Run(WriteContext<Connection>& context) = 0;
  // Called once with the outcome: ok if the transaction committed (the job's own result
  // stands), otherwise the error that undid it (the batch's, or its group's, see FailGroup).
  virtual void Complete(const Status& outcome) = 0;
};

// R is Status or Result<T>. `on_complete` gets the job's result once the batch has ended (on the
// writer's completer thread, or on the caller's when the writer is closing); it must not block.
template <class Connection, class R>
class CallbackJob final : public WriteJob<Connection> {
 public:
  using Function = std::function<R(WriteContext<Connection>&)>;
  using OnComplete = std::function<void(R)>;

  CallbackJob(Function fn, OnComplete on_complete)
      : fn_(std::move(fn)), on_complete_(std::move(on_complete)) {}

  Status Run(WriteContext<Connection>& context) override {
    result_.emplace(fn_(context));
    if (result_->ok()) return Status::Ok();
    return result_->error();
  }

  void Complete(const Status& outcome) override { on_complete_(Outcome(outcome)); }

 private:
  R Outcome(const Status& outcome) {
    if (!outcome.ok()) return R(outcome.error());
    if (result_) return std::move(*result_);
    return R(Error::Internal("write job failed without a result"));
  }

  Function fn_;
  OnComplete on_complete_;
  std::optional<R> result_;
};

}  // namespace webhookd::store_common
