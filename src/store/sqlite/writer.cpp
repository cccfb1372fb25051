#include "store/sqlite/writer.hpp"

#include <exception>

#include "store/sqlite/statements.hpp"

namespace webhookd::sqlite {
namespace {

void CompleteAll(std::vector<std::vector<std::unique_ptr<WriteJob>>>& batch, const Status& status) {
  for (auto& group : batch) {
    for (auto& job : group) job->Complete(status);
  }
}

}  // namespace

Writer::Writer(std::unique_ptr<Connection> db, std::function<void()> on_work_due)
    : db_(std::move(db)), on_work_due_(std::move(on_work_due)), thread_([this] { Loop(); }) {}

Writer::~Writer() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
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

void Writer::Loop() {
  std::unique_lock lock(mu_);
  while (true) {
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and everything queued has run
    std::vector<Group> batch = TakeBatch(lock);
    lock.unlock();
    ExecuteBatch(batch);
    lock.lock();
  }
}

// A group (one caller's jobs) is never split, so one IngestEvents call commits together.
std::vector<Writer::Group> Writer::TakeBatch(std::unique_lock<std::mutex>&) {
  std::vector<Group> batch;
  std::size_t jobs = 0;
  while (!queue_.empty() && (batch.empty() || jobs + queue_.front().size() <= kMaxJobsPerBatch)) {
    jobs += queue_.front().size();
    batch.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  return batch;
}

void Writer::ExecuteBatch(std::vector<Group>& batch) {
  if (Status begin = db_->Run(kBeginImmediate); !begin.ok()) {
    CompleteAll(batch, begin);
    return;
  }
  bool work_due = false;
  for (auto& group : batch) {
    for (auto& job : group) {
      if (Status lost = RunInSavepoint(*job, work_due); !lost.ok()) {
        if (!db_->InAutocommit()) (void)db_->Run(kRollback);
        CompleteAll(batch, lost);
        return;
      }
    }
  }
  if (Status commit = db_->Run(kCommit); !commit.ok()) {
    if (!db_->InAutocommit()) (void)db_->Run(kRollback);
    CompleteAll(batch, commit);
    return;
  }
  if (work_due && on_work_due_) on_work_due_();
  CompleteAll(batch, Status::Ok());
}

Status Writer::RunInSavepoint(WriteJob& job, bool& work_due) {
  if (Status s = db_->Run(kSavepoint); !s.ok()) return s;
  WriteContext context(*db_);
  Status run;
  try {
    run = job.Run(context);
  } catch (const std::exception& e) {
    run = Error::Internal(std::string("write job threw: ") + e.what());
  }
  if (run.ok()) {
    work_due = work_due || context.work_due();
    return db_->Run(kReleaseSavepoint);
  }
  // Some errors (I/O, disk full) make SQLite roll back the whole transaction on its own.
  if (db_->InAutocommit()) return run;
  if (Status s = db_->Run(kRollbackToSavepoint); !s.ok()) return s;
  return db_->Run(kReleaseSavepoint);
}

}  // namespace webhookd::sqlite
