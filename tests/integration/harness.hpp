// Integration-test harness: runs the real `webhookd` binary as a child process and talks to it
// over real HTTP, and offers a real HTTP receiver for delivery tests.
//
// Nothing here depends on GoogleTest, so that any later test (delivery, crash recovery, load)
// can reuse it. Every piece cleans up after itself: temporary directories are removed, server
// processes are killed if a test forgets them (and die with the test process, see
// ServerProcess), receiver threads are joined.
#pragma once

#include <atomic>
#include <boost/json/value.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "core/result.hpp"

namespace webhookd::itest {

using namespace std::chrono_literals;

// Path of the webhookd binary under test (set by CMake).
std::string WebhookdBinary();

// WEBHOOKD_TEST_TIMEOUT_SCALE, a number >= 1 (1 when unset or not a number): how many times
// longer than usual the harness waits for webhookd before giving up. `make asan` and
// `make tsan` set it, since their instrumented binaries run several times slower. The waits
// that say "something arrives within T" scale (Start, Terminate, RunCommand, HttpClient,
// HttpReceiver::WaitFor); a test that expects nothing to happen within T does not.
double TimeoutScale();
std::chrono::milliseconds Scaled(std::chrono::milliseconds timeout);

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // `path() / name`; the file itself is not created.
  std::filesystem::path File(std::string_view name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// Reads a whole file; empty if it does not exist.
std::string ReadFile(const std::filesystem::path& path);

// How a child process ended.
struct ProcessExit {
  bool exited = false;  // true: normal exit with `code`; false: killed by `signal`
  int code = -1;
  int signal = 0;

  bool Clean() const { return exited && code == 0; }
  std::string Describe() const;  // "exit 0", "signal 9", for assertion messages
};

// Environment changes for a child: each entry sets NAME to value. Variables named WEBHOOKD_*
// inherited from the test's own environment are always dropped, so that a developer's shell
// cannot change what the tests see.
using EnvVars = std::vector<std::pair<std::string, std::string>>;

struct CommandResult {
  int exit_code = -1;  // -1 when the command was killed (by a signal or the timeout)
  std::string out;     // everything written to stdout
  std::string err;     // everything written to stderr
};

// Runs `WebhookdBinary() args...` to completion (for CLI subcommands such as `keys create`),
// capturing stdout and stderr. The process is killed after `timeout`.
CommandResult RunCommand(const std::vector<std::string>& args, const EnvVars& env = {},
                         std::chrono::milliseconds timeout = 30s);

// ---- Test databases ----

// The store backend that test servers run on. ctest runs the suite once per backend; the
// environment variable WEBHOOKD_TEST_BACKEND (read by TestBackend()) says which.
enum class Backend { kSqlite, kPostgres };

// WEBHOOKD_TEST_BACKEND: unset, empty or "sqlite" is SQLite, "postgres" is PostgreSQL;
// nullopt for any other value (a typo must not quietly test SQLite).
std::optional<Backend> TestBackend();

// WEBHOOKD_TEST_PG_URL, the PostgreSQL server on which TestDatabase creates its databases
// (scripts/with-postgres sets it, as `make test` does); "" when unset.
std::string TestPostgresUrl();

// Why a PostgreSQL-variant test is skipped when TestPostgresUrl() is empty.
extern const char kNoPostgresMessage[];

// The database of one test: every server the test starts (and restarts) gets url() as --db.
// SQLite: the file db.sqlite in a directory the caller owns. PostgreSQL: a new database with
// a name unique on the server, created through libpq on TestPostgresUrl() as a copy of a
// template that holds webhookd's migrations (made once per webhookd binary, see harness.cpp),
// and dropped WITH (FORCE) on destruction (servers still connected to it do not keep it).
class TestDatabase {
 public:
  // Fails (with the server's message) when the PostgreSQL database cannot be created.
  static Result<std::unique_ptr<TestDatabase>> Create(Backend backend,
                                                      const std::filesystem::path& sqlite_dir);
  ~TestDatabase();
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  Backend backend() const { return backend_; }
  // The value for `webhookd serve --db`: "sqlite:<path>" or "postgres://.../<name>".
  const std::string& url() const { return url_; }
  // The encryption key file of its servers: SQLite, "<database>.key", which the first server
  // creates; PostgreSQL, a file made with the database (and removed with it) that every
  // command on url() gets unless it names another (WEBHOOKD_ENCRYPTION_KEY_FILE).
  std::filesystem::path key_file() const;
  // PostgreSQL only: drops the database now, WITH (FORCE), as an outage would take it away
  // from servers still using it.
  Status DropNow();
  // Runs `sql` on this database directly, as an operator's tool would: tests age rows this way
  // where they cannot wait for days to pass.
  Status Execute(const std::string& sql);

 private:
  TestDatabase(Backend backend, std::string url, std::string admin_url, std::string name);

  Backend backend_;
  std::string url_;
  std::string admin_url_;  // PostgreSQL: where CREATE and DROP DATABASE run; "" for SQLite
  std::string name_;       // PostgreSQL: the database's name
};

// Where TestDatabase keeps the key file of the PostgreSQL database at `db_url` (a command on
// another PostgreSQL database creates it there; remove it with the database).
std::filesystem::path TestKeyFile(const std::string& db_url);

// One `webhookd` server process.
//
// Start() forks and execs the binary with the given arguments, stdout and stderr redirected
// to files in `log_dir` (named after a per-process sequence number, so that restarts in the
// same directory keep every run's output), and waits until the server prints its listening
// line. The child gets PR_SET_PDEATHSIG=SIGKILL, so it dies with the thread that started it
// even if the test process crashes; start servers from the test's main thread.
//
// Not thread-safe: one thread owns a ServerProcess.
class ServerProcess {
 public:
  // `args` follow the binary name, e.g. {"serve", "--listen", "127.0.0.1:0", ...}.
  ServerProcess(std::vector<std::string> args, EnvVars env, std::filesystem::path log_dir);
  // Kills the process (SIGKILL) if it is still running.
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // Convenience: `serve --listen 127.0.0.1:0 --db <db_url> extra_args...`, started; with
  // WEBHOOKD_TEST_HTTP_CLIENT set, `--http-client <its value>` before extra_args.
  // On failure the error says why (exit status, the tail of stderr).
  static Result<std::unique_ptr<ServerProcess>> StartServe(
      const std::string& db_url, const std::vector<std::string>& extra_args,
      const std::filesystem::path& log_dir, const EnvVars& env = {});

  // Makes the next Start() run the process with RLIMIT_NOFILE (soft and hard) at `limit`.
  void set_open_file_limit(std::uint64_t limit) { open_file_limit_ = limit; }

  // Starts the process and waits up to `timeout` for "webhookd listening on http://H:P".
  // Fails if the process exits first or the line does not come in time (the process is then
  // killed). Parses the port and, when the first-start block was printed, the admin key.
  Status Start(std::chrono::milliseconds timeout = 30s);

  // Sends SIGTERM and waits up to `timeout` for the exit. If the process does not exit in
  // time it is killed with SIGKILL and nullopt is returned.
  std::optional<ProcessExit> Terminate(std::chrono::milliseconds timeout = 15s);
  // Sends `signal` and waits like Terminate (for SIGINT, ...).
  std::optional<ProcessExit> StopWith(int signal, std::chrono::milliseconds timeout = 15s);
  // SIGKILL and reap (a crash). Returns how it ended; no-op if not running.
  std::optional<ProcessExit> Kill();
  // Non-blocking: has the process exited? Reaps it if so.
  bool Running();

  int pid() const { return pid_; }
  int port() const { return port_; }
  // "http://127.0.0.1:PORT", exactly as the server printed it.
  const std::string& base_url() const { return base_url_; }
  // The admin key printed on a first start against an empty database, empty otherwise.
  const std::string& admin_key() const { return admin_key_; }

  const std::filesystem::path& stdout_path() const { return stdout_path_; }
  const std::filesystem::path& stderr_path() const { return stderr_path_; }
  std::string ReadStdout() const { return ReadFile(stdout_path_); }
  std::string ReadStderr() const { return ReadFile(stderr_path_); }

 private:
  std::optional<ProcessExit> WaitForExit(std::chrono::milliseconds timeout);
  bool ParseListeningLine(const std::string& out);

  std::vector<std::string> args_;
  EnvVars env_;
  std::filesystem::path stdout_path_;
  std::filesystem::path stderr_path_;
  std::uint64_t open_file_limit_ = 0;  // 0: inherited
  int pid_ = -1;
  int port_ = 0;
  std::string base_url_;
  std::string admin_key_;
};

// ---- HTTP client ----

// A plain TCP connection to 127.0.0.1:`port`, for what an HTTP library would not send:
// malformed framing, trickled headers, bodies written in full whatever the server answers.
// Every call is bounded by a timeout. Not thread-safe.
class RawConnection {
 public:
  // Connects at once; check connected(). `send_buffer_bytes` > 0 sets SO_SNDBUF (a small one
  // keeps a large body from fitting in the kernel's buffers).
  explicit RawConnection(int port, int send_buffer_bytes = 0);
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool connected() const { return fd_ >= 0; }
  // Sends all of `bytes` within `timeout`; false when the connection fails first (error()
  // says how, e.g. "Broken pipe") or the time runs out.
  bool Send(std::string_view bytes, std::chrono::milliseconds timeout = 10s);
  // Everything received until the peer closes or `timeout` passes (then timed_out()).
  std::string ReadUntilClosed(std::chrono::milliseconds timeout);
  // True when the peer has closed (or reset) the connection, waiting up to `timeout` for it.
  // Data that arrives meanwhile is read and kept for ReadUntilClosed.
  bool WaitForClose(std::chrono::milliseconds timeout);

  bool timed_out() const { return timed_out_; }
  const std::string& error() const { return error_; }

 private:
  // One poll + recv: appends to received_; false once closed or failed.
  bool ReceiveSome(std::chrono::milliseconds timeout);

  int fd_ = -1;
  bool closed_ = false;
  bool timed_out_ = false;
  std::string received_;
  std::string error_;
};

struct HttpResponse {
  long status = 0;  // 0: no HTTP response at all (see `error`)
  // Lower-cased header names; for repeated headers the values are joined with ", ".
  std::map<std::string, std::string> headers;
  std::string body;
  // The body parsed as JSON, when it is valid JSON; null otherwise (check `is_json`).
  boost::json::value json;
  bool is_json = false;
  std::string error;  // libcurl's message when the transfer failed

  // The header's value, or "" if absent. `name` is matched case-insensitively.
  std::string Header(std::string_view name) const;
  // A readable one-line summary for assertion messages: status and (truncated) body.
  std::string Summary() const;
};

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// A blocking HTTP/1.1 client on one libcurl easy handle. The handle's connection is reused
// from one request to the next (keep-alive). Not thread-safe: use one client per thread.
class HttpClient {
 public:
  // `base_url` like "http://127.0.0.1:8080"; `bearer` (if not empty) is sent as
  // "Authorization: Bearer <bearer>" with every request.
  explicit HttpClient(std::string base_url, std::string bearer = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;
  HttpClient(HttpClient&& other) noexcept;
  HttpClient& operator=(HttpClient&&) = delete;

  // Sends `method` `path` (appended to the base URL) with `body` (sent when not empty, with
  // Content-Type application/json unless `headers` give one) and extra `headers`.
  // A header with an empty value removes a default header (e.g. {"Authorization", ""}).
  HttpResponse Request(std::string_view method, std::string_view path, std::string_view body = {},
                       const HeaderList& headers = {});

  HttpResponse Get(std::string_view path) { return Request("GET", path); }
  HttpResponse Delete(std::string_view path) { return Request("DELETE", path); }
  HttpResponse Post(std::string_view path, const boost::json::value& body);
  HttpResponse Put(std::string_view path, const boost::json::value& body);
  HttpResponse Patch(std::string_view path, const boost::json::value& body);

  // New TCP connections the last request opened: 0 when it reused a kept-alive connection.
  long last_new_connections() const { return last_new_connections_; }
  // Local TCP port of the last request's connection.
  long last_local_port() const { return last_local_port_; }

  const std::string& base_url() const { return base_url_; }
  void set_bearer(std::string bearer) { bearer_ = std::move(bearer); }
  void set_timeout(std::chrono::milliseconds timeout) { timeout_ = timeout; }

 private:
  void* curl_;  // CURL*, kept out of this header
  std::string base_url_;
  std::string bearer_;
  std::chrono::milliseconds timeout_ = 15s;
  long last_new_connections_ = 0;
  long last_local_port_ = 0;
};

// ---- HTTP receiver (a webhook endpoint for delivery tests) ----

struct ReceivedRequest {
  std::size_t index = 0;       // 0-based arrival order over the receiver's lifetime
  std::size_t connection = 0;  // 0-based id of the TCP connection it came on
  std::string method;
  std::string target;                          // request target as sent, e.g. "/hooks/a?x=1"
  std::map<std::string, std::string> headers;  // lower-cased names; repeats joined with ", "
  std::string body;
  std::chrono::steady_clock::time_point arrived;       // when the full request was read
  std::chrono::system_clock::time_point arrived_wall;  // same moment, wall clock

  std::string Header(std::string_view name) const;
};

// What the receiver answers to one request.
// Every member has a default, so designated initializers may name only what they change.
struct ReceiverResponse {
  int status = 200;
  std::string body{};
  HeaderList headers{};  // extra headers; Content-Length is always set by the receiver
  std::chrono::milliseconds delay{0};   // wait this long before answering
  bool close_without_response = false;  // drop the connection instead of answering
};

// A real HTTP/1.1 server on 127.0.0.1:<ephemeral port>, on its own threads (one accept thread
// and one thread per connection, so a slow answer on one connection does not delay others).
// It reads requests with Content-Length or chunked bodies, keeps connections alive, records
// every request and answers what the handler says. All public methods are thread-safe.
class HttpReceiver {
 public:
  // Decides the answer for each request; called on the connection's thread, possibly on
  // several threads at once. The default handler answers 200 with an empty body.
  using Handler = std::function<ReceiverResponse(const ReceivedRequest&)>;

  HttpReceiver();
  explicit HttpReceiver(Handler handler);
  // Stop()s.
  ~HttpReceiver();
  HttpReceiver(const HttpReceiver&) = delete;
  HttpReceiver& operator=(const HttpReceiver&) = delete;

  // Replaces the handler for requests that arrive from now on.
  void SetHandler(Handler handler);
  // Stops accepting, closes every connection (cutting short any delays) and joins threads.
  void Stop();

  int port() const { return port_; }
  // "http://127.0.0.1:PORT" + path.
  std::string Url(std::string_view path = "/") const;

  std::vector<ReceivedRequest> Requests() const;
  std::size_t Count() const;
  // Waits until at least `count` requests have arrived; false on timeout.
  bool WaitFor(std::size_t count, std::chrono::milliseconds timeout) const;
  // Forgets the requests recorded so far (indexes keep counting).
  void Clear();

 private:
  void AcceptLoop();
  void ServeConnection(int fd, std::size_t connection);
  bool SleepUnlessStopped(std::chrono::milliseconds delay);

  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread accept_thread_;

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;           // signalled on each new request and on Stop
  Handler handler_;                              // guarded by mu_
  std::vector<ReceivedRequest> requests_;        // guarded by mu_
  std::size_t next_index_ = 0;                   // guarded by mu_
  std::vector<int> connection_fds_;              // guarded by mu_
  std::vector<std::thread> connection_threads_;  // guarded by mu_
};

}  // namespace webhookd::itest
