#include "store/postgres/listener.hpp"

#include <libpq-fe.h>
#include <poll.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <memory>

#include "store/postgres/connection.hpp"
#include "store/postgres/statements.hpp"

namespace webhookd::postgres {
namespace {

// Waits up to `timeout_ms` for the connection's socket to become readable.
bool WaitReadable(PGconn* conn, int timeout_ms) {
  pollfd fd{PQsocket(conn), POLLIN, 0};
  return ::poll(&fd, 1, timeout_ms) > 0;
}

}  // namespace

NotificationListener::NotificationListener(std::string conninfo, std::string schema,
                                           std::string own_payload, std::function<void()> on_work)
    : conninfo_(std::move(conninfo)),
      schema_prefix_(std::move(schema) + " "),
      own_payload_(std::move(own_payload)),
      on_work_(std::move(on_work)),
      thread_([this] { Loop(); }) {}

NotificationListener::~NotificationListener() {
  stopping_ = true;
  thread_.join();
}

void NotificationListener::Loop() {
  std::unique_ptr<Connection> db;
  bool was_connected = false;
  while (!stopping_) {
    if (db == nullptr || !db->Healthy()) {
      db.reset();
      Result<std::unique_ptr<Connection>> opened = Connection::Open(conninfo_);
      if (opened.ok() && (*opened)->Exec(kListenWork).ok()) {
        db = std::move(*opened);
        // Work committed while we were not listening would otherwise wait for the fallback poll.
        if (was_connected) on_work_();
        was_connected = true;
      } else {
        spdlog::warn("cannot LISTEN for work notifications; retrying");
        std::this_thread::sleep_for(std::chrono::milliseconds(kReconnectPauseMs));
        continue;
      }
    }
    if (!WaitReadable(db->handle(), kPollMs)) continue;
    if (PQconsumeInput(db->handle()) == 0) continue;  // broken: reconnect on the next turn
    bool wake = false;
    while (PGnotify* note = PQnotifies(db->handle())) {
      const std::string_view payload = note->extra;
      if (payload.starts_with(schema_prefix_) && payload != own_payload_) wake = true;
      PQfreemem(note);
    }
    if (wake) on_work_();
  }
}

}  // namespace webhookd::postgres
