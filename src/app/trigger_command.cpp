// `webhookd trigger`: posts sample events to a running server and follows their deliveries.
#include <algorithm>
#include <boost/json/parse.hpp>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "app/api_client.hpp"
#include "app/commands.hpp"
#include "app/duration.hpp"
#include "catalog/catalog.hpp"
#include "core/json_parse.hpp"

namespace webhookd::app {
namespace {

namespace json = boost::json;

// One event to send: its type and payload.
struct Planned {
  std::string type_name;
  json::value payload;
};

void PrintEventNames(std::FILE* out, const std::vector<EventTypeInfo>& types) {
  std::fprintf(out, "The event types are:\n");
  for (const EventTypeInfo& type : types) {
    std::fprintf(out, "  %2d  %s%s\n", type.id, type.name.c_str(),
                 type.archived ? "  (archived)" : "");
  }
  std::fprintf(out, "  or 'all' for every one of them.\n");
}

std::vector<EventTypeInfo> BuiltinTypes() {
  std::vector<EventTypeInfo> out;
  for (const EventType& type : Catalog::Builtin().types()) {
    out.push_back({type.id, type.name, json::parse(type.sample_json), false});
  }
  return out;
}

// The server's catalog, so that types created through its API work too; the built-in types
// when the server cannot be reached (sending then says so, naming --server).
Result<std::vector<EventTypeInfo>> KnownTypes(ApiClient& client) {
  Result<std::vector<EventTypeInfo>> listed = client.EventTypes();
  if (!listed.ok() && IsUnreachable(listed.error())) return BuiltinTypes();
  return listed;
}

Result<json::value> ReadPayloadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error::Invalid("cannot read " + path);
  std::stringstream text;
  text << in.rdbuf();
  Result<json::value> payload = ParseJson(text.str());
  if (!payload.ok()) return Error::Invalid(path + " is not valid JSON: " + payload.error().message);
  return payload;
}

// The events the options ask for; Error::Invalid or NotFound (usage) otherwise. "all" skips
// archived types, which take no events.
Result<std::vector<Planned>> Plan(const TriggerOptions& options,
                                  const std::vector<EventTypeInfo>& known) {
  std::vector<const EventTypeInfo*> types;
  if (options.event == "all") {
    if (!options.payload_file.empty()) {
      return Error::Invalid("--payload fits one event type, not 'all'");
    }
    for (const EventTypeInfo& type : known) {
      if (!type.archived) types.push_back(&type);
    }
  } else {
    const auto named = std::find_if(known.begin(), known.end(), [&](const EventTypeInfo& type) {
      return type.name == options.event;
    });
    if (named == known.end()) return Error::NotFound("unknown event type '" + options.event + "'");
    types.push_back(&*named);
  }
  std::vector<Planned> out;
  for (const EventTypeInfo* type : types) {
    if (options.payload_file.empty()) {
      out.push_back({type->name, type->sample});
      continue;
    }
    Result<json::value> payload = ReadPayloadFile(options.payload_file);
    if (!payload.ok()) return payload.error();
    out.push_back({type->name, std::move(*payload)});
  }
  return out;
}

void PrintServerError(const std::string& what, const Error& error, const TriggerOptions& options) {
  std::fprintf(stderr, "webhookd trigger: %s: %s", what.c_str(), error.message.c_str());
  if (!error.field.empty()) std::fprintf(stderr, " (field %s)", error.field.c_str());
  std::fprintf(stderr, "\n");
  if (error.errors.size() > 1) {
    for (const FieldError& each : error.errors) {
      std::fprintf(stderr, "  %s: %s\n", each.field.c_str(), each.message.c_str());
    }
  }
  if (error.kind == ErrorKind::kInvalid && options.key.empty()) {
    std::fprintf(stderr, "(no --key was given and WEBHOOKD_API_KEY is not set)\n");
  }
  if (IsUnreachable(error)) {
    std::fprintf(stderr,
                 "(is `webhookd serve` running at %s? Name the server with --server URL or "
                 "WEBHOOKD_SERVER=URL)\n",
                 options.server.c_str());
  }
}

void PrintAccepted(const AcceptedEvent& event) {
  std::printf("%s: event %s accepted for organization %lld, %zu %s\n", event.event_name.c_str(),
              event.id.c_str(), static_cast<long long>(event.organization_id),
              event.deliveries.size(), event.deliveries.size() == 1 ? "delivery" : "deliveries");
  if (event.deliveries.empty()) {
    std::printf("  (no active configuration of organization %lld listens for %s)\n",
                static_cast<long long>(event.organization_id), event.event_name.c_str());
  }
  for (const DeliveryState& d : event.deliveries) {
    std::printf("  delivery %s  configuration %lld\n", d.id.c_str(),
                static_cast<long long>(d.config_id));
  }
}

// Follows every event's deliveries to the end; true if all succeeded.
bool WaitForAll(ApiClient& client, const std::vector<AcceptedEvent>& events,
                std::chrono::milliseconds timeout, const TriggerOptions& options) {
  std::printf("\nwaiting up to %s for the deliveries to finish...\n", options.timeout.c_str());
  std::fflush(stdout);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool all_succeeded = true;
  for (const AcceptedEvent& event : events) {
    const auto left = std::max(std::chrono::milliseconds(0),
                               std::chrono::duration_cast<std::chrono::milliseconds>(
                                   deadline - std::chrono::steady_clock::now()));
    Result<std::vector<DeliveryState>> final_states = client.WaitUntilFinal(event.id, left);
    if (!final_states.ok()) {
      PrintServerError(event.id, final_states.error(), options);
      return false;
    }
    std::printf("%s %s:\n", event.event_name.c_str(), event.id.c_str());
    for (const DeliveryState& d : *final_states) {
      std::printf("  %s%s\n", DescribeDelivery(d).c_str(),
                  d.Final() ? "" : "  (not finished within --timeout)");
      all_succeeded = all_succeeded && d.status == "succeeded";
    }
  }
  return all_succeeded;
}

}  // namespace

int RunTrigger(const TriggerOptions& options) {
  Result<std::chrono::milliseconds> timeout = ParseDuration(options.timeout);
  if (!timeout.ok()) {
    std::fprintf(stderr, "webhookd trigger: --timeout: %s\n", timeout.error().message.c_str());
    return 2;
  }
  ApiClient client(options.server, options.key);
  Result<std::vector<EventTypeInfo>> known = KnownTypes(client);
  if (!known.ok()) {
    PrintServerError("GET /event-types", known.error(), options);
    return 1;
  }
  Result<std::vector<Planned>> plan = Plan(options, *known);
  if (!plan.ok()) {
    std::fprintf(stderr, "webhookd trigger: %s\n", plan.error().message.c_str());
    if (plan.error().kind == ErrorKind::kNotFound) PrintEventNames(stderr, *known);
    return 2;
  }
  std::vector<AcceptedEvent> accepted;
  for (const Planned& planned : *plan) {
    Result<AcceptedEvent> event =
        client.PostEvent(options.organization, planned.type_name, planned.payload);
    if (!event.ok()) {
      PrintServerError(planned.type_name, event.error(), options);
      return 1;
    }
    PrintAccepted(*event);
    accepted.push_back(std::move(*event));
  }
  std::fflush(stdout);
  if (!options.wait) return 0;
  return WaitForAll(client, accepted, *timeout, options) ? 0 : 1;
}

}  // namespace webhookd::app
