// webhookd: a webhook delivery server. This file only parses the command line.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "app/commands.hpp"

namespace {

constexpr const char* kVersion = WEBHOOKD_VERSION;
// Every usage error (unknown flag, missing argument or subcommand, value out of range) exits
// with this code, whichever of CLI11's own codes (105 to 114) it stands for.
constexpr int kUsageExitCode = 2;

void AddServe(CLI::App& cli, webhookd::app::ServeOptions& o, int& exit_code) {
  CLI::App* serve =
      cli.add_subcommand("serve", "Run the webhook server: the HTTP API and the delivery workers.");
  serve
      ->add_option("--listen", o.listen,
                   "Address and port of the HTTP API (HOST:PORT; port 0 "
                   "picks a free one)")
      ->envname("WEBHOOKD_LISTEN")
      ->capture_default_str();
  serve
      ->add_option("--db", o.db,
                   "Database: sqlite:PATH (created if missing) or postgres://USER@HOST:PORT/DB")
      ->envname("WEBHOOKD_DB")
      ->capture_default_str();
  serve
      ->add_flag("--allow-insecure-urls", o.allow_insecure_urls,
                 "Accept http:// webhook URLs (development only; production needs https://)")
      ->envname("WEBHOOKD_ALLOW_INSECURE_URLS");
  serve
      ->add_option("--allow-target", o.allow_targets,
                   "CIDR the SSRF guard lets deliveries reach although it is private, loopback "
                   "or otherwise refused (repeatable, e.g. 127.0.0.0/8)")
      ->envname("WEBHOOKD_ALLOW_TARGETS")
      ->delimiter(',');
  serve
      ->add_option("--io-threads", o.io_threads,
                   "HTTP worker threads, each serving its own connections from accept to answer "
                   "and ingesting their events (0: one per core)")
      ->envname("WEBHOOKD_IO_THREADS")
      ->check(CLI::Range(0, 64))
      ->capture_default_str();
  serve
      ->add_option("--threads", o.threads,
                   "Threads for the API requests that may block: reads, configuration and key "
                   "changes, retries, test sends")
      ->envname("WEBHOOKD_THREADS")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  serve->add_option("--log-level", o.log_level, "trace, debug, info, warn, error or off")
      ->envname("WEBHOOKD_LOG_LEVEL")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->capture_default_str();
  serve
      ->add_option("--max-body-bytes", o.max_body_bytes,
                   "Largest request body the API accepts; larger ones get 413")
      ->envname("WEBHOOKD_MAX_BODY_BYTES")
      ->check(CLI::Range(std::size_t{1024}, std::size_t{64} * 1024 * 1024))
      ->capture_default_str();
  serve
      ->add_option("--max-connections", o.max_connections,
                   "Open API connections at most (0: half the open-file limit, at most 10000). "
                   "At the cap a new connection closes the one idle the longest")
      ->envname("WEBHOOKD_MAX_CONNECTIONS")
      ->check(CLI::Range(0, 1'000'000))
      ->capture_default_str();
  serve
      ->add_option("--header-timeout", o.header_timeout,
                   "Time a client has to send a request's header once its first byte came "
                   "(e.g. 10s, 500ms); slower clients are disconnected")
      ->envname("WEBHOOKD_HEADER_TIMEOUT")
      ->capture_default_str();
  serve
      ->add_option("--retry-schedule", o.retry_schedule,
                   "Waits before each attempt (the first is immediate); 8 entries = 8 attempts. "
                   "Each wait gets +-20% jitter")
      ->envname("WEBHOOKD_RETRY_SCHEDULE")
      ->capture_default_str();
  serve->add_option("--max-in-flight", o.max_in_flight, "Webhook requests in flight at once")
      ->envname("WEBHOOKD_MAX_IN_FLIGHT")
      ->check(CLI::Range(1, 10'000))
      ->capture_default_str();
  serve
      ->add_option("--per-config-in-flight", o.per_config_in_flight,
                   "Webhook requests in flight for one configuration at once (a FIFO "
                   "configuration has one); more wait in that configuration's queue only")
      ->envname("WEBHOOKD_PER_CONFIG_IN_FLIGHT")
      ->check(CLI::Range(1, 1'000))
      ->capture_default_str();
  serve
      ->add_option("--per-origin-in-flight,--per-endpoint-in-flight", o.per_origin_in_flight,
                   "Webhook requests in flight to one origin (scheme+host+port) at once, shared "
                   "equally among the configurations delivering there, so that one slow route "
                   "cannot take a host's every connection")
      ->envname("WEBHOOKD_PER_ORIGIN_IN_FLIGHT")
      ->check(CLI::Range(1, 1'000))
      ->capture_default_str();
  serve->add_option("--connect-timeout-ms", o.connect_timeout_ms, "Time to connect to a receiver")
      ->envname("WEBHOOKD_CONNECT_TIMEOUT_MS")
      ->check(CLI::Range(100, 60'000))
      ->capture_default_str();
  serve
      ->add_option("--request-timeout-ms", o.request_timeout_ms,
                   "Time for a whole webhook request; a configuration's timeoutMs overrides it")
      ->envname("WEBHOOKD_REQUEST_TIMEOUT_MS")
      ->check(CLI::Range(100, 60'000))
      ->capture_default_str();
  serve
      ->add_option("--http-client", o.http_client,
                   "Outbound HTTP implementation: beast (Boost.Beast + OpenSSL, keep-alive "
                   "pool and TLS session resumption per receiver) or curl (libcurl)")
      ->envname("WEBHOOKD_HTTP_CLIENT")
      ->check(CLI::IsMember({"beast", "curl"}))
      ->capture_default_str();
  serve
      ->add_option("--ca-file", o.ca_file,
                   "PEM file of the CAs trusted for https:// receivers, instead of the system's")
      ->envname("WEBHOOKD_CA_FILE");
  serve
      ->add_option("--auto-disable-after-hours", o.auto_disable_after_hours,
                   "Deactivate a configuration whose deliveries have all failed this many hours "
                   "(fractions allowed: 0.5 is 30 minutes)")
      ->envname("WEBHOOKD_AUTO_DISABLE_AFTER_HOURS")
      ->check(CLI::Range(0.0001, 24.0 * 365))
      ->capture_default_str();
  serve
      ->add_option("--node-id", o.node_id,
                   "This node's name as the owner of delivery leases when several nodes share a "
                   "PostgreSQL database (default hostname:pid). Unique among running nodes; kept "
                   "across restarts, it lets a restarted node resend its interrupted deliveries "
                   "at once instead of after their lease")
      ->envname("WEBHOOKD_NODE_ID");
  serve
      ->add_option("--lease-margin-ms", o.lease_margin_ms,
                   "A claimed delivery is leased for the longest request timeout plus this "
                   "margin; another node may take it over only after the lease ends")
      ->envname("WEBHOOKD_LEASE_MARGIN_MS")
      ->check(CLI::Range(1'000, 600'000))
      ->capture_default_str();
  serve
      ->add_option("--max-request-timeout-ms", o.max_request_timeout_ms,
                   "Longest per-configuration timeoutMs honoured (longer ones are cut to it)")
      ->envname("WEBHOOKD_MAX_REQUEST_TIMEOUT_MS")
      ->check(CLI::Range(100, 600'000))
      ->capture_default_str();
  serve
      ->add_option("--retention", o.retention,
                   "Purge events older than this (e.g. 30d, 12h) with their deliveries and "
                   "attempts, in small batches; events with a delivery still to be sent are kept. "
                   "Default: keep everything")
      ->envname("WEBHOOKD_RETENTION");
  serve
      ->add_option("--encryption-key-file", o.encryption_key_file,
                   "File of named AES-256 keys that encrypt payloads, receivers' answers and "
                   "secrets at rest (docs/security.md). Default on SQLite: <database>.key beside "
                   "the database, created on first start; required on PostgreSQL")
      ->envname("WEBHOOKD_ENCRYPTION_KEY_FILE");
  serve
      ->add_option("--payload-retention", o.payload_retention,
                   "Erase the payloads of events older than this (e.g. 30d), with their "
                   "attempts' bodies and headers, keeping the event, delivery and attempt "
                   "records; events with a delivery still to be sent are kept. Default: keep")
      ->envname("WEBHOOKD_PAYLOAD_RETENTION");
  serve
      ->add_option("--audit-retention", o.audit_retention,
                   "Purge audit log entries older than this. Default: 2196d (six years)")
      ->envname("WEBHOOKD_AUDIT_RETENTION");
  serve
      ->add_option("--max-configs-per-org", o.max_configs_per_org,
                   "Webhook configurations one organization may have (deleted ones do not "
                   "count); a create beyond it gets 422")
      ->envname("WEBHOOKD_MAX_CONFIGS_PER_ORG")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{1'000'000}))
      ->capture_default_str();
  serve
      ->add_option("--max-deliveries-per-request", o.max_deliveries_per_request,
                   "Deliveries one POST /events or /events/batch may create (its events times "
                   "their matching configurations); a request over it gets 422 and stores nothing")
      ->envname("WEBHOOKD_MAX_DELIVERIES_PER_REQUEST")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{10'000'000}))
      ->capture_default_str();
  serve
      ->add_option("--ingest-rate-limit", o.ingest_rate_limit,
                   "Events per second one API key may ingest on this node (a batch counts each "
                   "event); over it, 429 with Retry-After. 0 turns the limit off")
      ->envname("WEBHOOKD_INGEST_RATE_LIMIT")
      ->check(CLI::Range(std::int64_t{0}, std::int64_t{1'000'000}))
      ->capture_default_str();
  serve
      ->add_option("--ingest-burst", o.ingest_burst,
                   "Events one API key may ingest at once above --ingest-rate-limit, after a "
                   "quiet spell")
      ->envname("WEBHOOKD_INGEST_BURST")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{10'000'000}))
      ->capture_default_str();
  serve->callback([&o, &exit_code] { exit_code = webhookd::app::RunServe(o); });
}

void AddMigrate(CLI::App& cli, webhookd::app::MigrateOptions& o, int& exit_code) {
  CLI::App* migrate = cli.add_subcommand(
      "migrate", "Apply the database migrations and exit (serve also applies them at start).");
  migrate->add_option("--db", o.db, "Database: sqlite:PATH or postgres://USER@HOST:PORT/DB")
      ->envname("WEBHOOKD_DB")
      ->capture_default_str();
  migrate->callback([&o, &exit_code] { exit_code = webhookd::app::RunMigrate(o); });
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

void AddEncryptionOptions(CLI::App& command, webhookd::app::EncryptionCommandOptions& o) {
  command.add_option("--db", o.db, "Database: sqlite:PATH or postgres://USER@HOST:PORT/DB")
      ->envname("WEBHOOKD_DB")
      ->capture_default_str();
  command
      .add_option("--encryption-key-file", o.key_file,
                  "The key file (default on SQLite: <database>.key; required on PostgreSQL)")
      ->envname("WEBHOOKD_ENCRYPTION_KEY_FILE");
}

void AddEncryption(CLI::App& cli, webhookd::app::EncryptionCommandOptions& o, int& exit_code) {
  CLI::App* encryption = cli.add_subcommand("encryption", "Manage encryption at rest keys.");
  encryption->require_subcommand(1);
  CLI::App* rotate = encryption->add_subcommand(
      "rotate",
      "Add a new key to the key file (created if missing, mode 0600). Servers restarted with the "
      "file encrypt new values under it; older keys keep decrypting.");
  AddEncryptionOptions(*rotate, o);
  rotate->callback([&o, &exit_code] { exit_code = webhookd::app::RunEncryptionRotate(o); });
  CLI::App* rewrap = encryption->add_subcommand(
      "rewrap",
      "Re-encrypt every value not under the key file's newest key (and encrypt values stored "
      "before encryption), in small batches, while servers run. Safe to stop and run again.");
  AddEncryptionOptions(*rewrap, o);
  rewrap->add_option("--batch-size", o.batch_size, "Rows per transaction")
      ->check(CLI::Range(1, 10'000))
      ->capture_default_str();
  rewrap->add_option("--pause-ms", o.pause_ms, "Pause between batches, in milliseconds")
      ->check(CLI::Range(0, 60'000))
      ->capture_default_str();
  rewrap->callback([&o, &exit_code] { exit_code = webhookd::app::RunEncryptionRewrap(o); });
}

void AddListen(CLI::App& cli, webhookd::app::ListenOptions& o, int& exit_code) {
  CLI::App* listen = cli.add_subcommand(
      "listen",
      "Run a local webhook receiver: accepts POST on any path, verifies each signature and "
      "prints one line per request. Ctrl-C prints a summary.");
  listen->add_option("--port", o.port, "Port to receive on (0 picks a free one)")
      ->capture_default_str();
  listen->add_option("--host", o.host, "Address to receive on")->capture_default_str();
  listen
      ->add_option("--secret", o.secret,
                   "The configuration's signing secret (whsec_...) or ed25519 public key "
                   "(whpk_...); without it requests are not verified. Requests that fail "
                   "verification are answered 401")
      ->envname("WEBHOOKD_WEBHOOK_SECRET");
  listen->add_flag("--print-body", o.print_body, "Pretty-print each request's JSON body");
  listen->add_option("--status", o.status, "HTTP status to answer with")
      ->check(CLI::Range(200, 599))
      ->capture_default_str();
  listen
      ->add_option("--fail-rate", o.fail_rate,
                   "Fraction of requests answered 500 instead (0 to 1), to see retries")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  listen->add_option("--delay", o.delay, "Wait this long before answering (e.g. 500ms, 2s)")
      ->capture_default_str();
  listen
      ->add_option("--respond", o.respond_file,
                   "JSON file sent as the body of 2xx answers (e.g. observations for an "
                   "InferenceToObservations event)")
      ->check(CLI::ExistingFile);
  listen->add_option("--seed", o.seed, "Seed for --fail-rate, so that a run can be repeated");
  listen->callback([&o, &exit_code] { exit_code = webhookd::app::RunListen(o); });
}

void AddTrigger(CLI::App& cli, webhookd::app::TriggerOptions& o, int& exit_code) {
  CLI::App* trigger = cli.add_subcommand(
      "trigger",
      "Send an event (the catalog's sample payload, or your own) to a running server and show "
      "its deliveries.");
  trigger->add_option("event", o.event, "Event type name (see GET /event-types), or 'all'")
      ->required();
  trigger->add_option("--org", o.organization, "Organization the event belongs to")
      ->required()
      ->check(CLI::PositiveNumber);
  trigger->add_option("--payload", o.payload_file, "JSON file to send instead of the sample")
      ->check(CLI::ExistingFile);
  trigger->add_option("--server", o.server, "Base URL of the webhookd server")
      ->envname("WEBHOOKD_SERVER")
      ->capture_default_str();
  trigger->add_option("--key", o.key, "API key (for the organization, or an admin key)")
      ->envname("WEBHOOKD_API_KEY");
  trigger->add_flag("--wait", o.wait,
                    "Follow the deliveries until each has succeeded or failed; exit 1 unless "
                    "all succeeded");
  trigger->add_option("--timeout", o.timeout, "Longest --wait (e.g. 30s, 2m)")
      ->capture_default_str();
  trigger->callback([&o, &exit_code] { exit_code = webhookd::app::RunTrigger(o); });
}

void AddVerify(CLI::App& cli, webhookd::app::VerifyOptions& o, int& exit_code) {
  CLI::App* verify = cli.add_subcommand(
      "verify",
      "Verify a captured webhook offline: prints 'verified' (exit 0) or exactly why not "
      "(exit 1).");
  verify->add_option("--secret", o.secret, "Signing secret (whsec_...) or public key (whpk_...)")
      ->envname("WEBHOOKD_WEBHOOK_SECRET")
      ->required();
  verify->add_option("--id", o.id, "The webhook-id header")->required();
  verify->add_option("--timestamp", o.timestamp, "The webhook-timestamp header")->required();
  verify->add_option("--signature", o.signature, "The webhook-signature header")->required();
  verify->add_option("--body", o.body_file, "File holding the raw request body, byte for byte")
      ->required()
      ->check(CLI::ExistingFile);
  verify
      ->add_option("--tolerance", o.tolerance,
                   "Largest accepted distance between webhook-timestamp and now")
      ->capture_default_str();
  verify->add_option("--now", o.now,
                     "Unix seconds to verify at instead of the clock (to check old captures)");
  verify->callback([&o, &exit_code] { exit_code = webhookd::app::RunVerify(o); });
}

void AddDemo(CLI::App& cli, webhookd::app::DemoOptions& o, int& exit_code) {
  CLI::App* demo = cli.add_subcommand(
      "demo",
      "Show the whole system in under a minute: a server on a temporary database, local "
      "receivers, one configuration per event type, all 12 sample events, retries, and a "
      "table of the results.");
  demo->add_flag("--keep", o.keep, "Keep the temporary directory (database and server log)");
  demo->callback([&o, &exit_code] { exit_code = webhookd::app::RunDemo(o); });
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"webhookd: webhook delivery server for the Azodha platform's external events."};
  cli.require_subcommand(1);
  webhookd::app::ServeOptions serve;
  webhookd::app::KeysCreateOptions keys;
  webhookd::app::ListenOptions listen;
  webhookd::app::TriggerOptions trigger;
  webhookd::app::VerifyOptions verify;
  webhookd::app::DemoOptions demo;
  int exit_code = 0;
  AddServe(cli, serve, exit_code);
  webhookd::app::MigrateOptions migrate;
  AddMigrate(cli, migrate, exit_code);
  AddKeys(cli, keys, exit_code);
  webhookd::app::EncryptionCommandOptions encryption;
  AddEncryption(cli, encryption, exit_code);
  AddListen(cli, listen, exit_code);
  AddTrigger(cli, trigger, exit_code);
  AddVerify(cli, verify, exit_code);
  AddDemo(cli, demo, exit_code);
  cli.add_subcommand("version", "Print the version.")->callback([] {
    std::printf("webhookd %s\n", kVersion);
  });
  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int cli_code = cli.exit(e);  // prints the help text, or the error and a hint
    return cli_code == static_cast<int>(CLI::ExitCodes::Success) ? 0 : kUsageExitCode;
  }
  webhookd::app::FinishLogging();
  return exit_code;
}
