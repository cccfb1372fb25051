// The HTTP/1.1 server (Boost.Beast on Asio, one coroutine per connection). This header keeps
// Beast and Asio out of its includers; only server.cpp compiles them.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "api/router.hpp"
#include "core/result.hpp"

namespace webhookd::api {

struct ServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;  // 0: any free port
  int io_threads = 2;         // read, parse and write HTTP; never block
  int threads = 4;            // run the handlers that may block (reads, configuration writes)
  std::size_t max_body_bytes = 1024 * 1024;
  // Open connections at most. At the cap a new connection displaces the one that has waited
  // longest for a request (preferring those that never sent one); when none waits, accepting
  // pauses until a connection closes.
  std::size_t max_connections = 512;
  std::chrono::milliseconds idle_timeout{60'000};    // waiting for a request's first byte
  std::chrono::milliseconds header_timeout{10'000};  // from that byte to the header's end
  std::chrono::milliseconds body_timeout{30'000};    // to receive the body, or send a response
  std::chrono::milliseconds drain_timeout{10'000};   // requests in flight at shutdown
};

class HttpServer {
 public:
  // `router` must outlive the server.
  HttpServer(ServerOptions options, const Router& router);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and listens; returns the bound port (useful with port 0).
  Result<std::uint16_t> Listen();

  // Serves on `io_threads` threads (the caller's among them) until SIGINT/SIGTERM or Shutdown():
  // then stops accepting, lets requests in flight finish (up to drain_timeout), closes idle
  // connections and returns.
  void Run();

  // Starts the graceful stop described above. Thread-safe; returns at once.
  void Shutdown();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace webhookd::api
