// HttpClient on Boost.Beast and asio::ssl: one asio::io_context thread drives every request,
// one coroutine each, over HTTP/1.1 keep-alive connections pooled per origin, and lends itself
// to the dispatcher (loop()). Certificates are
// verified (OpenSSL 3, with SNI and a host name check), TLS sessions are resumed per origin,
// redirects are never followed, and the SSRF guard judges every resolved address before a
// socket is connected to it. Beast and Asio stay out of this header.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "delivery/http_client.hpp"
#include "delivery/ssrf_guard.hpp"

namespace webhookd::delivery {

struct BeastHttpClientOptions {
  SsrfGuard ssrf_guard;  // enabled with an empty allow-list by default
  // Connections (busy or idle) to one origin (scheme+host+port) at once; further requests to
  // it wait for one, within their timeout. Match the dispatcher's per-origin in-flight cap.
  int max_host_connections = 16;
  // Connections at once, idle ones included; at the cap an idle connection to another origin
  // is closed to make room.
  int max_total_connections = 256;
  // How long Stop() lets in-flight requests finish before cancelling them.
  std::chrono::milliseconds shutdown_grace{10'000};
  std::string ca_file;  // PEM bundle of trusted CAs; empty: the system's
  // How long a host name's resolved addresses are reused.
  std::chrono::milliseconds dns_cache_ttl{5'000};
  // An idle connection older than this is closed rather than reused (servers close idle
  // connections after 5 s (Node.js) to 75 s (nginx); reusing one just then fails).
  std::chrono::milliseconds max_idle{30'000};
  // "HOST:PORT:ADDRESS[,ADDRESS...]": addresses to use for HOST:PORT instead of asking DNS,
  // in this order (libcurl's CURLOPT_RESOLVE). For tests; every address still meets the guard.
  std::vector<std::string> resolve;
};

class BeastHttpClient final : public HttpClient {
 public:
  // Starts the client's thread. Error::Invalid if the CA file cannot be loaded or a resolve entry
  // does not parse.
  static Result<std::unique_ptr<BeastHttpClient>> Create(BeastHttpClientOptions options);
  // Stops (see Stop()) if that has not been done.
  ~BeastHttpClient() override;
  BeastHttpClient(const BeastHttpClient&) = delete;
  BeastHttpClient& operator=(const BeastHttpClient&) = delete;

  // Thread-safe. From another thread it posts to the client's thread; on the client's thread
  // (the dispatcher's, through loop()) the request starts at once, and `done` may run before
  // Send returns when the request fails before anything is sent. `done` runs on the client's
  // thread, except after Stop() has begun: then at once on the calling thread, cancelled.
  void Send(HttpRequest request, Callback done) override;
  // The client's thread, lent to the dispatcher: its work runs between the client's I/O. The
  // loop stops with the client (stop the dispatcher first).
  EventLoop* loop() override;

  // Stops accepting requests, lets in-flight ones finish within the grace period, then
  // cancels the rest (their `done` gets a cancelled response) and joins the client's thread.
  // Every `done` has been called when it returns. Idempotent; do not call it from `done`.
  void Stop();

 private:
  struct Impl;
  explicit BeastHttpClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace webhookd::delivery
