#include "app/child_server.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

namespace webhookd::app {
namespace {

std::string ReadWhole(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The text after `marker` up to the next whitespace, or "" if `marker` is not in `text`.
std::string WordAfter(const std::string& text, std::string_view marker) {
  const std::size_t at = text.find(marker);
  if (at == std::string::npos) return {};
  const std::size_t begin = at + marker.size();
  const std::size_t end = text.find_first_of(" \t\r\n", begin);
  if (end == std::string::npos) return {};  // the line is not complete yet
  return text.substr(begin, end - begin);
}

}  // namespace

std::string TailOfFile(const std::filesystem::path& path, std::size_t max_bytes) {
  const std::string text = ReadWhole(path);
  return text.size() <= max_bytes ? text : "..." + text.substr(text.size() - max_bytes);
}

Result<std::unique_ptr<ChildServer>> ChildServer::Start(const std::vector<std::string>& args,
                                                        const std::filesystem::path& dir,
                                                        std::chrono::milliseconds timeout) {
  std::unique_ptr<ChildServer> child(new ChildServer());
  child->out_path_ = dir / "server.out";
  child->log_path_ = dir / "server.log";
  // Everything the child needs is prepared before fork(): after it, only async-signal-safe
  // calls are allowed (this process has threads).
  std::string exe = "/proc/self/exe";
  std::vector<std::string> argv_text = {"webhookd"};
  argv_text.insert(argv_text.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_text) argv.push_back(a.data());
  argv.push_back(nullptr);
  const int out_fd = open(child->out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  const int log_fd = open(child->log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (out_fd < 0 || log_fd < 0) return Error::Unavailable("cannot create files in " + dir.string());
  const pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    const int null_fd = open("/dev/null", O_RDONLY);
    if (null_fd >= 0) dup2(null_fd, STDIN_FILENO);
    dup2(out_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    execv(exe.c_str(), argv.data());
    _exit(127);
  }
  close(out_fd);
  close(log_fd);
  if (pid < 0) return Error::Unavailable("fork failed");
  child->pid_ = pid;

  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (child->ParseStartup()) return child;
    if (child->Exited(std::chrono::milliseconds(0))) {
      return Error::Unavailable("the server exited at start:\n" +
                                TailOfFile(child->log_path_, 2000));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return Error::Unavailable("the server did not start within " + std::to_string(timeout.count()) +
                            " ms:\n" + TailOfFile(child->log_path_, 2000));
}

ChildServer::~ChildServer() { Stop(); }

bool ChildServer::ParseStartup() {
  const std::string out = ReadWhole(out_path_);
  url_ = WordAfter(out, "webhookd listening on ");
  admin_key_ = WordAfter(out, "Admin API key (shown once): ");
  return !url_.empty();
}

bool ChildServer::Exited(std::chrono::milliseconds wait) {
  if (pid_ <= 0) return true;
  const auto deadline = std::chrono::steady_clock::now() + wait;
  for (;;) {
    int status = 0;
    const pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r != 0) {  // exited, or (r < 0) not our child any more: either way it is gone
      pid_ = -1;
      exit_status_ = r > 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      return true;
    }
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

bool ChildServer::Stop() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    if (!Exited(std::chrono::seconds(10))) {
      kill(pid_, SIGKILL);
      Exited(std::chrono::seconds(5));
      return false;
    }
  }
  return exit_status_ == 0;
}

}  // namespace webhookd::app
