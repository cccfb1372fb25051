#include "delivery_support.hpp"

#include <charconv>
#include <ctime>
#include <memory>
#include <mutex>
#include <thread>

namespace webhookd::itest {

bool WaitUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout,
               std::chrono::milliseconds interval) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(interval);
  }
}

std::vector<std::string> LoopbackDeliveryArgs(const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"--allow-insecure-urls", "--allow-target", "127.0.0.0/8"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

json::object HookBody(std::int64_t organization_id, std::string_view event_name,
                      const std::string& url, std::string_view name) {
  return json::object{
      {"organizationId", organization_id}, {"name", name}, {"url", url}, {"eventName", event_name}};
}

std::vector<std::string> MissingPairs(const std::vector<std::string>& accepted,
                                      const std::vector<std::string>& targets,
                                      const PairCounts& arrived) {
  std::vector<std::string> lost;
  for (const std::string& id : accepted) {
    for (const std::string& target : targets) {
      if (!arrived.contains({id, target})) lost.push_back(id + target);
    }
  }
  return lost;
}

std::optional<double> MetricValue(std::string_view metrics_text, std::string_view series) {
  std::size_t start = 0;
  while (start < metrics_text.size()) {
    std::size_t end = metrics_text.find('\n', start);
    if (end == std::string_view::npos) end = metrics_text.size();
    const std::string_view line = metrics_text.substr(start, end - start);
    if (line.size() > series.size() && line.starts_with(series) && line[series.size()] == ' ') {
      return std::stod(std::string(line.substr(series.size() + 1)));
    }
    start = end + 1;
  }
  return std::nullopt;
}

std::int64_t WebhookTimestamp(const ReceivedRequest& request) {
  const std::string text = request.Header("webhook-timestamp");
  std::int64_t value = -1;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return -1;
  return value;
}

std::int64_t UnixSeconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

std::string FormatRfc3339(std::chrono::system_clock::time_point t) {
  const std::time_t seconds = static_cast<std::time_t>(UnixSeconds(t));
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

ReceiverResponse Answer(int status, std::string body, HeaderList headers) {
  ReceiverResponse response;
  response.status = status;
  response.body = std::move(body);
  response.headers = std::move(headers);
  return response;
}

HttpReceiver::Handler Sequence(std::vector<ReceiverResponse> responses) {
  struct State {
    std::mutex mu;
    std::vector<ReceiverResponse> responses;
    std::size_t next = 0;
  };
  auto state = std::make_shared<State>();
  state->responses = std::move(responses);
  return [state](const ReceivedRequest&) {
    std::lock_guard lock(state->mu);
    const std::size_t i = std::min(state->next++, state->responses.size() - 1);
    return state->responses[i];
  };
}

void DeliveryTest::StartServerAfterKill(std::chrono::milliseconds lease) {
  if (database_->backend() == Backend::kPostgres) {
    // Leases are compared with wall-clock milliseconds: a little more, so that they have ended.
    std::this_thread::sleep_for(lease + 200ms);
  }
  StartServer();
}

HttpResponse DeliveryTest::PostEvent(HttpClient& client, std::string_view event_name,
                                     std::int64_t organization_id, const json::value& payload,
                                     const HeaderList& headers) {
  const json::object body{
      {"eventName", event_name}, {"organizationId", organization_id}, {"payload", payload}};
  return client.Request("POST", "/events", json::serialize(body), headers);
}

json::object DeliveryTest::SamplePayload(HttpClient& client, std::string_view event_name) {
  const HttpResponse r = client.Get("/event-types/" + std::string(event_name));
  const json::value* sample = At(r.json, "/sample");
  if (r.status != 200 || sample == nullptr || !sample->is_object()) {
    ADD_FAILURE() << "no sample payload for " << event_name << ": " << r.Summary();
    return {};
  }
  return sample->as_object();
}

json::object DeliveryTest::Appointment(HttpClient& client, std::int64_t appointment_id) {
  json::object payload = SamplePayload(client, "BookAppointment");
  payload["id"] = appointment_id;
  return payload;
}

json::object DeliveryTest::GetDelivery(HttpClient& client, const std::string& delivery_id) {
  const HttpResponse r = client.Get("/deliveries/" + delivery_id);
  if (r.status != 200 || !r.json.is_object()) {
    ADD_FAILURE() << "GET /deliveries/" << delivery_id << ": " << r.Summary();
    return {};
  }
  return r.json.as_object();
}

json::object DeliveryTest::WaitForStatus(HttpClient& client, const std::string& delivery_id,
                                         std::string_view status,
                                         std::chrono::milliseconds timeout) {
  json::object last;
  WaitUntil(
      [&] {
        last = GetDelivery(client, delivery_id);
        const json::value* s = last.if_contains("status");
        return s == nullptr || *s == json::value(status);
      },
      timeout);
  return last;
}

json::array DeliveryTest::Attempts(HttpClient& client, const std::string& delivery_id) {
  const HttpResponse r = client.Get("/deliveries/" + delivery_id + "/attempts");
  const json::value* data = At(r.json, "/data");
  if (r.status != 200 || data == nullptr || !data->is_array()) {
    ADD_FAILURE() << "GET /deliveries/" << delivery_id << "/attempts: " << r.Summary();
    return {};
  }
  return data->as_array();
}

json::array DeliveryTest::WaitForAttempts(HttpClient& client, const std::string& delivery_id,
                                          std::size_t count, std::chrono::milliseconds timeout) {
  json::array attempts;
  WaitUntil(
      [&] {
        attempts = Attempts(client, delivery_id);
        return attempts.size() >= count;
      },
      timeout);
  return attempts;
}

json::array DeliveryTest::DeliveriesOf(HttpClient& client, std::int64_t config_id) {
  json::array all;
  std::string cursor;
  while (true) {
    std::string path = "/deliveries?limit=250&externalEventId=" + std::to_string(config_id);
    if (!cursor.empty()) path += "&cursor=" + cursor;
    const HttpResponse r = client.Get(path);
    const json::value* data = At(r.json, "/data");
    if (r.status != 200 || data == nullptr || !data->is_array()) {
      ADD_FAILURE() << "GET " << path << ": " << r.Summary();
      return all;
    }
    for (const json::value& d : data->as_array()) all.push_back(d);
    const json::value* next = At(r.json, "/nextCursor");
    if (next == nullptr || !next->is_string()) return all;
    cursor = std::string(next->as_string());
  }
}

std::map<std::int64_t, std::string> DeliveryTest::AcceptedDeliveries(const HttpResponse& accepted) {
  std::map<std::int64_t, std::string> out;
  const json::value* list = At(accepted.json, "/deliveries");
  if (list == nullptr || !list->is_array()) return out;
  for (const json::value& d : list->as_array()) {
    out[d.at("externalEventId").to_number<std::int64_t>()] = std::string(d.at("id").as_string());
  }
  return out;
}

DeliveryTest::PostedDelivery DeliveryTest::OneDeliveryTo(HttpClient& admin,
                                                         const json::object& config_body) {
  const json::object config = CreateConfig(admin, config_body);
  if (HasFailure()) return {};
  const HttpResponse accepted = PostEvent(admin, "BookAppointment", 1, Appointment(admin, 1));
  EXPECT_TRUE(IsJson(accepted, 202));
  if (HasFailure()) return {};
  return {config, AcceptedDeliveries(accepted).at(IdOf(config))};
}

std::string DeliveryTest::FirstAttemptThenPending(HttpClient& admin, const std::string& url,
                                                  json::array retry_schedule) {
  json::object body = HookBody(1, "BookAppointment", url);
  body["retrySchedule"] = std::move(retry_schedule);
  const std::string delivery_id = OneDeliveryTo(admin, body).delivery_id;
  if (HasFailure()) return "";
  EXPECT_EQ(WaitForAttempts(admin, delivery_id, 1, 10s).size(), 1u);
  EXPECT_EQ(WaitForStatus(admin, delivery_id, "pending", 10s).at("status"), "pending");
  return HasFailure() ? "" : delivery_id;
}

EventPoster::EventPoster(std::vector<std::string> base_urls, std::string key, std::string body,
                         int count)
    : thread_([this, urls = std::move(base_urls), key = std::move(key), body = std::move(body),
               count] { Run(urls, key, body, count); }) {}

void EventPoster::Join() {
  if (thread_.joinable()) thread_.join();
}

std::vector<std::string> EventPoster::accepted() const {
  std::lock_guard lock(mu_);
  return accepted_;
}

std::string EventPoster::unexpected() const {
  std::lock_guard lock(mu_);
  return unexpected_;
}

void EventPoster::Run(const std::vector<std::string>& base_urls, const std::string& key,
                      const std::string& body, int count) {
  std::vector<HttpClient> clients;
  for (const std::string& url : base_urls) {
    clients.emplace_back(url, key);
    clients.back().set_timeout(std::chrono::seconds(10));
  }
  std::vector<bool> gone(clients.size(), false);
  std::size_t alive = clients.size();
  for (int i = 0; i < count && alive > 0; ++i) {
    const std::size_t node = static_cast<std::size_t>(i) % clients.size();
    if (gone[node]) continue;
    const HttpResponse r = clients[node].Request("POST", "/events", body);
    if (r.status == 0) {  // that server was killed
      gone[node] = true;
      --alive;
      continue;
    }
    const boost::json::value* id = At(r.json, "/id");
    std::lock_guard lock(mu_);
    if (r.status != 202 || id == nullptr || !id->is_string()) {
      unexpected_ = r.Summary();
      return;
    }
    accepted_.emplace_back(id->as_string());
    accepted_count_.fetch_add(1);
  }
}

}  // namespace webhookd::itest
