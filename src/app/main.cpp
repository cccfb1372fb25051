// webhookd: a webhook delivery server. This file only parses the command line.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "app/commands.hpp"

namespace {

constexpr const char* kVersion = WEBHOOKD_VERSION;

void AddServe(CLI::App& cli, webhookd::app::ServeOptions& o, int& exit_code) {
  CLI::App* serve = cli.add_subcommand(
      "serve", "Run the webhook server: the HTTP API and the delivery workers.");
  serve->add_option("--listen", o.listen, "Address and port of the HTTP API (HOST:PORT; port 0 "
                    "picks a free one)")
      ->envname("WEBHOOKD_LISTEN")
      ->capture_default_str();
  serve->add_option("--db", o.db, "Database: sqlite:PATH (created if missing)")
      ->envname("WEBHOOKD_DB")
      ->capture_default_str();
  serve->add_flag("--allow-insecure-urls", o.allow_insecure_urls,
                  "Accept http:// webhook URLs (development only; production needs https://)")
      ->envname("WEBHOOKD_ALLOW_INSECURE_URLS");
  serve->add_option("--allow-target", o.allow_targets,
                    "CIDR the SSRF guard lets deliveries reach although it is private, loopback "
                    "or otherwise refused (repeatable, e.g. 127.0.0.0/8)")
      ->envname("WEBHOOKD_ALLOW_TARGETS")
      ->delimiter(',');
  serve->add_option("--threads", o.threads, "Threads serving the HTTP API")
      ->envname("WEBHOOKD_THREADS")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  serve->add_option("--log-level", o.log_level, "trace, debug, info, warn, error or off")
      ->envname("WEBHOOKD_LOG_LEVEL")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->capture_default_str();
  serve->add_option("--max-body-bytes", o.max_body_bytes,
                    "Largest request body the API accepts; larger ones get 413")
      ->envname("WEBHOOKD_MAX_BODY_BYTES")
      ->check(CLI::Range(std::size_t{1024}, std::size_t{64} * 1024 * 1024))
      ->capture_default_str();
  serve->add_option("--retry-schedule", o.retry_schedule,
                    "Waits before each attempt (the first is immediate); 8 entries = 8 attempts. "
                    "Each wait gets +-20% jitter")
      ->envname("WEBHOOKD_RETRY_SCHEDULE")
      ->capture_default_str();
  serve->add_option("--max-in-flight", o.max_in_flight, "Webhook requests in flight at once")
      ->envname("WEBHOOKD_MAX_IN_FLIGHT")
      ->check(CLI::Range(1, 10'000))
      ->capture_default_str();
  serve->add_option("--per-endpoint-in-flight", o.per_endpoint_in_flight,
                    "Webhook requests in flight to one endpoint (scheme+host+port) at once, so "
                    "that one slow receiver cannot hold up the others")
      ->envname("WEBHOOKD_PER_ENDPOINT_IN_FLIGHT")
      ->check(CLI::Range(1, 1'000))
      ->capture_default_str();
  serve->add_option("--connect-timeout-ms", o.connect_timeout_ms,
                    "Time to connect to a receiver")
      ->envname("WEBHOOKD_CONNECT_TIMEOUT_MS")
      ->check(CLI::Range(100, 60'000))
      ->capture_default_str();
  serve->add_option("--request-timeout-ms", o.request_timeout_ms,
                    "Time for a whole webhook request; a configuration's timeoutMs overrides it")
      ->envname("WEBHOOKD_REQUEST_TIMEOUT_MS")
      ->check(CLI::Range(100, 60'000))
      ->capture_default_str();
  serve->add_option("--auto-disable-after-hours", o.auto_disable_after_hours,
                    "Deactivate a configuration whose deliveries have all failed this long")
      ->envname("WEBHOOKD_AUTO_DISABLE_AFTER_HOURS")
      ->check(CLI::Range(1, 24 * 365))
      ->capture_default_str();
  serve->callback([&o, &exit_code] { exit_code = webhookd::app::RunServe(o); });
}

void AddKeys(CLI::App& cli, webhookd::app::KeysCreateOptions& o, int& exit_code) {
  CLI::App* keys = cli.add_subcommand("keys", "Manage API keys.");
  keys->require_subcommand(1);
  CLI::App* create = keys->add_subcommand(
      "create", "Create an API key and print it (it is shown only this once).");
  create->add_option("--db", o.db, "Database: sqlite:PATH")
      ->envname("WEBHOOKD_DB")
      ->capture_default_str();
  create->add_option("--org", o.organization,
                     "Organization the key is limited to; without it, an admin key for every "
                     "organization");
  create->add_option("--name", o.name, "A name to recognise the key by")->capture_default_str();
  create->callback([&o, &exit_code] { exit_code = webhookd::app::RunKeysCreate(o); });
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"webhookd: webhook delivery server for the Azodha platform's external events."};
  cli.require_subcommand(1);
  webhookd::app::ServeOptions serve;
  webhookd::app::KeysCreateOptions keys;
  int exit_code = 0;
  AddServe(cli, serve, exit_code);
  AddKeys(cli, keys, exit_code);
  cli.add_subcommand("version", "Print the version.")->callback([] {
    std::printf("webhookd %s\n", kVersion);
  });
  CLI11_PARSE(cli, argc, argv);
  return exit_code;
}
