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
  int io_threads = 0;  // HTTP workers (parsing, ingestion, answers); 0: one per core
  int threads = 16;    // handlers that may block: reads, configuration writes, test sends
  std::string log_level = "info";
  std::size_t max_body_bytes = 1024 * 1024;
  int max_connections = 0;             // open HTTP connections at most; 0: from the open-file limit
  std::string header_timeout = "10s";  // from a request's first byte to its header's end
  // Delivery.
  std::string retry_schedule = "0s,5s,5m,30m,2h,5h,10h,10h";
  int max_in_flight = 256;
  int per_config_in_flight = 16;
  int per_origin_in_flight = 64;
  std::int64_t connect_timeout_ms = 5'000;
  std::int64_t request_timeout_ms = 15'000;
  std::string http_client = "beast";  // "beast" or "curl": the outbound HTTP implementation
  std::string ca_file;  // PEM bundle of CAs trusted for https:// receivers; empty: the system's
  double auto_disable_after_hours = 5 * 24;  // fractions allowed (0.5: 30 minutes)
  // Several nodes (PostgreSQL). Empty node_id: hostname:pid.
  std::string node_id;
  // A delivery's lease is max(request timeout, max request timeout) + this margin.
  std::int64_t lease_margin_ms = 30'000;
  std::int64_t max_request_timeout_ms = 60'000;
  // Encryption at rest: the key file; empty: "<database>.key" on SQLite, required on PostgreSQL.
  std::string encryption_key_file;
  // Data retention: purge finished events older than this ("30d", "12h"); empty: keep all.
  std::string retention;
  // Payload retention: erase payloads and attempt bodies/headers older than this; empty: keep.
  std::string payload_retention;
  // Audit log entries older than this are purged; empty: the default, six years.
  std::string audit_retention;
  // Tenant limits (docs/operations.md).
  std::int64_t max_configs_per_org = 1000;
  std::int64_t max_deliveries_per_request = 5000;
  std::int64_t ingest_rate_limit = 1000;  // events per second per API key; 0: off
  std::int64_t ingest_burst = 2000;
};

// `webhookd migrate`: apply the database migrations and exit.
struct MigrateOptions {
  std::string db = "sqlite:data/webhookd.db";
};

struct KeysCreateOptions {
  std::string db = "sqlite:data/webhookd.db";
  std::optional<std::int64_t> organization;
  std::string name = "cli";
};

// `webhookd encryption rotate|rewrap` (docs/security.md).
struct EncryptionCommandOptions {
  std::string db = "sqlite:data/webhookd.db";
  std::string key_file;  // empty: as for serve
  int batch_size = 200;  // rows per transaction (rewrap)
  int pause_ms = 20;     // between batches (rewrap), leaving the database to the servers
};

// `webhookd listen`: a local receiver that verifies and prints incoming webhooks.
struct ListenOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 9000;
  std::string secret;  // empty: do not verify
  bool print_body = false;
  int status = 200;
  double fail_rate = 0;
  std::string delay = "0s";
  std::string respond_file;  // JSON answered with 2xx responses
  std::optional<std::uint64_t> seed;
};

// `webhookd trigger`: posts catalog sample events to a running server.
struct TriggerOptions {
  std::string event;  // an event type name, or "all"
  std::int64_t organization = 0;
  std::string payload_file;  // empty: the catalog's sample payload
  std::string server = "http://127.0.0.1:8080";
  std::string key;
  bool wait = false;
  std::string timeout = "30s";
};

// `webhookd verify`: checks one captured request offline.
struct VerifyOptions {
  std::string secret;
  std::string id;
  std::string timestamp;
  std::string signature;
  std::string body_file;
  std::string tolerance = "5m";
  std::optional<std::int64_t> now;  // Unix seconds; default: the clock
};

// `webhookd demo`: the whole system on one machine, in under a minute.
struct DemoOptions {
  bool keep = false;  // leave the temporary directory (database, server log) behind
};

// Each returns the process exit code.
int RunServe(const ServeOptions& options);
int RunMigrate(const MigrateOptions& options);
int RunKeysCreate(const KeysCreateOptions& options);
int RunEncryptionRotate(const EncryptionCommandOptions& options);
int RunEncryptionRewrap(const EncryptionCommandOptions& options);
int RunListen(const ListenOptions& options);
int RunTrigger(const TriggerOptions& options);
int RunVerify(const VerifyOptions& options);
int RunDemo(const DemoOptions& options);

// Sets up spdlog on stderr at `level`; false (with a message) for an unknown level. Lines below
// warn are written in blocks (core/buffered_log_sink.hpp), at least once a second.
bool ConfigureLogging(const std::string& level);

// Writes the lines still held in memory and stops the once-a-second flush; main() calls it last.
void FinishLogging();

}  // namespace webhookd::app
