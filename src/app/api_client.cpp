#include "app/api_client.hpp"

#include <fmt/core.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <thread>

namespace webhookd::app {
namespace {

namespace json = boost::json;
constexpr std::chrono::milliseconds kPollInterval{200};

std::string StringAt(const json::object& object, std::string_view key) {
  const json::value* v = object.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::int64_t IntegerAt(const json::object& object, std::string_view key) {
  const json::value* v = object.if_contains(key);
  return v != nullptr && v->is_int64() ? v->as_int64() : 0;
}

// A problem's "errors": [{"field", "detail"}, ...], when it lists several invalid fields.
std::vector<FieldError> FieldErrorsOf(const json::object& problem) {
  std::vector<FieldError> out;
  const json::value* errors = problem.if_contains("errors");
  if (errors == nullptr || !errors->is_array()) return out;
  for (const json::value& item : errors->as_array()) {
    if (item.is_object()) {
      out.push_back({StringAt(item.as_object(), "field"), StringAt(item.as_object(), "detail")});
    }
  }
  return out;
}

// The error a non-2xx answer stands for: the problem's detail and field when it is one.
Error ErrorFromReply(const HttpReply& reply) {
  const ErrorKind kind =
      reply.status >= 400 && reply.status < 500 ? ErrorKind::kInvalid : ErrorKind::kUnavailable;
  json::error_code ec;
  const json::value body = json::parse(reply.body, ec);
  if (!ec && body.is_object()) {
    std::string detail = StringAt(body.as_object(), "detail");
    if (!detail.empty()) {
      return {kind, std::move(detail), StringAt(body.as_object(), "field"),
              FieldErrorsOf(body.as_object())};
    }
  }
  return {kind, fmt::format("the server answered HTTP {}", reply.status), {}};
}

DeliveryState ReadDelivery(const json::object& object) {
  DeliveryState out;
  out.id = StringAt(object, "id");
  out.config_id = IntegerAt(object, "externalEventId");
  out.status = StringAt(object, "status");
  out.attempts = IntegerAt(object, "attemptCount");
  out.last_status_code = IntegerAt(object, "lastStatusCode");
  out.last_error = StringAt(object, "lastError");
  return out;
}

std::vector<DeliveryState> ReadDeliveries(const json::value& body) {
  std::vector<DeliveryState> out;
  const json::value* list = body.is_object() ? body.as_object().if_contains("deliveries") : nullptr;
  if (list == nullptr || !list->is_array()) return out;
  for (const json::value& item : list->as_array()) {
    if (item.is_object()) out.push_back(ReadDelivery(item.as_object()));
  }
  return out;
}

bool AllFinal(const std::vector<DeliveryState>& deliveries) {
  for (const DeliveryState& d : deliveries) {
    if (!d.Final()) return false;
  }
  return true;
}

}  // namespace

ApiClient::ApiClient(std::string server_url, std::string api_key)
    : http_(std::move(server_url), std::move(api_key)) {}

Result<json::value> ApiClient::Call(std::string_view method, std::string_view path,
                                    const json::value& body) {
  const std::string text = body.is_null() ? std::string() : json::serialize(body);
  Result<HttpReply> reply = http_.Send(method, path, text);
  if (!reply.ok()) return reply.error();
  if (reply->status < 200 || reply->status > 299) return ErrorFromReply(*reply);
  json::error_code ec;
  json::value parsed = json::parse(reply->body, ec);
  if (ec) return Error::Unavailable("the server's answer to " + std::string(path) + " is not JSON");
  return parsed;
}

Result<AcceptedEvent> ApiClient::PostEvent(std::int64_t organization_id,
                                           std::string_view event_name,
                                           const json::value& payload) {
  const json::object body{
      {"eventName", event_name}, {"organizationId", organization_id}, {"payload", payload}};
  Result<json::value> answer = Call("POST", "/events", body);
  if (!answer.ok()) return answer.error();
  if (!answer->is_object()) return Error::Unavailable("POST /events answered no JSON object");
  const json::object& object = answer->as_object();
  AcceptedEvent out;
  out.id = StringAt(object, "id");
  out.event_name = StringAt(object, "eventName");
  out.organization_id = IntegerAt(object, "organizationId");
  out.deliveries = ReadDeliveries(*answer);
  for (DeliveryState& d : out.deliveries) d.status = "pending";
  return out;
}

Result<std::vector<EventTypeInfo>> ApiClient::EventTypes() {
  Result<boost::json::value> listed = Call("GET", "/event-types");
  if (!listed.ok()) return listed.error();
  const boost::json::value* data =
      listed->is_object() ? listed->as_object().if_contains("data") : nullptr;
  if (data == nullptr || !data->is_array()) {
    return Error::Unavailable("GET /event-types answered without a data list");
  }
  std::vector<EventTypeInfo> out;
  for (const boost::json::value& item : data->as_array()) {
    const boost::json::object* type = item.if_object();
    const boost::json::value* name = type != nullptr ? type->if_contains("name") : nullptr;
    if (name == nullptr || !name->is_string()) continue;
    EventTypeInfo info;
    info.name = name->as_string();
    if (const boost::json::value* id = type->if_contains("id"); id && id->is_int64()) {
      info.id = static_cast<int>(id->as_int64());
    }
    if (const boost::json::value* sample = type->if_contains("sample")) info.sample = *sample;
    if (const boost::json::value* archived = type->if_contains("archived")) {
      info.archived = archived->is_bool() && archived->as_bool();
    }
    out.push_back(std::move(info));
  }
  return out;
}

Result<std::vector<DeliveryState>> ApiClient::Deliveries(std::string_view event_id) {
  Result<json::value> answer = Call("GET", "/events/" + std::string(event_id));
  if (!answer.ok()) return answer.error();
  return ReadDeliveries(*answer);
}

Result<std::vector<DeliveryState>> ApiClient::WaitUntilFinal(std::string_view event_id,
                                                             std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    Result<std::vector<DeliveryState>> now = Deliveries(event_id);
    if (!now.ok() || AllFinal(*now) || std::chrono::steady_clock::now() >= deadline) return now;
    std::this_thread::sleep_for(kPollInterval);
  }
}

std::string DescribeDelivery(const DeliveryState& d) {
  std::string out =
      fmt::format("{}  configuration {}  {}  attempts {}", d.id, d.config_id, d.status, d.attempts);
  if (d.last_status_code != 0) out += fmt::format("  last status {}", d.last_status_code);
  if (!d.last_error.empty()) out += "  last error: " + d.last_error;
  return out;
}

}  // namespace webhookd::app
