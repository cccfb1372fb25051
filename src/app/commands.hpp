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
