#include "harness.hpp"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <regex>
#include <sstream>

#include "crypto/crypto.hpp"

extern char** environ;

namespace webhookd::itest {
namespace {

std::string ToLower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string Trim(std::string_view s) {
  const auto begin = s.find_first_not_of(" \t\r\n");
  if (begin == std::string_view::npos) return {};
  const auto end = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(begin, end - begin + 1));
}

void AddHeader(std::map<std::string, std::string>& headers, std::string_view name,
               std::string_view value) {
  auto [it, inserted] = headers.emplace(ToLower(name), Trim(value));
  if (!inserted) it->second += ", " + Trim(value);
}

std::string FindHeader(const std::map<std::string, std::string>& headers, std::string_view name) {
  const auto it = headers.find(ToLower(name));
  return it == headers.end() ? std::string() : it->second;
}

std::string Tail(const std::string& text, std::size_t n) {
  return text.size() <= n ? text : "..." + text.substr(text.size() - n);
}

ProcessExit FromWaitStatus(int status) {
  ProcessExit exit;
  if (WIFEXITED(status)) {
    exit.exited = true;
    exit.code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    exit.signal = WTERMSIG(status);
  }
  return exit;
}

// One key, as `webhookd encryption rotate` writes it: "NAME BASE64KEY", mode 0600.
Status WriteTestKeyFile(const std::filesystem::path& path) {
  std::random_device random;
  std::string key(32, '\0');
  for (char& c : key) c = static_cast<char>(random());
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Error::Internal("cannot create " + path.string());
  const std::string line = "test-key-1 " + crypto::Base64Encode(key) + "\n";
  const bool written = write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  close(fd);
  return written ? Status::Ok() : Status(Error::Internal("cannot write " + path.string()));
}

// A PostgreSQL server needs a key file: unless the test names one, a command on a test
// database gets the one TestDatabase made for it, shared by every node of that database.
std::optional<std::string> DefaultKeyFile(const std::vector<std::string>& args,
                                          const EnvVars& env) {
  const auto names_key_file = [](const auto& kv) {
    return kv.first == "WEBHOOKD_ENCRYPTION_KEY_FILE";
  };
  if (std::find(args.begin(), args.end(), "--encryption-key-file") != args.end() ||
      std::any_of(env.begin(), env.end(), names_key_file)) {
    return std::nullopt;
  }
  const auto db = std::find(args.begin(), args.end(), "--db");
  if (db == args.end() || db + 1 == args.end() || !(db + 1)->starts_with("postgres")) {
    return std::nullopt;
  }
  const std::filesystem::path key_file = TestKeyFile(*(db + 1));
  // A database the test made without TestDatabase (several nodes' scratch database) gets its
  // key file with its first server.
  if (args.front() == "serve" && !std::filesystem::exists(key_file)) {
    (void)WriteTestKeyFile(key_file);
  }
  return key_file.string();
}

// Owns the argv/envp arrays handed to execve. They are built before fork(), because the child
// of a multi-threaded process may only call async-signal-safe functions.
class ExecArgs {
 public:
  ExecArgs(const std::vector<std::string>& args, const EnvVars& env) {
    args_.push_back(WebhookdBinary());
    args_.insert(args_.end(), args.begin(), args.end());
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string_view entry(*e);
      const std::string_view name = entry.substr(0, entry.find('='));
      const bool overridden =
          std::any_of(env.begin(), env.end(), [&](const auto& kv) { return kv.first == name; });
      if (!name.starts_with("WEBHOOKD_") && !overridden) env_.emplace_back(entry);
    }
    for (const auto& [name, value] : env) env_.push_back(name + "=" + value);
    if (std::optional<std::string> key_file = DefaultKeyFile(args, env)) {
      env_.push_back("WEBHOOKD_ENCRYPTION_KEY_FILE=" + *key_file);
    }
    for (auto& a : args_) argv_.push_back(a.data());
    argv_.push_back(nullptr);
    for (auto& e : env_) envp_.push_back(e.data());
    envp_.push_back(nullptr);
  }
  char* const* argv() { return argv_.data(); }
  char* const* envp() { return envp_.data(); }

 private:
  std::vector<std::string> args_;
  std::vector<std::string> env_;
  std::vector<char*> argv_;
  std::vector<char*> envp_;
};

// In the child after fork(): wires stdin to /dev/null and stdout/stderr to the given fds, asks
// to be killed when the parent thread dies, sets the open-file limit (unless 0), and execs.
// Only async-signal-safe calls.
[[noreturn]] void ExecChild(ExecArgs& exec, int out_fd, int err_fd, std::uint64_t open_files) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (open_files > 0) {
    const rlimit limit{open_files, open_files};
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) _exit(126);
  }
  const int null_fd = open("/dev/null", O_RDONLY);
  if (null_fd >= 0) dup2(null_fd, STDIN_FILENO);
  dup2(out_fd, STDOUT_FILENO);
  dup2(err_fd, STDERR_FILENO);
  execve(exec.argv()[0], exec.argv(), exec.envp());
  _exit(127);
}

std::atomic<int> process_sequence{0};
std::atomic<int> database_sequence{0};

// A libpq connection, closed on destruction. The server's notices ("does not exist,
// skipping") are not printed.
class PgSession {
 public:
  explicit PgSession(const std::string& url) : connection_(PQconnectdb(url.c_str())) {
    PQsetNoticeProcessor(
        connection_, [](void*, const char*) {}, nullptr);
  }
  ~PgSession() { PQfinish(connection_); }
  PgSession(const PgSession&) = delete;
  PgSession& operator=(const PgSession&) = delete;

  Status Connected() const {
    if (PQstatus(connection_) == CONNECTION_OK) return Status::Ok();
    return Error::Unavailable(std::string("cannot connect to PostgreSQL: ") +
                              PQerrorMessage(connection_));
  }

  // Runs `sql` with text parameters; returns the first column of the first row ("" when the
  // command returns no rows).
  Result<std::string> Run(const std::string& sql, const std::vector<std::string>& params = {}) {
    std::vector<const char*> values;
    for (const std::string& p : params) values.push_back(p.c_str());
    PGresult* result = PQexecParams(connection_, sql.c_str(), static_cast<int>(values.size()),
                                    nullptr, values.data(), nullptr, nullptr, 0);
    const ExecStatusType status = PQresultStatus(result);
    Result<std::string> out = std::string();
    if (status == PGRES_TUPLES_OK) {
      if (PQntuples(result) > 0) out = std::string(PQgetvalue(result, 0, 0));
    } else if (status != PGRES_COMMAND_OK) {
      out = Error::Internal(sql + ": " + PQresultErrorMessage(result));
    }
    PQclear(result);
    return out;
  }

  // Sends `sql` (the connection blocks until it is sent) and returns without waiting for the
  // command's end: the server finishes it, then notices that the connection is gone.
  void SendAndForget(const std::string& sql) { PQsendQuery(connection_, sql.c_str()); }

 private:
  PGconn* connection_;
};

// `url` (postgres://...[/db][?query]) with its database name replaced by `database`; nullopt
// when `url` is not a URL (a conninfo string).
std::optional<std::string> WithDatabase(const std::string& url, const std::string& database) {
  const std::string_view kSchemes[] = {"postgres://", "postgresql://"};
  const auto scheme = std::find_if(std::begin(kSchemes), std::end(kSchemes),
                                   [&](std::string_view s) { return url.starts_with(s); });
  if (scheme == std::end(kSchemes)) return std::nullopt;
  const std::size_t query = url.find('?');
  const std::string base = url.substr(0, query);
  const std::string rest = query == std::string::npos ? "" : url.substr(query);
  const std::size_t slash = base.find('/', scheme->size());
  return base.substr(0, slash) + "/" + database + rest;
}

}  // namespace

std::string WebhookdBinary() { return WEBHOOKD_BINARY; }

std::filesystem::path TestKeyFile(const std::string& db_url) {
  const std::string name = db_url.substr(db_url.rfind('/') + 1);
  return std::filesystem::temp_directory_path() / (name.substr(0, name.find('?')) + ".key");
}

double TimeoutScale() {
  static const double scale = [] {
    const char* value = std::getenv("WEBHOOKD_TEST_TIMEOUT_SCALE");
    const double parsed = value == nullptr ? 1.0 : std::strtod(value, nullptr);
    return std::max(parsed, 1.0);
  }();
  return scale;
}

std::chrono::milliseconds Scaled(std::chrono::milliseconds timeout) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(timeout * TimeoutScale());
}

// ---- TempDir ----

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string pattern =
      std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/webhookd-itest-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) {
    std::perror("mkdtemp");
    std::abort();
  }
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// ---- Test databases ----

const char kNoPostgresMessage[] =
    "WEBHOOKD_TEST_BACKEND=postgres but WEBHOOKD_TEST_PG_URL is not set: this PostgreSQL run "
    "of the test did not happen (run through scripts/with-postgres, as `make test` does)";

std::optional<Backend> TestBackend() {
  const char* value = std::getenv("WEBHOOKD_TEST_BACKEND");
  const std::string_view name = value == nullptr ? "" : value;
  if (name.empty() || name == "sqlite") return Backend::kSqlite;
  if (name == "postgres") return Backend::kPostgres;
  return std::nullopt;
}

std::string TestPostgresUrl() {
  const char* url = std::getenv("WEBHOOKD_TEST_PG_URL");
  return url == nullptr ? "" : url;
}

namespace {

// Any fixed number: the advisory lock under which test processes make the template.
constexpr const char* kTemplateLockKey = "7203148516";

// The name of the template for the webhookd binary under test: it changes when the binary is
// rebuilt, so that a long-lived PostgreSQL server never hands out an outdated schema. (The
// template is kept for later tests, so such a server keeps one per build; the throwaway
// cluster of scripts/with-postgres holds just one.)
std::string TemplateName() {
  std::error_code ec;
  const auto size = std::filesystem::file_size(WebhookdBinary(), ec);
  const auto mtime = std::filesystem::last_write_time(WebhookdBinary(), ec);
  const std::size_t id = std::hash<std::string>()(std::to_string(size) + "/" +
                                                  std::to_string(mtime.time_since_epoch().count()));
  return "webhookd_itest_template_" + std::to_string(id % 1'000'000'000);
}

// The database every test database is copied from: template0 with webhookd's migrations
// applied (`webhookd migrate`), so that servers do not migrate at each start. Parallel test
// processes make it once, under an advisory lock; it counts as made once it is marked
// IS_TEMPLATE, so a half-made one (its maker killed) is made again.
Result<std::string> MigratedTemplate(PgSession& admin, const std::string& admin_url) {
  const std::string name = TemplateName();
  if (Result<std::string> locked =
          admin.Run("SELECT pg_advisory_lock($1::bigint)::text", {kTemplateLockKey});
      !locked.ok()) {
    return locked.error();
  }
  auto made = [&]() -> Status {
    Result<std::string> ready =
        admin.Run("SELECT datistemplate::text FROM pg_database WHERE datname = $1", {name});
    if (!ready.ok()) return ready.error();
    if (*ready == "true") return Status::Ok();
    for (const std::string& sql : {"DROP DATABASE IF EXISTS " + name + " WITH (FORCE)",
                                   "CREATE DATABASE " + name + " TEMPLATE template0"}) {
      if (Result<std::string> done = admin.Run(sql); !done.ok()) return done.error();
    }
    const CommandResult migrated =
        RunCommand({"migrate", "--db", WithDatabase(admin_url, name).value()}, {}, 60s);
    if (migrated.exit_code != 0) {
      return Error::Internal("webhookd migrate failed: " + migrated.err);
    }
    Result<std::string> marked = admin.Run("ALTER DATABASE " + name + " IS_TEMPLATE true");
    return marked.ok() ? Status::Ok() : Status(marked.error());
  }();
  (void)admin.Run("SELECT pg_advisory_unlock($1::bigint)::text", {kTemplateLockKey});
  if (!made.ok()) return made.error();
  return name;
}

}  // namespace

Result<std::unique_ptr<TestDatabase>> TestDatabase::Create(
    Backend backend, const std::filesystem::path& sqlite_dir) {
  if (backend == Backend::kSqlite) {
    return std::unique_ptr<TestDatabase>(
        new TestDatabase(backend, "sqlite:" + (sqlite_dir / "db.sqlite").string(), "", ""));
  }
  const std::string admin_url = TestPostgresUrl();
  if (admin_url.empty()) return Error::Invalid(kNoPostgresMessage);
  // Unique on the server even when other test runs (other builds, other machines) share it:
  // pid and sequence number within this machine's run, a random part across runs.
  const std::string name = "webhookd_itest_" + std::to_string(getpid()) + "_" +
                           std::to_string(database_sequence.fetch_add(1)) + "_" +
                           std::to_string(std::random_device()() % 1'000'000);
  const std::optional<std::string> url = WithDatabase(admin_url, name);
  if (!url) return Error::Invalid("WEBHOOKD_TEST_PG_URL must be a postgres:// URL");
  PgSession admin(admin_url);
  if (Status connected = admin.Connected(); !connected.ok()) return connected.error();
  Result<std::string> source = MigratedTemplate(admin, admin_url);
  if (!source.ok()) return source.error();
  if (Result<std::string> created = admin.Run("CREATE DATABASE " + name + " TEMPLATE " + *source);
      !created.ok()) {
    return created.error();
  }
  if (Status written = WriteTestKeyFile(TestKeyFile(*url)); !written.ok()) return written.error();
  return std::unique_ptr<TestDatabase>(new TestDatabase(backend, *url, admin_url, name));
}

TestDatabase::TestDatabase(Backend backend, std::string url, std::string admin_url,
                           std::string name)
    : backend_(backend),
      url_(std::move(url)),
      admin_url_(std::move(admin_url)),
      name_(std::move(name)) {}

TestDatabase::~TestDatabase() {
  if (backend_ != Backend::kPostgres) return;
  std::error_code ignored;
  std::filesystem::remove(key_file(), ignored);
  // DROP DATABASE forces a checkpoint (about a second on a busy disk), which the test need not
  // wait for.
  PgSession admin(admin_url_);
  if (admin.Connected().ok()) {
    admin.SendAndForget("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
  }
}

std::filesystem::path TestDatabase::key_file() const {
  if (backend_ == Backend::kSqlite) return url_.substr(std::string_view("sqlite:").size()) + ".key";
  return TestKeyFile(url_);
}

Status TestDatabase::DropNow() {
  if (backend_ != Backend::kPostgres) return Error::Invalid("only a PostgreSQL database drops");
  PgSession admin(admin_url_);
  if (Status connected = admin.Connected(); !connected.ok()) return connected;
  Result<std::string> dropped = admin.Run("DROP DATABASE " + name_ + " WITH (FORCE)");
  return dropped.ok() ? Status::Ok() : Status(dropped.error());
}

Status TestDatabase::Execute(const std::string& sql) {
  if (backend_ == Backend::kPostgres) {
    PgSession session(url_);
    if (Status connected = session.Connected(); !connected.ok()) return connected;
    Result<std::string> done = session.Run(sql);
    return done.ok() ? Status::Ok() : Status(done.error());
  }
  sqlite3* db = nullptr;
  const std::string path = url_.substr(std::string_view("sqlite:").size());
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr);
  if (rc == SQLITE_OK) rc = sqlite3_busy_timeout(db, 10'000);
  char* message = nullptr;
  if (rc == SQLITE_OK) rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message);
  Status out = Status::Ok();
  if (rc != SQLITE_OK) {
    out = Error::Internal(sql + ": " + (message != nullptr ? message : sqlite3_errmsg(db)));
  }
  sqlite3_free(message);
  sqlite3_close(db);
  return out;
}

std::string ProcessExit::Describe() const {
  return exited ? "exit " + std::to_string(code) : "signal " + std::to_string(signal);
}

// ---- RunCommand ----

CommandResult RunCommand(const std::vector<std::string>& args, const EnvVars& env,
                         std::chrono::milliseconds timeout) {
  CommandResult result;
  int out_pipe[2];
  int err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) {
    result.err = "pipe failed";
    return result;
  }
  ExecArgs exec(args, env);
  const pid_t pid = fork();
  if (pid == 0) ExecChild(exec, out_pipe[1], err_pipe[1], 0);
  close(out_pipe[1]);
  close(err_pipe[1]);

  // Drain both pipes together so that a chatty child never blocks on a full pipe.
  const auto deadline = std::chrono::steady_clock::now() + Scaled(timeout);
  std::array<pollfd, 2> fds{{{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}}};
  std::array<std::string*, 2> sinks{&result.out, &result.err};
  int open_fds = 2;
  bool timed_out = false;
  while (open_fds > 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left <= 0ms) {
      timed_out = true;
      break;
    }
    if (poll(fds.data(), fds.size(), static_cast<int>(left.count())) < 0 && errno != EINTR) break;
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buf[4096];
      const ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        sinks[i]->append(buf, static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  if (timed_out && pid > 0) kill(pid, SIGKILL);
  for (const auto& fd : fds) {
    if (fd.fd >= 0) close(fd.fd);
  }
  int status = 0;
  if (pid > 0 && waitpid(pid, &status, 0) == pid) {
    const ProcessExit exit = FromWaitStatus(status);
    result.exit_code = exit.exited && !timed_out ? exit.code : -1;
  }
  return result;
}

// ---- ServerProcess ----

ServerProcess::ServerProcess(std::vector<std::string> args, EnvVars env,
                             std::filesystem::path log_dir)
    : args_(std::move(args)), env_(std::move(env)) {
  const std::string tag = "webhookd-" + std::to_string(process_sequence.fetch_add(1));
  stdout_path_ = log_dir / (tag + ".stdout");
  stderr_path_ = log_dir / (tag + ".stderr");
}

ServerProcess::~ServerProcess() { Kill(); }

Result<std::unique_ptr<ServerProcess>> ServerProcess::StartServe(
    const std::string& db_url, const std::vector<std::string>& extra_args,
    const std::filesystem::path& log_dir, const EnvVars& env) {
  std::vector<std::string> args = {"serve", "--listen", "127.0.0.1:0", "--db", db_url};
  // The suite runs a second time on the other outbound HTTP implementation (tests/CMakeLists).
  if (const char* client = std::getenv("WEBHOOKD_TEST_HTTP_CLIENT")) {
    args.insert(args.end(), {"--http-client", client});
  }
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  auto server = std::make_unique<ServerProcess>(std::move(args), env, log_dir);
  if (Status started = server->Start(); !started.ok()) return started.error();
  return server;
}

Status ServerProcess::Start(std::chrono::milliseconds timeout) {
  if (pid_ > 0) return Error::Conflict("already running");
  const int out_fd = open(stdout_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  const int err_fd = open(stderr_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (out_fd < 0 || err_fd < 0) return Error::Internal("cannot create log files");
  ExecArgs exec(args_, env_);
  pid_ = fork();
  if (pid_ == 0) ExecChild(exec, out_fd, err_fd, open_file_limit_);
  close(out_fd);
  close(err_fd);
  if (pid_ < 0) return Error::Internal("fork failed");

  timeout = Scaled(timeout);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (ParseListeningLine(ReadStdout())) return Status::Ok();
    if (!Running()) {
      // Output written just before exiting may contain the line after all.
      if (ParseListeningLine(ReadStdout())) return Status::Ok();
      return Error::Unavailable("webhookd exited before listening; stderr: " +
                                Tail(ReadStderr(), 2000) + " stdout: " + Tail(ReadStdout(), 500));
    }
    std::this_thread::sleep_for(5ms);
  }
  Kill();
  return Error::Unavailable("webhookd did not print its listening line within " +
                            std::to_string(timeout.count()) +
                            " ms; stderr: " + Tail(ReadStderr(), 2000));
}

bool ServerProcess::ParseListeningLine(const std::string& out) {
  static const std::regex kListening(R"(webhookd listening on (http://[^\s:/]+:(\d+))\r?\n)");
  static const std::regex kAdminKey(R"(Admin API key \(shown once\): (whk_[0-9a-f]{64}))");
  std::smatch m;
  if (!std::regex_search(out, m, kListening)) return false;
  base_url_ = m[1];
  port_ = std::stoi(m[2]);
  if (std::smatch key; std::regex_search(out, key, kAdminKey)) admin_key_ = key[1];
  return true;
}

bool ServerProcess::Running() {
  if (pid_ <= 0) return false;
  int status = 0;
  const pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == 0) return true;
  pid_ = -1;
  return false;
}

std::optional<ProcessExit> ServerProcess::WaitForExit(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + Scaled(timeout);
  while (true) {
    int status = 0;
    const pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      return FromWaitStatus(status);
    }
    if (r < 0) {  // already reaped elsewhere: nothing more to learn
      pid_ = -1;
      return std::nullopt;
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(5ms);
  }
}

std::optional<ProcessExit> ServerProcess::StopWith(int signal, std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return std::nullopt;
  kill(pid_, signal);
  if (auto exit = WaitForExit(timeout)) return exit;
  Kill();
  return std::nullopt;
}

std::optional<ProcessExit> ServerProcess::Terminate(std::chrono::milliseconds timeout) {
  return StopWith(SIGTERM, timeout);
}

std::optional<ProcessExit> ServerProcess::Kill() {
  if (pid_ <= 0) return std::nullopt;
  kill(pid_, SIGKILL);
  int status = 0;
  const pid_t r = waitpid(pid_, &status, 0);
  const pid_t pid = pid_;
  pid_ = -1;
  if (r != pid) return std::nullopt;
  return FromWaitStatus(status);
}

// ---- HttpClient ----

namespace {

struct CurlGlobal {
  CurlGlobal() { curl_global_init(CURL_GLOBAL_DEFAULT); }
  ~CurlGlobal() { curl_global_cleanup(); }
};

void EnsureCurlGlobal() { static CurlGlobal global; }

size_t AppendBody(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

size_t CollectHeader(char* data, size_t size, size_t count, void* user) {
  auto* headers = static_cast<std::map<std::string, std::string>*>(user);
  const std::string_view line(data, size * count);
  // A new status line (after "100 Continue", say) starts a new header block.
  if (line.starts_with("HTTP/")) {
    headers->clear();
  } else if (const auto colon = line.find(':'); colon != std::string_view::npos) {
    AddHeader(*headers, line.substr(0, colon), line.substr(colon + 1));
  }
  return size * count;
}

}  // namespace

RawConnection::RawConnection(int port, int send_buffer_bytes) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error_ = std::strerror(errno);
    return;
  }
  if (send_buffer_bytes > 0) {
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &send_buffer_bytes, sizeof send_buffer_bytes);
  }
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    error_ = std::strerror(errno);
    close(fd);
    return;
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  fd_ = fd;
}

RawConnection::~RawConnection() {
  if (fd_ >= 0) close(fd_);
}

bool RawConnection::Send(std::string_view bytes, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!bytes.empty() && fd_ >= 0) {
    const ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n > 0) {
      bytes.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      error_ = std::strerror(errno);
      return false;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left <= 0ms) {
      error_ = "send timed out";
      return false;
    }
    pollfd p{fd_, POLLOUT, 0};
    poll(&p, 1, static_cast<int>(left.count()));
  }
  return fd_ >= 0;
}

bool RawConnection::ReceiveSome(std::chrono::milliseconds timeout) {
  if (fd_ < 0 || closed_) return false;
  pollfd p{fd_, POLLIN, 0};
  if (poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return true;
  std::array<char, 16384> chunk;
  const ssize_t n = recv(fd_, chunk.data(), chunk.size(), 0);
  if (n > 0) {
    received_.append(chunk.data(), static_cast<std::size_t>(n));
    return true;
  }
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return true;
  if (n < 0) error_ = std::strerror(errno);
  closed_ = true;
  return false;
}

bool RawConnection::WaitForClose(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!closed_ && fd_ >= 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left <= 0ms) return false;
    ReceiveSome(std::min<std::chrono::milliseconds>(left, 50ms));
  }
  return true;
}

std::string RawConnection::ReadUntilClosed(std::chrono::milliseconds timeout) {
  timed_out_ = !WaitForClose(timeout);
  return std::exchange(received_, {});
}

std::string HttpResponse::Header(std::string_view name) const { return FindHeader(headers, name); }

std::string HttpResponse::Summary() const {
  if (status == 0) return "no response: " + error;
  return "HTTP " + std::to_string(status) + " " +
         (body.size() > 600 ? body.substr(0, 600) + "..." : body);
}

HttpClient::HttpClient(std::string base_url, std::string bearer)
    : base_url_(std::move(base_url)), bearer_(std::move(bearer)) {
  EnsureCurlGlobal();
  curl_ = curl_easy_init();
}

HttpClient::HttpClient(HttpClient&& other) noexcept
    : curl_(std::exchange(other.curl_, nullptr)),
      base_url_(std::move(other.base_url_)),
      bearer_(std::move(other.bearer_)),
      timeout_(other.timeout_) {}

HttpClient::~HttpClient() {
  if (curl_ != nullptr) curl_easy_cleanup(static_cast<CURL*>(curl_));
}

HttpResponse HttpClient::Request(std::string_view method, std::string_view path,
                                 std::string_view body, const HeaderList& headers) {
  CURL* curl = static_cast<CURL*>(curl_);
  // Reset clears the options but keeps the connection cache: keep-alive still applies.
  curl_easy_reset(curl);
  HttpResponse response;
  const std::string url = base_url_ + std::string(path);
  const std::string method_text(method);
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method_text.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(Scaled(timeout_).count()));
  if (method == "HEAD") curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  if (!body.empty()) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }

  // Defaults first; a caller's header of the same name replaces it (empty value: removes it).
  HeaderList all;
  if (!bearer_.empty()) all.emplace_back("Authorization", "Bearer " + bearer_);
  if (!body.empty()) all.emplace_back("Content-Type", "application/json");
  all.emplace_back("Expect", "");  // send bodies at once, never wait for "100 Continue"
  for (const auto& [name, value] : headers) {
    const std::string lowered = ToLower(name);
    std::erase_if(all, [&](const auto& h) { return ToLower(h.first) == lowered; });
    all.emplace_back(name, value);
  }
  curl_slist* list = nullptr;
  for (const auto& [name, value] : all) {
    // "Name:" tells libcurl to drop its own header of that name.
    list = curl_slist_append(list, (value.empty() ? name + ":" : name + ": " + value).c_str());
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, AppendBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, CollectHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &response.headers);

  const CURLcode rc = curl_easy_perform(curl);
  curl_slist_free_all(list);
  if (rc != CURLE_OK) response.error = curl_easy_strerror(rc);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &last_new_connections_);
  curl_easy_getinfo(curl, CURLINFO_LOCAL_PORT, &last_local_port_);

  boost::system::error_code ec;
  if (!response.body.empty()) {
    response.json = boost::json::parse(response.body, ec);
    response.is_json = !ec;
    if (ec) response.json = nullptr;
  }
  return response;
}

HttpResponse HttpClient::Post(std::string_view path, const boost::json::value& body) {
  return Request("POST", path, boost::json::serialize(body));
}
HttpResponse HttpClient::Put(std::string_view path, const boost::json::value& body) {
  return Request("PUT", path, boost::json::serialize(body));
}
HttpResponse HttpClient::Patch(std::string_view path, const boost::json::value& body) {
  return Request("PATCH", path, boost::json::serialize(body));
}

// ---- HttpReceiver ----

namespace {

constexpr std::size_t kMaxHeaderBytes = 64 * 1024;

const char* ReasonPhrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 404:
      return "Not Found";
    case 408:
      return "Request Timeout";
    case 410:
      return "Gone";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "Status";
  }
}

// Buffered reads from one socket, giving up when the receiver stops.
class SocketReader {
 public:
  SocketReader(int fd, const std::atomic<bool>& stopping) : fd_(fd), stopping_(stopping) {}

  // Reads until `buffer_` contains `delimiter`; returns the text before it (and consumes both).
  std::optional<std::string> ReadUntil(std::string_view delimiter, std::size_t max_bytes) {
    while (true) {
      if (const auto pos = buffer_.find(delimiter); pos != std::string::npos) {
        std::string head = buffer_.substr(0, pos);
        buffer_.erase(0, pos + delimiter.size());
        return head;
      }
      if (buffer_.size() > max_bytes || !Fill()) return std::nullopt;
    }
  }

  std::optional<std::string> ReadExactly(std::size_t n) {
    while (buffer_.size() < n) {
      if (!Fill()) return std::nullopt;
    }
    std::string out = buffer_.substr(0, n);
    buffer_.erase(0, n);
    return out;
  }

 private:
  bool Fill() {
    while (!stopping_) {
      pollfd p{fd_, POLLIN, 0};
      const int ready = poll(&p, 1, 50);
      if (ready < 0 && errno != EINTR) return false;
      if (ready <= 0) continue;
      char buf[16384];
      const ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n > 0) {
        buffer_.append(buf, static_cast<std::size_t>(n));
        return true;
      }
      if (n == 0 || errno != EINTR) return false;
    }
    return false;
  }

  int fd_;
  const std::atomic<bool>& stopping_;
  std::string buffer_;
};

std::optional<std::string> ReadChunkedBody(SocketReader& reader) {
  std::string body;
  while (true) {
    const auto size_line = reader.ReadUntil("\r\n", 1024);
    if (!size_line) return std::nullopt;
    const std::size_t size = std::strtoul(size_line->c_str(), nullptr, 16);
    if (size == 0) {
      // Trailers (ignored) end with an empty line.
      while (true) {
        const auto trailer = reader.ReadUntil("\r\n", kMaxHeaderBytes);
        if (!trailer) return std::nullopt;
        if (trailer->empty()) return body;
      }
    }
    const auto chunk = reader.ReadExactly(size + 2);  // data + CRLF
    if (!chunk) return std::nullopt;
    body.append(*chunk, 0, size);
  }
}

bool SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace

std::string ReceivedRequest::Header(std::string_view name) const {
  return FindHeader(headers, name);
}

HttpReceiver::HttpReceiver()
    : HttpReceiver([](const ReceivedRequest&) { return ReceiverResponse{}; }) {}

HttpReceiver::HttpReceiver(Handler handler) : handler_(std::move(handler)) {
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(listen_fd_, 128) != 0 ||
      getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::perror("HttpReceiver: bind/listen");
    std::abort();
  }
  port_ = ntohs(addr.sin_port);
  accept_thread_ = std::thread([this] { AcceptLoop(); });
}

HttpReceiver::~HttpReceiver() { Stop(); }

void HttpReceiver::SetHandler(Handler handler) {
  std::lock_guard lock(mu_);
  handler_ = std::move(handler);
}

std::string HttpReceiver::Url(std::string_view path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + std::string(path);
}

std::vector<ReceivedRequest> HttpReceiver::Requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

std::size_t HttpReceiver::Count() const {
  std::lock_guard lock(mu_);
  return requests_.size();
}

bool HttpReceiver::WaitFor(std::size_t count, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, Scaled(timeout), [&] { return requests_.size() >= count; });
}

void HttpReceiver::Clear() {
  std::lock_guard lock(mu_);
  requests_.clear();
}

void HttpReceiver::Stop() {
  {
    // Set under the lock so that a thread in SleepUnlessStopped cannot miss the wake-up.
    std::lock_guard lock(mu_);
    if (stopping_.exchange(true)) return;
  }
  cv_.notify_all();
  accept_thread_.join();
  close(listen_fd_);
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mu_);
    for (const int fd : connection_fds_) shutdown(fd, SHUT_RDWR);
    threads.swap(connection_threads_);
  }
  for (auto& t : threads) t.join();
}

bool HttpReceiver::SleepUnlessStopped(std::chrono::milliseconds delay) {
  std::unique_lock lock(mu_);
  return !cv_.wait_for(lock, delay, [&] { return stopping_.load(); });
}

void HttpReceiver::AcceptLoop() {
  std::size_t next_connection = 0;
  while (!stopping_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::lock_guard lock(mu_);
    connection_fds_.push_back(fd);
    const std::size_t id = next_connection++;
    connection_threads_.emplace_back([this, fd, id] { ServeConnection(fd, id); });
  }
}

void HttpReceiver::ServeConnection(int fd, std::size_t connection) {
  SocketReader reader(fd, stopping_);
  while (!stopping_) {
    const auto head = reader.ReadUntil("\r\n\r\n", kMaxHeaderBytes);
    if (!head) break;
    ReceivedRequest request;
    request.connection = connection;
    std::istringstream lines(*head);
    std::string line;
    std::getline(lines, line);
    std::istringstream request_line(line);
    request_line >> request.method >> request.target;
    while (std::getline(lines, line)) {
      if (const auto colon = line.find(':'); colon != std::string::npos) {
        AddHeader(request.headers, std::string_view(line).substr(0, colon),
                  std::string_view(line).substr(colon + 1));
      }
    }
    std::optional<std::string> body = std::string();
    if (ToLower(request.Header("transfer-encoding")).find("chunked") != std::string::npos) {
      body = ReadChunkedBody(reader);
    } else if (const std::string length = request.Header("content-length"); !length.empty()) {
      body = reader.ReadExactly(std::strtoull(length.c_str(), nullptr, 10));
    }
    if (!body) break;
    request.body = std::move(*body);
    request.arrived = std::chrono::steady_clock::now();
    request.arrived_wall = std::chrono::system_clock::now();

    Handler handler;
    {
      std::lock_guard lock(mu_);
      request.index = next_index_++;
      requests_.push_back(request);
      handler = handler_;
    }
    cv_.notify_all();

    const ReceiverResponse response = handler(request);
    if (response.delay > 0ms && !SleepUnlessStopped(response.delay)) break;
    if (response.close_without_response) break;
    const bool close_after = ToLower(request.Header("connection")) == "close";
    std::string out = "HTTP/1.1 " + std::to_string(response.status) + " " +
                      ReasonPhrase(response.status) + "\r\n";
    out += "Content-Length: " + std::to_string(response.body.size()) + "\r\n";
    for (const auto& [name, value] : response.headers) out += name + ": " + value + "\r\n";
    if (close_after) out += "Connection: close\r\n";
    out += "\r\n" + response.body;
    if (!SendAll(fd, out) || close_after) break;
  }
  std::lock_guard lock(mu_);
  std::erase(connection_fds_, fd);
  close(fd);
}

}  // namespace webhookd::itest
