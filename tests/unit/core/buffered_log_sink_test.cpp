#include "core/buffered_log_sink.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <spdlog/logger.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

namespace webhookd {
namespace {

// A logger writing through a BufferedLogSink into a temporary file that the test reads back.
class BufferedLogSinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char name[] = "/tmp/buffered_log_sink_XXXXXX";
    fd_ = mkstemp(name);
    ASSERT_GE(fd_, 0);
    path_ = name;
  }
  void TearDown() override {
    logger_.reset();
    if (fd_ >= 0) close(fd_);
    std::remove(path_.c_str());
  }

  spdlog::logger& Logger(std::size_t block_bytes = BufferedLogSink::kDefaultBlockBytes) {
    auto sink = std::make_shared<BufferedLogSink>(fd_, spdlog::level::warn, block_bytes);
    logger_ = std::make_unique<spdlog::logger>("test", std::move(sink));
    logger_->set_pattern("%l %v");
    logger_->set_level(spdlog::level::debug);
    return *logger_;
  }

  std::string Written() const {
    std::ifstream in(path_);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  int fd_ = -1;
  std::string path_;
  std::unique_ptr<spdlog::logger> logger_;
};

TEST_F(BufferedLogSinkTest, HoldsInfoLinesUntilAWarningThenWritesAllInOrder) {
  spdlog::logger& log = Logger();
  log.info("request 1");
  log.debug("request 2");
  log.info("request 3");
  EXPECT_EQ(Written(), "");
  log.warn("slow disk");
  EXPECT_EQ(Written(), "info request 1\ndebug request 2\ninfo request 3\nwarning slow disk\n");
  log.error("failed");
  EXPECT_EQ(Written(),
            "info request 1\ndebug request 2\ninfo request 3\nwarning slow disk\nerror failed\n");
}

TEST_F(BufferedLogSinkTest, WritesWhenTheBlockIsFull) {
  spdlog::logger& log = Logger(/*block_bytes=*/40);
  log.info("0123456789");  // 16 bytes with "info " and the newline
  log.info("0123456789");
  EXPECT_EQ(Written(), "");
  log.info("0123456789");  // 48 bytes held: past the block
  EXPECT_EQ(Written(), "info 0123456789\ninfo 0123456789\ninfo 0123456789\n");
  log.info("next");
  EXPECT_EQ(Written().size(), 48u);
}

TEST_F(BufferedLogSinkTest, FlushAndDestructionWriteWhatIsHeld) {
  spdlog::logger& log = Logger();
  log.info("first");
  log.flush();
  EXPECT_EQ(Written(), "info first\n");
  log.flush();  // nothing held: nothing written twice
  EXPECT_EQ(Written(), "info first\n");
  log.info("last");
  logger_.reset();
  EXPECT_EQ(Written(), "info first\ninfo last\n");
}

TEST_F(BufferedLogSinkTest, AFailingWriteDropsTheBlockAndLoggingGoesOn) {
  spdlog::logger& log = Logger();
  const int read_only = open(path_.c_str(), O_RDONLY);
  ASSERT_GE(read_only, 0);
  ASSERT_EQ(dup2(read_only, fd_), fd_);  // writes to fd_ now fail with EBADF
  close(read_only);
  log.info("lost");
  log.warn("lost too");
  const int writable = open(path_.c_str(), O_WRONLY | O_APPEND);
  ASSERT_GE(writable, 0);
  ASSERT_EQ(dup2(writable, fd_), fd_);
  close(writable);
  log.warn("written");
  EXPECT_EQ(Written(), "warning written\n");
}

}  // namespace
}  // namespace webhookd
