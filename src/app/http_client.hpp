// A small blocking HTTP client on one libcurl easy handle, for the subcommands that talk to a
// running webhookd server (`trigger`, `demo`).
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace webhookd::app {

struct HttpReply {
  long status = 0;
  std::string content_type;
  std::string body;
};

class HttpClient {
 public:
  // `base_url` like "http://127.0.0.1:8080"; a non-empty `bearer` is sent as
  // "Authorization: Bearer <bearer>" with every request.
  HttpClient(std::string base_url, std::string bearer);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends `method` base_url+`path`, with `body` as application/json when not empty. Any HTTP
  // status is a reply; Error::Unavailable only when no HTTP answer came (refused, timeout...).
  // Not thread-safe: one client per thread.
  Result<HttpReply> Send(std::string_view method, std::string_view path,
                         std::string_view body = {});

  const std::string& base_url() const { return base_url_; }

 private:
  void* curl_;  // CURL*, kept out of this header
  std::string base_url_;
  std::string authorization_;
  std::chrono::milliseconds timeout_{15'000};
};

// True for the error Send() returns when no HTTP answer came at all ("cannot reach URL: ..."),
// as opposed to a server that answered 503.
bool IsUnreachable(const Error& error);

}  // namespace webhookd::app
