// Helpers for the delivery-engine integration tests (issue 3): a fixture whose server may
// deliver to receivers on 127.0.0.1, and small wrappers over the /events, /deliveries and
// /external-events API with bounded waits.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "test_support.hpp"

namespace webhookd::itest {

// Polls `done` every `interval` until it returns true; false when `timeout` passes first.
bool WaitUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout,
               std::chrono::milliseconds interval = 20ms);

// The flags every delivery test needs: http:// URLs and 127.0.0.0/8 as a permitted target,
// followed by `extra`.
std::vector<std::string> LoopbackDeliveryArgs(const std::vector<std::string>& extra = {});

// A create body for POST /external-events/ delivering `event_name` events of `organization_id`
// to `url`, with no attributes or headers.
json::object HookBody(std::int64_t organization_id, std::string_view event_name,
                      const std::string& url, std::string_view name = "delivery hook");

// The value of one Prometheus series, e.g. `webhookd_deliveries{status="succeeded"}`, in the
// text exposition format; nullopt when the series is absent.
std::optional<double> MetricValue(std::string_view metrics_text, std::string_view series);

// The integer "webhook-timestamp" of a received request (-1 if it is not an integer).
std::int64_t WebhookTimestamp(const ReceivedRequest& request);

// Unix seconds of a wall-clock time point.
std::int64_t UnixSeconds(std::chrono::system_clock::time_point t);

// "YYYY-MM-DDTHH:MM:SSZ" (UTC, whole seconds, rounded down).
std::string FormatRfc3339(std::chrono::system_clock::time_point t);

// A receiver answer with `status`, `body` and extra `headers`.
ReceiverResponse Answer(int status, std::string body = {}, HeaderList headers = {});

// A receiver handler that answers the given responses in order, then repeats the last one.
HttpReceiver::Handler Sequence(std::vector<ReceiverResponse> responses);

// A server per test (see ServerTest) that runs with LoopbackDeliveryArgs(ExtraArgs()).
class DeliveryTest : public ServerTest {
 protected:
  std::vector<std::string> ServeArgs() const override { return LoopbackDeliveryArgs(ExtraArgs()); }
  // Flags after the loopback ones; by default a short retry schedule (0 s, then 1 s waits).
  virtual std::vector<std::string> ExtraArgs() const {
    return {"--retry-schedule", "0s,1s,1s,1s", "--request-timeout-ms", "3000"};
  }

  // Starts the server again after server_->Kill(), on the same database. On PostgreSQL a new
  // process with the default --node-id (hostname:pid) cannot tell the killed one's leases from
  // those of a live node sharing the store, so it releases them only once they have ended
  // (issue 5): this first waits `lease` (the lease the test's flags give), so that the start
  // itself takes the deliveries over. SQLite has one node only, which releases every lease at
  // start.
  void StartServerAfterKill(std::chrono::milliseconds lease);

  // POST /events for `event_name` of `organization_id` with `payload` and extra `headers`.
  static HttpResponse PostEvent(HttpClient& client, std::string_view event_name,
                                std::int64_t organization_id, const json::value& payload,
                                const HeaderList& headers = {});
  // The catalog's sample payload of an event type (GET /event-types/{name}); {} on failure.
  static json::object SamplePayload(HttpClient& client, std::string_view event_name);
  // A BookAppointment payload: the catalog sample with "id" replaced by `appointment_id`.
  static json::object Appointment(HttpClient& client, std::int64_t appointment_id);

  // GET /deliveries/{id}: the delivery object ({} and a test failure when that fails).
  static json::object GetDelivery(HttpClient& client, const std::string& delivery_id);
  // Waits up to `timeout` until the delivery has `status`; returns the last object seen.
  static json::object WaitForStatus(HttpClient& client, const std::string& delivery_id,
                                    std::string_view status, std::chrono::milliseconds timeout);
  // GET /deliveries/{id}/attempts: the attempts, oldest first.
  static json::array Attempts(HttpClient& client, const std::string& delivery_id);
  // Waits up to `timeout` until at least `count` attempts are recorded; returns them.
  static json::array WaitForAttempts(HttpClient& client, const std::string& delivery_id,
                                     std::size_t count, std::chrono::milliseconds timeout);
  // Every delivery of a configuration (all pages of GET /deliveries?externalEventId=).
  static json::array DeliveriesOf(HttpClient& client, std::int64_t config_id);

  // The delivery ids of a 202 reply to POST /events, by externalEventId.
  static std::map<std::int64_t, std::string> AcceptedDeliveries(const HttpResponse& accepted);

  struct PostedDelivery {
    json::object config;
    std::string delivery_id;
  };
  // Creates a configuration from `config_body` and posts one BookAppointment event of
  // organization 1 to it (expecting 201 and 202); returns the configuration and the event's
  // delivery to it, both empty after a test failure.
  PostedDelivery OneDeliveryTo(HttpClient& admin, const json::object& config_body);

  // Creates a BookAppointment configuration of organization 1 at `url` with `retry_schedule`
  // (seconds), posts one event, and waits for its first attempt and for the delivery to be
  // pending again (the receiver must fail it). Returns the delivery id; "" after a test failure.
  std::string FirstAttemptThenPending(HttpClient& admin, const std::string& url,
                                      json::array retry_schedule);

  static std::int64_t IdOf(const json::object& object) {
    return object.at("id").to_number<std::int64_t>();
  }
};

// How often each (webhook-id, target path) pair arrived at a receiver.
using PairCounts = std::map<std::pair<std::string, std::string>, int>;

// The pairs of `accepted` event ids x `targets` that never arrived, as "<id><target>".
std::vector<std::string> MissingPairs(const std::vector<std::string>& accepted,
                                      const std::vector<std::string>& targets,
                                      const PairCounts& arrived);

// Posts `count` copies of an event body to POST /events on its own thread, round-robin over
// `base_urls`, one request at a time; a server that stops answering (killed) is skipped from
// then on, and posting ends when none is left. Remembers the id of every event that got a 202.
class EventPoster {
 public:
  EventPoster(std::vector<std::string> base_urls, std::string key, std::string body, int count);
  ~EventPoster() { Join(); }
  EventPoster(const EventPoster&) = delete;
  EventPoster& operator=(const EventPoster&) = delete;

  void Join();
  int accepted_count() const { return accepted_count_.load(); }
  std::vector<std::string> accepted() const;
  // The first answer that was neither a 202 nor a broken connection, if any.
  std::string unexpected() const;

 private:
  void Run(const std::vector<std::string>& base_urls, const std::string& key,
           const std::string& body, int count);

  mutable std::mutex mu_;
  std::vector<std::string> accepted_;  // guarded by mu_
  std::string unexpected_;             // guarded by mu_
  std::atomic<int> accepted_count_{0};
  std::thread thread_;
};

}  // namespace webhookd::itest
