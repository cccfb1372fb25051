#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <memory>

#include "app/commands.hpp"
#include "core/buffered_log_sink.hpp"

namespace webhookd::app {

bool ConfigureLogging(const std::string& level) {
  const spdlog::level::level_enum parsed = spdlog::level::from_str(level);
  if (parsed == spdlog::level::off && level != "off") {
    std::fprintf(stderr, "webhookd: unknown log level '%s'\n", level.c_str());
    return false;
  }
  // Request lines (info) are written in blocks, at least once a second; warnings and errors at
  // once. main() flushes what is left when the command ends (spdlog::shutdown).
  auto sink = std::make_shared<BufferedLogSink>(STDERR_FILENO, spdlog::level::warn);
  auto logger = std::make_shared<spdlog::logger>("webhookd", std::move(sink));
  // UTC timestamps, level, then key=value fields; never payloads, secrets or keys.
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc);
  logger->set_level(parsed);
  spdlog::set_default_logger(logger);
  spdlog::flush_every(std::chrono::seconds(1));
  return true;
}

void FinishLogging() { spdlog::shutdown(); }

}  // namespace webhookd::app
