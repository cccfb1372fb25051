// The group-commit writer over a fake session: what a batch's transaction does when its jobs
// succeed or fail, independent of either database.
#include "store/common/group_commit.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace webhookd::store_common {
namespace {

// A "database" of strings: rows written in the open transaction become `committed` at commit.
struct FakeDb {
  std::vector<std::string> committed;
  std::vector<std::string> open;
  std::vector<std::size_t> savepoint_marks;  // sizes of `open` when each savepoint began
  int transactions = 0;
  int savepoints = 0;
  // Held writes: while `holding`, jobs that Hold() put their rows in `held`, which reach `open`
  // when sent (or nowhere, when `refuse_held` fails the send).
  bool holding = false;
  std::vector<std::string> held;
  bool refuse_held = false;
  // Held rows sent without waiting: refused only when the commit that follows them reads the
  // answer (the commit then fails in a write, not in itself).
  bool refuse_held_at_commit = false;
  std::vector<std::string> sent_unanswered;
  // The commit itself fails.
  bool refuse_commit = false;
  int sends = 0;
  void Hold(std::string row) { (holding ? held : open).push_back(std::move(row)); }
};

class FakeSession {
 public:
  using Connection = FakeDb;
  static constexpr int kMaxBatchRuns = 1;

  explicit FakeSession(FakeDb& db) : db_(db) {}
  FakeDb& db() { return db_; }
  Status Begin() {
    ++db_.transactions;
    db_.open.clear();
    return Status::Ok();
  }
  Status Savepoint() {
    ++db_.savepoints;
    db_.savepoint_marks.push_back(db_.open.size());
    return Status::Ok();
  }
  Status ReleaseSavepoint() {
    db_.savepoint_marks.pop_back();
    return Status::Ok();
  }
  Status RollbackToSavepoint() {
    db_.open.resize(db_.savepoint_marks.back());
    return Status::Ok();
  }
  bool TransactionLost() { return false; }
  Status Commit(bool /*work_due*/) {
    const bool write_refused = !db_.sent_unanswered.empty();
    failed_before_commit_ = write_refused;
    if (write_refused) return Error::Conflict("a held row was refused at the commit");
    if (db_.refuse_commit) return Error::Unavailable("the commit failed");
    db_.committed.insert(db_.committed.end(), db_.open.begin(), db_.open.end());
    db_.open.clear();
    return Status::Ok();
  }
  bool FailedBeforeCommit() const { return failed_before_commit_; }
  bool Abandon() {
    db_.open.clear();
    db_.sent_unanswered.clear();
    return false;
  }
  void HoldWrites(bool on) {
    db_.holding = on;
    db_.held.clear();
  }
  Status SendHeldWrites() {
    if (db_.held.empty()) return Status::Ok();
    ++db_.sends;
    std::vector<std::string> rows = std::exchange(db_.held, {});
    if (db_.refuse_held) return Error::Conflict("a held row was refused");
    if (db_.refuse_held_at_commit) {
      db_.sent_unanswered.insert(db_.sent_unanswered.end(), rows.begin(), rows.end());
      return Status::Ok();
    }
    db_.open.insert(db_.open.end(), rows.begin(), rows.end());
    return Status::Ok();
  }

 private:
  FakeDb& db_;
  bool failed_before_commit_ = false;
};

using Writer = GroupCommitWriter<FakeSession>;
using Job = std::function<Status(WriteContext<FakeDb>&)>;

Job Writes(std::string row) {
  return [row](WriteContext<FakeDb>& c) {
    c.db().open.push_back(row);
    return Status::Ok();
  };
}

// Writes its row through the session's held writes, when it holds them.
Job Holds(std::string row) {
  return [row](WriteContext<FakeDb>& c) {
    c.db().Hold(row);
    return Status::Ok();
  };
}

// Writes its row, then fails: the row must not survive.
Job WritesThenFails(std::string row) {
  return [row](WriteContext<FakeDb>& c) {
    c.db().open.push_back(row);
    return Status(Error::Conflict(row + " already exists"));
  };
}

class GroupCommitTest : public ::testing::Test {
 protected:
  GroupCommitTest() {
    std::vector<std::unique_ptr<FakeSession>> sessions;
    sessions.push_back(std::make_unique<FakeSession>(db_));
    writer_ = std::make_unique<Writer>(std::move(sessions), nullptr);
  }

  // Every job in one batch (one group is never split).
  std::vector<Status> RunInOneBatch(std::vector<Job> jobs) {
    return writer_->RunAll<Status>(std::move(jobs));
  }

  FakeDb db_;  // read by the test only after a batch's results arrived
  std::unique_ptr<Writer> writer_;
};

TEST_F(GroupCommitTest, ABatchWhoseJobsAllSucceedCommitsOnceWithoutSavepoints) {
  const std::vector<Status> results = RunInOneBatch({Writes("a"), Writes("b"), Writes("c")});
  ASSERT_EQ(results.size(), 3u);
  for (const Status& s : results) EXPECT_TRUE(s.ok());
  EXPECT_EQ(db_.committed, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(db_.transactions, 1);
  EXPECT_EQ(db_.savepoints, 0);
}

TEST_F(GroupCommitTest, AFailingJobIsUndoneAloneAndTheOthersCommit) {
  const std::vector<Status> results =
      RunInOneBatch({Writes("a"), WritesThenFails("b"), Writes("c")});
  ASSERT_EQ(results.size(), 3u);
  EXPECT_TRUE(results[0].ok());
  ASSERT_FALSE(results[1].ok());
  EXPECT_EQ(results[1].error().kind, ErrorKind::kConflict);
  EXPECT_EQ(results[1].error().message, "b already exists");
  EXPECT_TRUE(results[2].ok());
  EXPECT_EQ(db_.committed, (std::vector<std::string>{"a", "c"}));
  EXPECT_TRUE(db_.savepoint_marks.empty());
}

TEST_F(GroupCommitTest, ALoneFailingJobRunsOnceAndLeavesNothing) {
  int runs = 0;
  const Status result = writer_->Run<Status>([&](WriteContext<FakeDb>& c) {
    ++runs;
    c.db().open.push_back("x");
    return Status(Error::Invalid("no"));
  });
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().kind, ErrorKind::kInvalid);
  EXPECT_EQ(runs, 1);
  EXPECT_TRUE(db_.committed.empty());
  EXPECT_EQ(db_.transactions, 1);
  EXPECT_EQ(db_.savepoints, 0);
}

TEST_F(GroupCommitTest, AJobThatThrowsFailsAloneWithAnInternalError) {
  const std::vector<Status> results = RunInOneBatch(
      {Writes("a"), [](WriteContext<FakeDb>&) -> Status { throw std::runtime_error("boom"); }});
  ASSERT_EQ(results.size(), 2u);
  EXPECT_TRUE(results[0].ok());
  ASSERT_FALSE(results[1].ok());
  EXPECT_EQ(results[1].error().kind, ErrorKind::kInternal);
  EXPECT_EQ(db_.committed, (std::vector<std::string>{"a"}));
}

TEST_F(GroupCommitTest, HeldWritesAreSentOnceBeforeTheCommit) {
  const std::vector<Status> results = RunInOneBatch({Holds("a"), Holds("b"), Holds("c")});
  for (const Status& s : results) EXPECT_TRUE(s.ok());
  EXPECT_EQ(db_.sends, 1);
  EXPECT_EQ(db_.committed, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(db_.transactions, 1);
  EXPECT_FALSE(db_.holding) << "the session still holds writes after the batch";
}

// Sending fails as a whole (the fake refuses every held row): the batch runs again with each
// job in its own savepoint and nothing held, so the jobs' rows are written one by one.
TEST_F(GroupCommitTest, HeldWritesThatCannotBeSentRunTheBatchAgainJobByJob) {
  db_.refuse_held = true;
  const std::vector<Status> results = RunInOneBatch({Holds("a"), Holds("b")});
  for (const Status& s : results) EXPECT_TRUE(s.ok());
  EXPECT_EQ(db_.sends, 1);
  EXPECT_EQ(db_.committed, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(db_.transactions, 2);
  EXPECT_EQ(db_.savepoints, 3);  // the group's and one per job
}

// A held write sent without waiting fails only when the commit reads its answer: as when
// sending fails at once, the batch runs again job by job, and every job's row is committed.
TEST_F(GroupCommitTest, AWriteThatFailsWithTheCommitRunsTheBatchAgainJobByJob) {
  db_.refuse_held_at_commit = true;
  const std::vector<Status> results = RunInOneBatch({Holds("a"), Writes("b"), Holds("c")});
  for (const Status& s : results) EXPECT_TRUE(s.ok());
  EXPECT_EQ(db_.sends, 1);
  EXPECT_EQ(db_.committed, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(db_.transactions, 2);
  EXPECT_EQ(db_.savepoints, 4);  // the group's and one per job
}

// The commit's own failure is the batch's: every job is told it, nothing is run again.
TEST_F(GroupCommitTest, ACommitThatFailsInItselfFailsEveryJobOfTheBatch) {
  db_.refuse_commit = true;
  const std::vector<Status> results = RunInOneBatch({Holds("a"), Writes("b")});
  ASSERT_EQ(results.size(), 2u);
  for (const Status& s : results) {
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().kind, ErrorKind::kUnavailable);
    EXPECT_EQ(s.error().message, "the commit failed");
  }
  EXPECT_TRUE(db_.committed.empty());
  EXPECT_EQ(db_.transactions, 1);
}

TEST_F(GroupCommitTest, ALoneJobHoldsNothing) {
  EXPECT_TRUE(writer_->Run<Status>(Holds("a")).ok());
  EXPECT_EQ(db_.sends, 0);
  EXPECT_EQ(db_.committed, (std::vector<std::string>{"a"}));
}

// Two writers: while one is busy, the other leaves a shallow queue to it (one commit for all of
// it when it is done) and takes a batch only once a backlog waits.
TEST(GroupCommitWritersTest, ASecondWriterTakesABatchOnlyOnceABacklogWaits) {
  // Declared before the writer, which its jobs use until the writer's end joins its threads.
  std::promise<void> started, release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<std::size_t> ran{0};
  FakeDb first_db, second_db;
  std::vector<std::unique_ptr<FakeSession>> sessions;
  sessions.push_back(std::make_unique<FakeSession>(first_db));
  sessions.push_back(std::make_unique<FakeSession>(second_db));
  Writer writer(std::move(sessions), nullptr);
  auto ignore = [](std::vector<Status>) {};
  writer.RunAllAsync<Status>({[&](WriteContext<FakeDb>&) {
                               started.set_value();
                               released.wait();
                               return Status::Ok();
                             }},
                             ignore);
  started.get_future().wait();

  Job counted = [&](WriteContext<FakeDb>&) {
    ++ran;
    return Status::Ok();
  };
  constexpr std::size_t kBacklog = Writer::kBacklogForAnotherWriter;
  for (std::size_t i = 0; i + 1 < kBacklog; ++i) writer.RunAllAsync<Status>({counted}, ignore);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(ran.load(), 0u) << "the idle writer took a shallow queue while the other was busy";

  writer.RunAllAsync<Status>({counted}, ignore);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (ran.load() < kBacklog && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(ran.load(), kBacklog) << "the backlog waited for the busy writer";
  release.set_value();
}

}  // namespace
}  // namespace webhookd::store_common
