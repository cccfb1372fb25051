// The parts of the webhookd HTTP API that `trigger` and `demo` use, over app::HttpClient.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "app/http_client.hpp"
#include "core/result.hpp"

namespace webhookd::app {

// One delivery as GET /events/{id} shows it.
struct DeliveryState {
  std::string id;
  std::int64_t config_id = 0;  // externalEventId
  std::string status;          // pending, delivering, succeeded or failed
  std::int64_t attempts = 0;
  std::int64_t last_status_code = 0;  // 0: none
  std::string last_error;

  bool Final() const { return status == "succeeded" || status == "failed"; }
};

// The answer to POST /events.
struct AcceptedEvent {
  std::string id;
  std::string event_name;
  std::int64_t organization_id = 0;
  std::vector<DeliveryState> deliveries;  // id and config_id only; status "pending"
};

// One event type as GET /event-types shows it: the fields the tools use.
struct EventTypeInfo {
  int id = 0;
  std::string name;
  boost::json::value sample;
  bool archived = false;  // takes no new events
};

class ApiClient {
 public:
  ApiClient(std::string server_url, std::string api_key);

  // POST /events. A refusal becomes an Error whose message is the problem's detail and whose
  // field is the problem's field (kind: Invalid for 4xx, Unavailable otherwise).
  Result<AcceptedEvent> PostEvent(std::int64_t organization_id, std::string_view event_name,
                                  const boost::json::value& payload);

  // GET /event-types: the server's catalog, built-in and created types, ordered by id.
  Result<std::vector<EventTypeInfo>> EventTypes();

  // GET /events/{id}: the event's deliveries now.
  Result<std::vector<DeliveryState>> Deliveries(std::string_view event_id);

  // Polls Deliveries() until every one is Final() or `timeout` passes; returns the last state
  // seen either way (the caller checks Final()).
  Result<std::vector<DeliveryState>> WaitUntilFinal(std::string_view event_id,
                                                    std::chrono::milliseconds timeout);

  // POST `path` with a JSON body (or GET when `body` is null) expecting a 2xx JSON answer.
  Result<boost::json::value> Call(std::string_view method, std::string_view path,
                                  const boost::json::value& body = nullptr);

  const std::string& server_url() const { return http_.base_url(); }

 private:
  HttpClient http_;
};

// One line describing a delivery's state: "dlv_... configuration 3  succeeded  attempts 1 ...".
std::string DescribeDelivery(const DeliveryState& delivery);

}  // namespace webhookd::app
