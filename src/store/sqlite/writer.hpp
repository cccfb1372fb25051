// Group commit: one thread owns the write connection and runs every write of the store.
// It takes all queued jobs (up to kMaxJobsPerBatch), runs them in ONE transaction, each in its
// own savepoint so that a failing job rolls back alone, commits once (one fsync for the whole
// batch under synchronous=FULL), then completes every caller's future.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "core/result.hpp"
#include "store/sqlite/connection.hpp"

namespace webhookd::sqlite {

// What a write job sees while it runs on the writer thread.
class WriteContext {
 public:
  explicit WriteContext(Connection& db) : db_(db) {}
  Connection& db() { return db_; }
  // Asks for the work listener to be called after the commit (if this job's writes commit).
  void MarkWorkDue() { work_due_ = true; }
  bool work_due() const { return work_due_; }

 private:
  Connection& db_;
  bool work_due_ = false;
};

class WriteJob {
 public:
  virtual ~WriteJob() = default;
  // Runs on the writer thread inside a savepoint; an error rolls back this job alone.
  virtual Status Run(WriteContext& context) = 0;
  // Called once with the batch's outcome: ok if the transaction committed (the job's own
  // result stands), otherwise the error that undid it.
  virtual void Complete(const Status& batch) = 0;
};

// R is Status or Result<T>. The job's function runs on the writer thread; the caller waits on
// the future, so the function may capture the caller's arguments by reference.
template <class R>
class FunctionJob final : public WriteJob {
 public:
  explicit FunctionJob(std::function<R(WriteContext&)> fn) : fn_(std::move(fn)) {}

  std::future<R> future() { return promise_.get_future(); }

  Status Run(WriteContext& context) override {
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
  std::function<R(WriteContext&)> fn_;
  std::optional<R> result_;
  std::promise<R> promise_;
};

class Writer {
 public:
  // Enough to amortize one fsync over a burst of requests, small enough that a batch's
  // transaction stays short.
  static constexpr std::size_t kMaxJobsPerBatch = 256;

  // Takes ownership of the write connection (pragmas and migrations already applied).
  // `on_work_due` is called on the writer thread after a commit that contained a job which
  // called MarkWorkDue().
  Writer(std::unique_ptr<Connection> db, std::function<void()> on_work_due);
  // Runs every job already queued, then closes the connection.
  ~Writer();
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // Runs `fn` in the next batch and waits for the batch's commit.
  template <class R>
  R Run(std::function<R(WriteContext&)> fn) {
    std::vector<std::function<R(WriteContext&)>> fns;
    fns.push_back(std::move(fn));
    return std::move(RunAll<R>(std::move(fns)).front());
  }

  // Runs every function in the same batch (each in its own savepoint), in order, and waits.
  template <class R>
  std::vector<R> RunAll(std::vector<std::function<R(WriteContext&)>> fns) {
    if (fns.empty()) return {};
    Group group;
    std::vector<std::future<R>> futures;
    for (auto& fn : fns) {
      auto job = std::make_unique<FunctionJob<R>>(std::move(fn));
      futures.push_back(job->future());
      group.push_back(std::move(job));
    }
    Enqueue(std::move(group));
    std::vector<R> results;
    results.reserve(futures.size());
    for (auto& future : futures) results.push_back(future.get());
    return results;
  }

 private:
  using Group = std::vector<std::unique_ptr<WriteJob>>;

  void Enqueue(Group group);
  void Loop();
  std::vector<Group> TakeBatch(std::unique_lock<std::mutex>& lock);
  void ExecuteBatch(std::vector<Group>& batch);
  // Runs one job in its savepoint. Returns a non-ok Status only if the whole transaction is
  // lost (the job's own failure is kept in the job).
  Status RunInSavepoint(WriteJob& job, bool& work_due);

  std::unique_ptr<Connection> db_;  // used on the writer thread only
  std::function<void()> on_work_due_;

  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<Group> queue_;  // guarded by mu_
  bool stopping_ = false;    // guarded by mu_
  std::thread thread_;
};

}  // namespace webhookd::sqlite
