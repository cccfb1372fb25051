// The HTTP/1.1 server (Boost.Beast on Asio, one coroutine per connection). This header keeps
// Beast and Asio out of its includers; only server.cpp compiles them.
//
// Threads: `io_threads` workers, each with its own io_context and listening socket. A
// connection stays on the worker that accepted it, so its coroutine needs no strand, and the
// request path takes no process-wide lock (the connection set's mutex is taken when a
// connection opens or closes). An event's request is parsed, validated and queued for the
// store's group commit on its worker; the commit's completion posts the answer back to that
// worker, which writes the 202. Handlers that may block (reads, configuration writes, test
// sends) run on a small pool (`threads`) and post their answer back the same way.
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
  // Workers: each runs its own event loop on its own thread and serves the connections it
  // accepts from their first byte to their last (parse, validate, ingest, answer); never block.
  int io_threads = 2;
  // Each worker listens on the address itself (SO_REUSEPORT; the kernel spreads connections).
  // False, or where the system refuses that, worker 0 listens alone and hands connections to
  // the workers in turn.
  bool reuse_port = true;
  int threads = 4;  // run the handlers that may block (reads, configuration writes)
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

  // Serves on `io_threads` workers (the caller's thread among them) until SIGINT/SIGTERM or
  // Shutdown(): then stops accepting, lets requests in flight finish (up to drain_timeout), closes
  // idle connections and returns.
  void Run();

  // Starts the graceful stop described above. Thread-safe; returns at once.
  void Shutdown();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace webhookd::api
