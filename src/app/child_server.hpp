// A `webhookd serve` child process of this very binary, for `webhookd demo`.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/result.hpp"

namespace webhookd::app {

class ChildServer {
 public:
  // Runs /proc/self/exe with `args` (e.g. {"serve", "--listen", "127.0.0.1:0", ...}), stdout
  // and stderr into `dir`/server.out and `dir`/server.log, and waits up to `timeout` for the
  // listening line. The child is killed if this process dies (PR_SET_PDEATHSIG), so call this
  // from the thread that lives longest (main). Error::Unavailable with the log's tail if the
  // server exits or stays silent.
  static Result<std::unique_ptr<ChildServer>> Start(const std::vector<std::string>& args,
                                                    const std::filesystem::path& dir,
                                                    std::chrono::milliseconds timeout);
  // Stop()s.
  ~ChildServer();
  ChildServer(const ChildServer&) = delete;
  ChildServer& operator=(const ChildServer&) = delete;

  // SIGTERM, then SIGKILL after 10 s; true if the server exited with status 0.
  bool Stop();

  // "http://127.0.0.1:PORT" as the server printed it.
  const std::string& url() const { return url_; }
  // The admin key the server printed on its first start (a fresh database).
  const std::string& admin_key() const { return admin_key_; }
  const std::filesystem::path& log_path() const { return log_path_; }

 private:
  ChildServer() = default;
  // Reads the listening line and admin key from the server's stdout; false until they are there.
  bool ParseStartup();
  bool Exited(std::chrono::milliseconds wait);

  int pid_ = -1;
  std::filesystem::path out_path_;
  std::filesystem::path log_path_;
  std::string url_;
  std::string admin_key_;
  int exit_status_ = -1;
};

// The last `max_bytes` of a file, for error messages.
std::string TailOfFile(const std::filesystem::path& path, std::size_t max_bytes);

}  // namespace webhookd::app
