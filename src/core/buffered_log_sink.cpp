#include "core/buffered_log_sink.hpp"

#include <unistd.h>

#include <cerrno>

namespace webhookd {

BufferedLogSink::BufferedLogSink(int fd, spdlog::level::level_enum flush_level,
                                 std::size_t block_bytes)
    : fd_(fd), flush_level_(flush_level), block_bytes_(block_bytes) {}

BufferedLogSink::~BufferedLogSink() {
  std::lock_guard<std::mutex> lock(mutex_);
  flush_();
}

void BufferedLogSink::sink_it_(const spdlog::details::log_msg& msg) {
  formatter_->format(msg, pending_);
  if (msg.level >= flush_level_ || pending_.size() >= block_bytes_) flush_();
}

// A write that fails for another reason than a signal drops the block: logging must never stop
// the server, and there is nowhere else to say so.
void BufferedLogSink::flush_() {
  const char* data = pending_.data();
  std::size_t left = pending_.size();
  while (left > 0) {
    const ssize_t n = ::write(fd_, data, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    data += n;
    left -= static_cast<std::size_t>(n);
  }
  pending_.clear();
}

}  // namespace webhookd
