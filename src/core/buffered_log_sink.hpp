#pragma once

#include <spdlog/sinks/base_sink.h>

#include <cstddef>
#include <mutex>

namespace webhookd {

// A log sink that writes to a file descriptor (the server's stderr) in blocks rather than one
// write(2) per line. The server logs a line per request, and writing each one alone cost about
// a tenth of a request's CPU on its worker thread (docs/benchmarks.md). Lines below
// `flush_level` wait in memory until the block holds `block_bytes`, a line at or above
// `flush_level` arrives (it goes out at once, after the lines before it), or flush() is called:
// every second and at exit (app/logging.cpp). nginx's `access_log ... buffer= flush=` makes the
// same trade: a kill -9 loses up to a second of request lines, never a warning or an error.
class BufferedLogSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  static constexpr std::size_t kDefaultBlockBytes = 32 * 1024;

  BufferedLogSink(int fd, spdlog::level::level_enum flush_level,
                  std::size_t block_bytes = kDefaultBlockBytes);
  ~BufferedLogSink() override;

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override;
  void flush_() override;

 private:
  const int fd_;
  const spdlog::level::level_enum flush_level_;
  const std::size_t block_bytes_;
  spdlog::memory_buf_t pending_;  // formatted lines not yet written
};

}  // namespace webhookd
