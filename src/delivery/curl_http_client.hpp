// HttpClient on libcurl's multi interface: one transfer thread drives every request, reusing
// keep-alive connections per host. Certificates are verified, redirects never followed, and
// the SSRF guard judges each address right before a socket is opened to it.
#pragma once

#include <curl/curl.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/result.hpp"
#include "delivery/http_client.hpp"
#include "delivery/ssrf_guard.hpp"

namespace webhookd::delivery {

struct CurlHttpClientOptions {
  SsrfGuard ssrf_guard;  // enabled with an empty allow-list by default
  // Connections to one host:port at once; further requests to it wait inside libcurl.
  // Match the dispatcher's per-endpoint in-flight cap.
  int max_host_connections = 16;
  int max_total_connections = 256;  // also the size of the keep-alive connection cache
  // How long Stop() lets in-flight requests finish before cancelling them.
  std::chrono::milliseconds shutdown_grace{10'000};
  std::string ca_file;  // PEM bundle of trusted CAs; empty: the system's
  // "HOST:PORT:ADDRESS[,ADDRESS...]": addresses to use for HOST:PORT instead of asking DNS,
  // in this order (CURLOPT_RESOLVE). For tests; every address still meets the guard.
  std::vector<std::string> resolve;
};

class CurlHttpClient final : public HttpClient {
 public:
  // Starts the transfer thread. Error::Internal if libcurl cannot be set up.
  static Result<std::unique_ptr<CurlHttpClient>> Create(CurlHttpClientOptions options);
  // Stops (see Stop()) if that has not been done.
  ~CurlHttpClient() override;
  CurlHttpClient(const CurlHttpClient&) = delete;
  CurlHttpClient& operator=(const CurlHttpClient&) = delete;

  // Thread-safe; only enqueues. `done` runs on the transfer thread. After Stop() has begun,
  // `done` runs at once on the calling thread with a cancelled response.
  void Send(HttpRequest request, Callback done) override;

  // Stops accepting requests, lets in-flight ones finish within the grace period, then
  // cancels the rest (their `done` gets a cancelled response) and joins the transfer thread.
  // Every `done` has been called when it returns. Idempotent; do not call it from `done`.
  void Stop();

 private:
  struct Transfer;
  struct Queued {
    HttpRequest request;
    Callback done;
    std::chrono::steady_clock::time_point enqueued_at;
  };

  CurlHttpClient(CurlHttpClientOptions options, CURLM* multi);
  void Run();
  void AdoptQueued();
  void Start(Queued queued);
  void CompleteFinished();
  bool ShouldExit();
  void CancelEverything();

  const CurlHttpClientOptions options_;
  CURLM* const multi_;
  curl_slist* resolve_list_ = nullptr;  // options_.resolve, for every transfer
  std::thread thread_;
  std::mutex stop_mutex_;  // serialises Stop() callers

  std::mutex mutex_;
  std::vector<Queued> queue_;                       // guarded by mutex_
  bool stopping_ = false;                           // guarded by mutex_
  std::chrono::steady_clock::time_point deadline_;  // guarded by mutex_; valid when stopping_

  // Transfer thread only.
  std::unordered_map<CURL*, std::unique_ptr<Transfer>> active_;
};

}  // namespace webhookd::delivery
