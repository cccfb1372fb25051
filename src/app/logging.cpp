#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>

#include "app/commands.hpp"

namespace webhookd::app {

bool ConfigureLogging(const std::string& level) {
  const spdlog::level::level_enum parsed = spdlog::level::from_str(level);
  if (parsed == spdlog::level::off && level != "off") {
    std::fprintf(stderr, "webhookd: unknown log level '%s'\n", level.c_str());
    return false;
  }
  auto logger = spdlog::stderr_logger_mt("webhookd");
  // UTC timestamps, level, then key=value fields; never payloads, secrets or keys.
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc);
  logger->set_level(parsed);
  spdlog::set_default_logger(logger);
  return true;
}

}  // namespace webhookd::app
