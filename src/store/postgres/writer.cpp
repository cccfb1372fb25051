#include "store/postgres/writer.hpp"

#include <spdlog/spdlog.h>

#include <exception>

#include "store/postgres/statements.hpp"

namespace webhookd::postgres {
namespace {

void CompleteAll(std::vector<std::vector<std::unique_ptr<WriteJob>>>& batch, const Status& status) {
  for (auto& group : batch) {
    for (auto& job : group) job->Complete(status);
  }
}

// A broken connection is reconnected before the next batch; if that fails the batch fails
// (kUnavailable) and the next one tries again.
Status EnsureConnected(Connection& db) {
  if (db.Healthy()) return Status::Ok();
  return db.Reset();
}

}  // namespace

Writer::Writer(std::vector<std::unique_ptr<Connection>> connections, std::string notify_payload,
               std::function<void()> on_work_due)
    : connections_(std::move(connections)),
      notify_payload_(std::move(notify_payload)),
      on_work_due_(std::move(on_work_due)) {
  for (auto& connection : connections_) {
    threads_.emplace_back([this, db = connection.get()] { Loop(*db); });
  }
}

Writer::~Writer() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (std::thread& thread : threads_) thread.join();
}

void Writer::Enqueue(Group group) {
  {
    std::lock_guard lock(mu_);
    if (!stopping_) {
      queue_.push_back(std::move(group));
      wake_.notify_one();
      return;
    }
  }
  for (auto& job : group) job->Complete(Error::Unavailable("the store is closing"));
}

void Writer::Loop(Connection& db) {
  while (true) {
    std::vector<Group> batch;
    {
      std::unique_lock lock(mu_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything queued has run
      batch = TakeBatch();
    }
    ExecuteBatch(db, batch);
  }
}

// A group (one caller's jobs) is never split, so one IngestEvents call commits together.
std::vector<Writer::Group> Writer::TakeBatch() {
  std::vector<Group> batch;
  std::size_t jobs = 0;
  while (!queue_.empty() && (batch.empty() || jobs + queue_.front().size() <= kMaxJobsPerBatch)) {
    jobs += queue_.front().size();
    batch.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  return batch;
}

void Writer::ExecuteBatch(Connection& db, std::vector<Group>& batch) {
  Status outcome;
  bool work_due = false;
  for (int run = 1; run <= kMaxBatchRuns; ++run) {
    if (outcome = EnsureConnected(db); !outcome.ok()) break;
    work_due = false;
    bool retryable = false;
    outcome = RunBatchOnce(db, batch, work_due, retryable);
    if (outcome.ok() || !retryable) break;
    spdlog::debug("store batch hit a deadlock or serialization failure; running it again");
  }
  if (outcome.ok() && work_due && on_work_due_) on_work_due_();
  CompleteAll(batch, outcome);
}

Status Writer::RunBatchOnce(Connection& db, std::vector<Group>& batch, bool& work_due,
                            bool& retryable) {
  // Remembers whether the failure may be retried before the ROLLBACK clears that.
  auto abandon = [&](Status lost) {
    retryable = db.LastErrorRetryable();
    if (db.Healthy() && db.InTransaction()) (void)db.Exec(kRollback);
    return lost;
  };
  if (Status begin = db.Exec(kBegin); !begin.ok()) return begin;
  for (auto& group : batch) {
    for (auto& job : group) {
      if (Status lost = RunInSavepoint(db, *job, work_due); !lost.ok()) return abandon(lost);
    }
  }
  if (work_due) {
    // Delivered to the listening nodes when (and only if) this transaction commits.
    if (Result<Rows> notify = db.Run(kNotifyWork, Params().Text(notify_payload_)); !notify.ok()) {
      return abandon(notify.error());
    }
  }
  if (Status commit = db.Exec(kCommit); !commit.ok()) return abandon(commit);
  return Status::Ok();
}

Status Writer::RunInSavepoint(Connection& db, WriteJob& job, bool& work_due) {
  if (Status s = db.Exec(kSavepoint); !s.ok()) return s;
  WriteContext context(db);
  Status run;
  try {
    run = job.Run(context);
  } catch (const std::exception& e) {
    run = Error::Internal(std::string("write job threw: ") + e.what());
  }
  if (run.ok()) {
    work_due = work_due || context.work_due();
    return db.Exec(kReleaseSavepoint);
  }
  // A lost connection or a deadlock takes the whole transaction with it.
  if (!db.Healthy() || db.LastErrorRetryable()) return run;
  if (Status s = db.Exec(kRollbackToSavepoint); !s.ok()) return s;
  return db.Exec(kReleaseSavepoint);
}

}  // namespace webhookd::postgres
