// Group commit on PostgreSQL: a few writer threads, each with its own connection, take every
// queued job (up to kMaxJobsPerBatch) and run them in ONE transaction, each in its own
// savepoint so that a failing job rolls back alone, and commit once: one WAL flush serves the
// whole batch. The same design as the SQLite writer (src/store/sqlite/writer.hpp), with two
// differences: several batches may commit at once (PostgreSQL has row locks, not one database
// lock), and a batch that hits a deadlock or serialization failure (possible between nodes) is
// run again from the start.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/result.hpp"
#include "store/postgres/connection.hpp"

namespace webhookd::postgres {

// What a write job sees while it runs on a writer thread.
class WriteContext {
 public:
  explicit WriteContext(Connection& db) : db_(db) {}
  Connection& db() { return db_; }
  // Asks for the work listeners (this store's and, through NOTIFY, the other nodes') to be
  // told after the commit, if this job's writes commit.
  void MarkWorkDue() { work_due_ = true; }
  bool work_due() const { return work_due_; }

 private:
  Connection& db_;
  bool work_due_ = false;
};

class WriteJob {
 public:
  virtual ~WriteJob() = default;
  // Runs on a writer thread inside a savepoint; an error rolls back this job alone. May run
  // more than once (when the batch is retried); the last run counts.
  virtual Status Run(WriteContext& context) = 0;
  // Called once with the batch's outcome: ok if the transaction committed (the job's own
  // result stands), otherwise the error that undid it.
  virtual void Complete(const Status& batch) = 0;
};

// R is Status or Result<T>. The caller waits on the future, so the function may capture the
// caller's arguments by reference.
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
  // Enough to amortize one commit over a burst of requests, small enough that a batch's
  // transaction (and the row locks it holds) stays short.
  static constexpr std::size_t kMaxJobsPerBatch = 256;
  // A batch that deadlocked is run again at most this many times.
  static constexpr int kMaxBatchRuns = 4;

  // Takes ownership of the write connections, one writer thread each. `notify_payload` is
  // sent with NOTIFY in a batch that made work due; `on_work_due` is then called on the writer
  // thread after the commit.
  Writer(std::vector<std::unique_ptr<Connection>> connections, std::string notify_payload,
         std::function<void()> on_work_due);
  // Runs every job already queued, then closes the connections.
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
  void Loop(Connection& db);
  std::vector<Group> TakeBatch();
  void ExecuteBatch(Connection& db, std::vector<Group>& batch);
  // One run of the batch's transaction. `work_due`: a job made work due; `retryable`: the
  // failure was a deadlock or serialization failure, so the batch may run again.
  Status RunBatchOnce(Connection& db, std::vector<Group>& batch, bool& work_due, bool& retryable);
  // Runs one job in its savepoint. Returns a non-ok Status only if the whole transaction is
  // lost (the job's own failure is kept in the job).
  Status RunInSavepoint(Connection& db, WriteJob& job, bool& work_due);

  std::vector<std::unique_ptr<Connection>> connections_;  // one per thread, used by it only
  const std::string notify_payload_;
  std::function<void()> on_work_due_;

  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<Group> queue_;  // guarded by mu_
  bool stopping_ = false;    // guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace webhookd::postgres
