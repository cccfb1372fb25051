// The webhookd subcommands. main.cpp only parses the command line and calls one of these.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace webhookd::app {

struct ServeOptions {
  std::string listen = "127.0.0.1:8080";
  std::string db = "sqlite:data/webhookd.db";
  bool allow_insecure_urls = false;
  std::vector<std::string> allow_targets;  // CIDRs the SSRF guard lets through
  int threads = 8;
  std::string log_level = "info";
  std::size_t max_body_bytes = 1024 * 1024;
  // Delivery.
  std::string retry_schedule = "0s,5s,5m,30m,2h,5h,10h,10h";
  int max_in_flight = 256;
  int per_endpoint_in_flight = 16;
  std::int64_t connect_timeout_ms = 5'000;
  std::int64_t request_timeout_ms = 15'000;
  std::int64_t auto_disable_after_hours = 5 * 24;
};

struct KeysCreateOptions {
  std::string db = "sqlite:data/webhookd.db";
  std::optional<std::int64_t> organization;
  std::string name = "cli";
};

// Each returns the process exit code.
int RunServe(const ServeOptions& options);
int RunKeysCreate(const KeysCreateOptions& options);

// Sets up spdlog on stderr at `level`; false (with a message) for an unknown level.
bool ConfigureLogging(const std::string& level);

}  // namespace webhookd::app
