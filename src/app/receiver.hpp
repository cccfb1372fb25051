// A local webhook receiver: the engine of `webhookd listen`, reused by `webhookd demo`.
//
// It answers POST on any path, verifies each request's Standard Webhooks signature with
// include/webhookd/verify.hpp, prints one line per request and answers as told (a status, a
// canned JSON body, a delay, simulated failures).
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include "api/http_message.hpp"
#include "api/router.hpp"
#include "api/server.hpp"
#include "core/result.hpp"

namespace webhookd::app {

struct ReceiverOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 9000;  // 0: any free port
  // "whsec_..." (or "whpk_..." for ed25519) to verify with; empty: requests are not verified.
  // A request that fails verification is answered 401, as a real receiver should.
  std::string secret;
  bool print_body = false;             // pretty-print each JSON body after its line
  int status = 200;                    // the answer to requests that are not failed on purpose
  double fail_rate = 0;                // this fraction of requests is answered 500
  std::uint64_t seed = 0;              // for the fail_rate draws, so that runs repeat
  std::chrono::milliseconds delay{0};  // wait before answering
  std::string respond_body;            // JSON sent with 2xx answers; empty: no body
  int fail_first_attempts = 0;         // answer 500 to the first N requests of each webhook-id
  std::string line_prefix;             // printed before every line (the demo names receivers)
  std::FILE* out = stdout;             // where lines go
  int threads = 8;                     // requests handled at once (a delay holds one)
};

struct ReceiverStats {
  std::int64_t received = 0;
  std::int64_t verified = 0;
  std::int64_t failed_verification = 0;
  std::int64_t unverified = 0;  // no secret to verify with
  std::int64_t answered_2xx = 0;
  std::int64_t answered_other = 0;
};

class Receiver {
 public:
  explicit Receiver(ReceiverOptions options);
  ~Receiver();
  Receiver(const Receiver&) = delete;
  Receiver& operator=(const Receiver&) = delete;

  // Binds; returns the bound port (useful with port 0).
  Result<std::uint16_t> Listen();
  // Serves until SIGINT/SIGTERM or Shutdown(); see api::HttpServer::Run.
  void Run();
  // Starts a graceful stop; thread-safe, returns at once.
  void Shutdown();

  // Thread-safe snapshots.
  ReceiverStats Stats() const;
  // Whether every request carrying this webhook-id verified; nullopt if none arrived.
  std::optional<bool> AllVerified(std::string_view webhook_id) const;

 private:
  // The receiver's judgement of one request's signature.
  struct Verdict {
    enum class Kind { kVerified, kFailed, kUnverified } kind;
    std::string text;  // what the line shows
  };
  // What has arrived for one webhook-id.
  struct Seen {
    int requests = 0;
    bool all_verified = true;
  };

  api::Response Handle(const api::Request& request);
  Verdict Check(const api::Request& request) const;
  // Records the request and picks the status to answer with.
  int Decide(const api::Request& request, const Verdict& verdict);
  void PrintLine(std::chrono::system_clock::time_point arrived, const api::Request& request,
                 const Verdict& verdict, int status);

  ReceiverOptions options_;
  api::Router router_;
  std::unique_ptr<api::HttpServer> server_;

  mutable std::mutex mu_;
  ReceiverStats stats_;                            // guarded by mu_
  std::map<std::string, Seen, std::less<>> seen_;  // by webhook-id; guarded by mu_
  std::mt19937_64 random_;                         // guarded by mu_
  std::mutex print_mu_;                            // keeps a line and its body together
};

}  // namespace webhookd::app
