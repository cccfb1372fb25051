// Group commit, shared by both backends: writer threads, each owning one connection, take every
// queued job (up to kMaxJobsPerBatch), run them in ONE transaction, commit once (one fsync or WAL
// flush serves the whole batch), then tell every caller its result. Jobs first run without
// savepoints (one per job cost two statements and, on SQLite, a copy of every page the job
// touched); if one fails, the transaction is rolled back and the batch runs again with each job
// in its own savepoint, so that a failing job rolls back alone (unless it fails its whole group,
// see FailGroup). Callers are
// told on a thread of their own (the completer), not the writer's: answering (building a reply,
// waking an HTTP thread) took about a tenth of the writer's time, and the writer is what the
// benchmark shows busy.
//
// What differs between the backends is a BatchSession: how a transaction begins and ends on its
// connection, when a failed job has taken the whole transaction with it, and whether a failed
// batch may simply run again (sqlite/writer.hpp, postgres/writer.hpp).
#pragma once

#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <concepts>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
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
#include "core/thread_name.hpp"
#include "store/common/write_job.hpp"
#include "store/store.hpp"

namespace webhookd::store_common {

// One writer thread's connection, seen as the steps of a batch's transaction.
template <class S>
concept BatchSession = requires(S& session, bool work_due, bool hold) {
  typename S::Connection;
  // How many times one batch may run when its failures are retryable (1: never again).
  { S::kMaxBatchRuns } -> std::convertible_to<int>;
  { session.db() } -> std::same_as<typename S::Connection&>;
  { session.Begin() } -> std::same_as<Status>;
  { session.Savepoint() } -> std::same_as<Status>;
  { session.ReleaseSavepoint() } -> std::same_as<Status>;
  { session.RollbackToSavepoint() } -> std::same_as<Status>;
  // After a job failed: true if the failure took the whole transaction with it.
  { session.TransactionLost() } -> std::same_as<bool>;
  // Ends the batch's transaction; `work_due` says that a job made work due.
  { session.Commit(work_due) } -> std::same_as<Status>;
  // The last Commit failed in a write of the batch's jobs sent along with it (a session may
  // send writes without waiting for their answers), not in the commit itself.
  { session.FailedBeforeCommit() } -> std::same_as<bool>;
  // Rolls back what is left of a failed transaction; true if the failure may be retried by
  // running the whole batch again.
  { session.Abandon() } -> std::same_as<bool>;
  // While on, the session may hold the jobs' writes back to send them together (fewer, larger
  // statements); turning it off drops what is held.
  { session.HoldWrites(hold) } -> std::same_as<void>;
  // Sends what is held; a failure fails the run like a job's.
  { session.SendHeldWrites() } -> std::same_as<Status>;
};

template <BatchSession Session>
class GroupCommitWriter {
 public:
  using Connection = typename Session::Connection;
  using Context = WriteContext<Connection>;

  // Enough to amortize one commit over a burst of requests, small enough that a batch's
  // transaction (and the locks it holds) stays short.
  static constexpr std::size_t kMaxJobsPerBatch = 256;
  // With several writers, one takes a batch while another is busy only once this many jobs
  // wait. Below it, the busy writer takes them all when it is done: one commit (one fsync, one
  // statement for the events on PostgreSQL) instead of two, for a little more waiting. Above it
  // the writers run side by side, for throughput.
  static constexpr std::size_t kBacklogForAnotherWriter = 32;

  // One writer thread per session (migrations already applied). `on_work_due` is called on a
  // writer thread after a commit that contained a job which called MarkWorkDue().
  // `after_completions` (may be empty) is called on the completer thread each time it has told
  // the callers of the batches it found waiting, so that they can pass on what those batches
  // gathered in one go.
  GroupCommitWriter(std::vector<std::unique_ptr<Session>> sessions,
                    std::function<void()> on_work_due, std::function<void()> after_completions = {})
      : sessions_(std::move(sessions)),
        on_work_due_(std::move(on_work_due)),
        after_completions_(std::move(after_completions)) {
    completer_ = NamedThread("store-complete", [this] { CompleterLoop(); });
    for (auto& session : sessions_) {
      threads_.push_back(NamedThread("store-writer", [this, s = session.get()] { Loop(*s); }));
    }
  }

  // Runs every job already queued and tells its caller, then stops the threads (the sessions
  // close after).
  ~GroupCommitWriter() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (std::thread& thread : threads_) thread.join();
    {
      std::lock_guard lock(finished_mu_);
      writers_done_ = true;
    }
    finished_changed_.notify_one();
    completer_.join();
  }

  GroupCommitWriter(const GroupCommitWriter&) = delete;
  GroupCommitWriter& operator=(const GroupCommitWriter&) = delete;

  WriterStats Stats() const {
    return {batches_.load(std::memory_order_relaxed), jobs_.load(std::memory_order_relaxed),
            busy_micros_.load(std::memory_order_relaxed)};
  }

  // Runs `fn` in the next batch and waits for the batch's commit.
  template <class R>
  R Run(std::function<R(Context&)> fn) {
    std::vector<std::function<R(Context&)>> fns;
    fns.push_back(std::move(fn));
    return std::move(RunAll<R>(std::move(fns)).front());
  }

  // Runs every function in the same batch, in order (a failing one undone alone), and waits.
  // They form one group: a function that calls FailGroup() undoes them all.
  template <class R>
  std::vector<R> RunAll(std::vector<std::function<R(Context&)>> fns) {
    std::promise<std::vector<R>> done;
    std::future<std::vector<R>> results = done.get_future();
    RunAllAsync<R>(std::move(fns), [&done](std::vector<R> r) { done.set_value(std::move(r)); });
    return results.get();
  }

  // Like RunAll, but returns at once: `done` gets the results, in order, after the batch's
  // commit, on the completer thread, where it must not block (it holds up every caller after
  // it). A caller that must not block a thread of its own (an HTTP handler) waits this way.
  template <class R>
  void RunAllAsync(std::vector<std::function<R(Context&)>> fns,
                   std::function<void(std::vector<R>)> done) {
    if (fns.empty()) {
      done({});
      return;
    }
    // Every job of a group completes on the same thread, one after another (CompleteAll, or
    // Enqueue when closing), so the countdown needs no lock.
    struct Gather {
      std::vector<std::optional<R>> results;
      std::size_t remaining;
      std::function<void(std::vector<R>)> done;
    };
    auto gather = std::make_shared<Gather>(
        Gather{std::vector<std::optional<R>>(fns.size()), fns.size(), std::move(done)});
    Group group;
    for (std::size_t i = 0; i < fns.size(); ++i) {
      group.jobs.push_back(
          std::make_unique<CallbackJob<Connection, R>>(std::move(fns[i]), [gather, i](R result) {
            gather->results[i].emplace(std::move(result));
            if (--gather->remaining > 0) return;
            std::vector<R> results;
            results.reserve(gather->results.size());
            for (auto& r : gather->results) results.push_back(std::move(*r));
            gather->done(std::move(results));
          }));
    }
    Enqueue(std::move(group));
  }

 private:
  // The jobs of one RunAllAsync call, which run one after another in the same batch.
  struct Group {
    std::vector<std::unique_ptr<WriteJob<Connection>>> jobs;
    Status failed;  // the error of a job that failed the group in the last run, or ok
  };

  // A committed (or failed) batch waiting for the completer to tell its callers.
  struct Finished {
    std::vector<Group> batch;
    Status status;
  };

  static void CompleteAll(std::vector<Group>& batch, const Status& status) {
    for (auto& group : batch) {
      const Status& outcome = status.ok() ? group.failed : status;
      for (auto& job : group.jobs) job->Complete(outcome);
    }
  }

  void HandToCompleter(std::vector<Group> batch, Status status) {
    {
      std::lock_guard lock(finished_mu_);
      finished_.push_back(Finished{std::move(batch), std::move(status)});
    }
    finished_changed_.notify_one();
  }

  void CompleterLoop() {
    for (;;) {
      std::deque<Finished> finished;
      {
        std::unique_lock lock(finished_mu_);
        finished_changed_.wait(lock, [this] { return writers_done_ || !finished_.empty(); });
        if (finished_.empty()) return;  // the writers are done and everything is told
        finished.swap(finished_);
      }
      for (Finished& f : finished) CompleteAll(f.batch, f.status);
      if (after_completions_) after_completions_();
    }
  }

  void Enqueue(Group group) {
    {
      std::lock_guard lock(mu_);
      if (!stopping_) {
        queued_jobs_ += group.jobs.size();
        queue_.push_back(std::move(group));
        wake_.notify_one();
        return;
      }
    }
    for (auto& job : group.jobs) job->Complete(Error::Unavailable("the store is closing"));
  }

  void Loop(Session& session) {
    while (true) {
      std::vector<Group> batch;
      {
        std::unique_lock lock(mu_);
        wake_.wait(lock, [this] { return stopping_ || MayTakeBatch(); });
        if (queue_.empty()) return;  // stopping, and everything queued has run
        batch = TakeBatch();
        ++busy_writers_;
      }
      ExecuteBatch(session, std::move(batch));
      std::lock_guard lock(mu_);
      --busy_writers_;
    }
  }

  // Called with mu_ held.
  bool MayTakeBatch() const {
    return !queue_.empty() && (busy_writers_ == 0 || queued_jobs_ >= kBacklogForAnotherWriter);
  }

  // A group (one caller's jobs) is never split, so one IngestEvents call commits together.
  // Called with mu_ held.
  std::vector<Group> TakeBatch() {
    std::vector<Group> batch;
    std::size_t jobs = 0;
    while (!queue_.empty() &&
           (batch.empty() || jobs + queue_.front().jobs.size() <= kMaxJobsPerBatch)) {
      jobs += queue_.front().jobs.size();
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
      queued_jobs_ -= batch.back().jobs.size();
    }
    return batch;
  }

  void ExecuteBatch(Session& session, std::vector<Group> batch) {
    const auto jobs = static_cast<std::int64_t>(JobCount(batch));
    const auto started = std::chrono::steady_clock::now();
    RunAndComplete(session, std::move(batch));
    const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - started);
    batches_.fetch_add(1, std::memory_order_relaxed);
    jobs_.fetch_add(jobs, std::memory_order_relaxed);
    busy_micros_.fetch_add(micros.count(), std::memory_order_relaxed);
  }

  void RunAndComplete(Session& session, std::vector<Group> batch) {
    Status outcome;
    bool work_due = false;
    for (int run = 1; run <= Session::kMaxBatchRuns; ++run) {
      work_due = false;
      bool retryable = false;
      outcome = RunBatchOnce(session, batch, work_due, retryable);
      if (outcome.ok() || !retryable) break;
      spdlog::debug("store batch hit a deadlock or serialization failure; running it again");
    }
    if (outcome.ok() && work_due && on_work_due_) on_work_due_();
    HandToCompleter(std::move(batch), std::move(outcome));
  }

  // One run of the batch's transaction. `retryable`: the batch failed in a way that running it
  // again may cure.
  Status RunBatchOnce(Session& session, std::vector<Group>& batch, bool& work_due,
                      bool& retryable) {
    if (Status begin = session.Begin(); !begin.ok()) return begin;
    // Held writes fail as a whole, so a lone job, whose failure would stand as is, runs without.
    session.HoldWrites(JobCount(batch) > 1);
    std::optional<Status> failed = RunTogether(session, batch, work_due);
    if (!failed) {
      if (Status sent = session.SendHeldWrites(); !sent.ok()) failed = sent;
    }
    if (!failed) {
      Status commit = session.Commit(work_due);
      if (commit.ok() || !session.FailedBeforeCommit()) {
        session.HoldWrites(false);
        if (!commit.ok()) retryable = session.Abandon();
        return commit;
      }
      failed = commit;  // as if the job that made the write had failed
    }
    session.HoldWrites(false);
    retryable = session.Abandon();
    if (retryable) return *failed;
    // Rolling back a lone job's transaction undid that job alone: its failure stands as is.
    if (JobCount(batch) == 1) return Status::Ok();
    work_due = false;
    return RunIsolated(session, batch, work_due, retryable);
  }

  // Runs every job in the open transaction without savepoints. Returns the first job's failure
  // (the job keeps its own error; a group it fails records it), after which nothing more runs.
  std::optional<Status> RunTogether(Session& session, std::vector<Group>& batch, bool& work_due) {
    for (auto& group : batch) {
      group.failed = Status::Ok();
      for (auto& job : group.jobs) {
        Context context(session.db());
        if (Status run = RunJob(*job, context); !run.ok()) {
          if (context.fails_group()) group.failed = run;
          return run;
        }
        work_due = work_due || context.work_due();
      }
    }
    return std::nullopt;
  }

  // The batch in a new transaction, each group and job in its own savepoint.
  Status RunIsolated(Session& session, std::vector<Group>& batch, bool& work_due, bool& retryable) {
    auto abandon = [&](Status lost) {
      retryable = session.Abandon();
      return lost;
    };
    if (Status begin = session.Begin(); !begin.ok()) return begin;
    for (auto& group : batch) {
      if (Status lost = RunGroup(session, group, work_due); !lost.ok()) return abandon(lost);
    }
    if (Status commit = session.Commit(work_due); !commit.ok()) return abandon(commit);
    return Status::Ok();
  }

  // Runs a group's jobs in order, each in its own savepoint. A group of several jobs also runs
  // inside one savepoint of its own (savepoints of one name nest), which a job that fails the
  // group rolls back. Returns a non-ok Status only if the whole transaction is lost.
  Status RunGroup(Session& session, Group& group, bool& work_due) {
    group.failed = Status::Ok();
    if (group.jobs.size() == 1) {
      return RunInSavepoint(session, *group.jobs.front(), work_due, group.failed);
    }
    if (Status s = session.Savepoint(); !s.ok()) return s;
    bool group_work_due = false;
    for (auto& job : group.jobs) {
      if (Status lost = RunInSavepoint(session, *job, group_work_due, group.failed); !lost.ok()) {
        return lost;
      }
      if (!group.failed.ok()) {
        if (Status s = session.RollbackToSavepoint(); !s.ok()) return s;
        return session.ReleaseSavepoint();
      }
    }
    work_due = work_due || group_work_due;
    return session.ReleaseSavepoint();
  }

  // Runs one job in its savepoint. Returns a non-ok Status only if the whole transaction is
  // lost (the job's own failure is kept in the job, and in `group_failure` if it fails the
  // group).
  Status RunInSavepoint(Session& session, WriteJob<Connection>& job, bool& work_due,
                        Status& group_failure) {
    if (Status s = session.Savepoint(); !s.ok()) return s;
    Context context(session.db());
    const Status run = RunJob(job, context);
    if (run.ok()) {
      work_due = work_due || context.work_due();
      return session.ReleaseSavepoint();
    }
    if (session.TransactionLost()) return run;
    if (context.fails_group()) group_failure = run;
    if (Status s = session.RollbackToSavepoint(); !s.ok()) return s;
    return session.ReleaseSavepoint();
  }

  static Status RunJob(WriteJob<Connection>& job, Context& context) {
    try {
      return job.Run(context);
    } catch (const std::exception& e) {
      return Error::Internal(std::string("write job threw: ") + e.what());
    }
  }

  static std::size_t JobCount(const std::vector<Group>& batch) {
    std::size_t jobs = 0;
    for (const Group& group : batch) jobs += group.jobs.size();
    return jobs;
  }

  std::vector<std::unique_ptr<Session>> sessions_;  // one per thread, used by it only
  std::function<void()> on_work_due_;
  std::function<void()> after_completions_;

  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<Group> queue_;      // guarded by mu_
  std::size_t queued_jobs_ = 0;  // guarded by mu_: the jobs in queue_
  int busy_writers_ = 0;         // guarded by mu_: writers running a batch
  bool stopping_ = false;        // guarded by mu_
  std::vector<std::thread> threads_;

  std::mutex finished_mu_;
  std::condition_variable finished_changed_;
  std::deque<Finished> finished_;  // guarded by finished_mu_
  bool writers_done_ = false;      // guarded by finished_mu_
  std::thread completer_;

  std::atomic<std::int64_t> batches_{0};
  std::atomic<std::int64_t> jobs_{0};
  std::atomic<std::int64_t> busy_micros_{0};
};

}  // namespace webhookd::store_common
