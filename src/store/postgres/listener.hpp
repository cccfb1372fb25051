// LISTEN webhookd_work on a connection of its own, on its own thread: when another node
// commits work that is due, it calls `on_work` so that an idle dispatcher here wakes up without
// polling. Payloads are "SCHEMA INSTANCE": notifications of stores on other schemas of the
// same database, and the store's own (which already told its listener), are ignored. A lost
// connection is re-established with a pause between tries; notifications sent meanwhile are lost,
// which the dispatcher's fallback poll covers.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <thread>

namespace webhookd::postgres {

class NotificationListener {
 public:
  // Starts listening at once. `on_work` runs on the listener thread.
  NotificationListener(std::string conninfo, std::string schema, std::string own_payload,
                       std::function<void()> on_work);
  // Stops the thread (within about one poll interval).
  ~NotificationListener();
  NotificationListener(const NotificationListener&) = delete;
  NotificationListener& operator=(const NotificationListener&) = delete;

 private:
  static constexpr int kPollMs = 200;
  static constexpr int kReconnectPauseMs = 1000;

  void Loop();

  const std::string conninfo_;
  const std::string schema_prefix_;  // "SCHEMA "
  const std::string own_payload_;
  const std::function<void()> on_work_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace webhookd::postgres
