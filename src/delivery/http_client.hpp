// Outbound HTTP as an interface (Envoy style), so that the dispatcher runs against a scripted
// fake in unit tests and against Beast (BeastHttpClient) or libcurl (CurlHttpClient) in the
// server (`serve --http-client`).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace webhookd::delivery {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

// The body of a response is kept up to this size; the rest is read and dropped.
inline constexpr std::size_t kMaxResponseBodyBytes = 64 * 1024;

// Always a POST: webhooks are the only outbound requests.
struct HttpRequest {
  std::string url;
  HttpHeaders headers;  // sent in this order
  std::string body;
  std::int64_t connect_timeout_ms = 5'000;
  std::int64_t timeout_ms = 15'000;  // the whole request, connect included
};

struct HttpResponse {
  int status_code = 0;  // 0: no HTTP response (transport error)
  HttpHeaders headers;  // names lowercased, values trimmed, in received order
  std::string body;     // the first kMaxResponseBodyBytes bytes
  bool body_truncated = false;
  // Empty for an HTTP response (whatever its status); otherwise what went wrong, e.g.
  // "refused 10.0.0.5: private address (RFC 1918); allow it with --allow-target or
  // WEBHOOKD_ALLOW_TARGETS" or "Timeout was reached: Operation timed out after 15000 milliseconds
  // with 0 bytes received".
  std::string error;
  bool transport_error = false;  // DNS, connect, TLS, timeout, refused by the SSRF guard
  // No answer within the connect or the total timeout (a transport error): the receiver may be
  // a black hole, which the dispatcher's stall detection must not take for an answer.
  bool timed_out = false;
  // The request was not finished because the client shut down; it says nothing about the
  // receiver and should not count as an attempt.
  bool cancelled = false;
  std::int64_t duration_ms = 0;
};

// The value of the first header named `lowercase_name`, or nullopt.
std::optional<std::string_view> FindHeader(const HttpHeaders& headers,
                                           std::string_view lowercase_name);

class EventLoop;  // event_loop.hpp

class HttpClient {
 public:
  using Callback = std::function<void(HttpResponse)>;
  virtual ~HttpClient() = default;

  // The loop whose thread calls `done`, when the implementation runs on one it can lend to its
  // caller (BeastHttpClient), so that the caller's work after each response needs no thread
  // hand-off; nullptr otherwise.
  virtual EventLoop* loop() { return nullptr; }

  // Starts sending `request` and returns without waiting. Thread-safe. `done` is called exactly
  // once, with the response or the reason there is none. Implementations document the thread
  // that calls it; `done` must be quick and must not block (hand the response to another
  // thread), and it may call Send again.
  virtual void Send(HttpRequest request, Callback done) = 0;
};

}  // namespace webhookd::delivery
