#include <charconv>

#include "api/api.hpp"
#include "api/json_io.hpp"
#include "api/problem.hpp"

namespace webhookd::api {
namespace {

boost::json::object EventTypeToJson(const EventType& type) {
  return {{"id", type.id},
          {"name", type.name},
          {"description", type.description},
          {"isInference", type.is_inference},
          {"schema", boost::json::parse(type.schema_json)},
          {"sample", boost::json::parse(type.sample_json)},
          {"sampleHeaders", boost::json::parse(type.sample_headers_json)}};
}

// By name, or by number for callers that only know webhookEventId.
const EventType* FindByNameOrId(const Catalog& catalog, const std::string& key) {
  int id = 0;
  const auto [end, ec] = std::from_chars(key.data(), key.data() + key.size(), id);
  if (ec == std::errc() && end == key.data() + key.size()) return catalog.Find(id);
  return catalog.Find(key);
}

}  // namespace

void AddEventTypeRoutes(Router& router, ApiContext& context) {
  router.Add("GET", "/event-types", Access::kAnyKey, [&context](Call&) {
    boost::json::array data;
    for (const EventType& type : context.catalog.types()) data.push_back(EventTypeToJson(type));
    return ListResponse(std::move(data), "");
  });
  router.Add("GET", "/event-types/{name}", Access::kAnyKey, [&context](Call& call) {
    const EventType* type = FindByNameOrId(context.catalog, call.Param("name"));
    if (type == nullptr) {
      return ProblemResponse(Error::NotFound("no event type named " + call.Param("name") +
                                             "; GET /event-types lists the 12 types"));
    }
    return JsonResponse(200, EventTypeToJson(*type));
  });
}

}  // namespace webhookd::api
