// The writer's buffered WAL writes (store/sqlite/wal_write_buffer.hpp): fewer system calls,
// and nothing else changes — what a commit wrote is on disk and visible when it returns, a
// transaction larger than the buffer or rolled back is handled whole, and a process killed
// after a commit leaves it in the database.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "store/sqlite/connection.hpp"
#include "store_test_util.hpp"

namespace webhookd::sqlite {
namespace {

using test::Must;
using test::QueryText;
using test::TempDir;

constexpr std::int64_t kWalHeaderBytes = 32;
constexpr std::int64_t kFrameBytes = 24 + 4096;  // frame header + one page of the default size

// This thread's write system calls so far (write, pwrite, ...), from /proc.
long WriteCallsOfThisThread() {
  std::ifstream io("/proc/thread-self/io");
  std::string key;
  long value = 0;
  while (io >> key >> value) {
    if (key == "syscw:") return value;
  }
  return -1;
}

std::unique_ptr<Connection> OpenWriter(const std::filesystem::path& file,
                                       Connection::WalWrites wal_writes) {
  std::unique_ptr<Connection> db =
      Must(Connection::Open(file.string(), /*create=*/true, wal_writes));
  EXPECT_TRUE(db->Exec("PRAGMA synchronous = FULL; PRAGMA journal_mode = WAL; "
                       "PRAGMA wal_autocheckpoint = 0; CREATE TABLE t (n INTEGER, b BLOB)")
                  .ok());
  return db;
}

// One transaction of `rows` rows of `bytes` bytes each.
std::string InsertRows(int first, int rows, int bytes) {
  return "WITH RECURSIVE s (v) AS (SELECT " + std::to_string(first) +
         " UNION ALL SELECT v + 1 FROM s WHERE v < " + std::to_string(first + rows - 1) +
         ") INSERT INTO t SELECT v, randomblob(" + std::to_string(bytes) + ") FROM s";
}

TEST(WalWriteBufferTest, ACommitTakesAFewWritesInsteadOfTwoPerPage) {
  TempDir dir;
  auto direct = OpenWriter(dir.path() / "direct.db", Connection::WalWrites::kDirect);
  auto buffered = OpenWriter(dir.path() / "buffered.db", Connection::WalWrites::kBuffered);
  // 25 rows of a page each: one block of the buffer.
  const std::string insert = "BEGIN; " + InsertRows(1, 25, 3000) + "; COMMIT";

  long before = WriteCallsOfThisThread();
  ASSERT_TRUE(direct->Exec(insert).ok());
  const long direct_writes = WriteCallsOfThisThread() - before;
  before = WriteCallsOfThisThread();
  ASSERT_TRUE(buffered->Exec(insert).ok());
  const long buffered_writes = WriteCallsOfThisThread() - before;

  EXPECT_GE(direct_writes, 50);  // a header and a page per frame
  EXPECT_LE(buffered_writes, 2) << "direct: " << direct_writes;
}

TEST(WalWriteBufferTest, WhatACommitWroteIsOnDiskAndVisibleWhenItReturns) {
  TempDir dir;
  const std::filesystem::path file = dir.path() / "w.db";
  auto db = OpenWriter(file, Connection::WalWrites::kBuffered);
  ASSERT_TRUE(db->Exec("BEGIN; " + InsertRows(1, 20, 1000) + "; COMMIT").ok());

  // Whole frames only, all of them in the file: the writer holds nothing back.
  const auto wal_bytes = static_cast<std::int64_t>(
      std::filesystem::file_size(std::filesystem::path(file.string() + "-wal")));
  EXPECT_GT(wal_bytes, kWalHeaderBytes);
  EXPECT_EQ((wal_bytes - kWalHeaderBytes) % kFrameBytes, 0) << wal_bytes;
  EXPECT_EQ(QueryText(file, "SELECT count(*) || ' ' || sum(n) FROM t"), "20 210");
}

TEST(WalWriteBufferTest, ATransactionLargerThanTheBufferCommitsWhole) {
  TempDir dir;
  const std::filesystem::path file = dir.path() / "w.db";
  auto db = OpenWriter(file, Connection::WalWrites::kBuffered);
  // 4 MiB: more than the page cache (so SQLite writes frames before the commit) and than the
  // buffer (so they go out in many blocks).
  ASSERT_TRUE(
      db->Exec("PRAGMA cache_size = 50; BEGIN; " + InsertRows(1, 1000, 4000) + "; COMMIT").ok());

  EXPECT_EQ(QueryText(file, "SELECT count(*) || ' ' || sum(length(b)) FROM t"), "1000 4000000");
  EXPECT_EQ(QueryText(file, "PRAGMA integrity_check"), "ok");
}

TEST(WalWriteBufferTest, ARolledBackTransactionLeavesNothingBehind) {
  TempDir dir;
  const std::filesystem::path file = dir.path() / "w.db";
  auto db = OpenWriter(file, Connection::WalWrites::kBuffered);
  ASSERT_TRUE(db->Exec("PRAGMA cache_size = 50; BEGIN; " + InsertRows(1, 500, 4000)).ok());
  ASSERT_TRUE(db->Exec("ROLLBACK").ok());
  ASSERT_TRUE(db->Exec("BEGIN; " + InsertRows(7, 3, 100) + "; COMMIT").ok());

  EXPECT_EQ(QueryText(file, "SELECT count(*) || ' ' || sum(n) FROM t"), "3 24");
  EXPECT_EQ(QueryText(file, "PRAGMA integrity_check"), "ok");
  // The writer reads its own frames back (its cache is small): they must be the committed ones.
  Query sum = Must(db->Prepare("SELECT sum(n) FROM t"));
  ASSERT_TRUE(Must(sum.Step()));
  EXPECT_EQ(sum.Int(0), 24);
}

// Runs `statements` on a buffered writer in a child process, which SIGKILL ends right after
// them: no close, no write but the ones SQLite asked for.
void RunThenGetKilled(const std::filesystem::path& file, const std::string& statements) {
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto db = OpenWriter(file, Connection::WalWrites::kBuffered);
    if (!db->Exec(statements).ok()) _exit(2);
    raise(SIGKILL);
    _exit(3);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
}

TEST(WalWriteBufferTest, ACommitSurvivesTheProcessBeingKilledRightAfterIt) {
  TempDir dir;
  const std::filesystem::path file = dir.path() / "w.db";
  RunThenGetKilled(file, "BEGIN; " + InsertRows(1, 50, 2000) + "; COMMIT");

  EXPECT_EQ(QueryText(file, "SELECT count(*) || ' ' || sum(n) FROM t"), "50 1275");
  EXPECT_EQ(QueryText(file, "PRAGMA integrity_check"), "ok");
}

TEST(WalWriteBufferTest, AKilledProcessLeavesItsCommitsButNotTheTransactionInProgress) {
  TempDir dir;
  const std::filesystem::path file = dir.path() / "w.db";
  // The second transaction has written frames (its pages outgrew the cache) when it dies.
  RunThenGetKilled(file, "BEGIN; " + InsertRows(1, 50, 2000) +
                             "; COMMIT; PRAGMA cache_size = 50; BEGIN; " +
                             InsertRows(100, 500, 4000));

  EXPECT_EQ(QueryText(file, "SELECT count(*) || ' ' || sum(n) FROM t"), "50 1275");
  EXPECT_EQ(QueryText(file, "PRAGMA integrity_check"), "ok");
}

}  // namespace
}  // namespace webhookd::sqlite
