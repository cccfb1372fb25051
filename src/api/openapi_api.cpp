// GET /openapi.json: the API's description, docs/openapi.yaml converted to JSON at build time,
// completed with the event types of the catalog as it is when asked.
#include <boost/json.hpp>

#include "api/api.hpp"

namespace webhookd::api {
namespace {

namespace json = boost::json;

// The payload schema as an OpenAPI 3.1 schema object: the document's dialect applies, and
// draft-07's "$schema" would name another one.
json::value PayloadSchema(const EventType& type) {
  json::value schema = json::parse(type.schema_json);
  if (json::object* object = schema.if_object()) object->erase("$schema");
  return schema;
}

// "payload must match <Name>Payload when eventName is <Name>", for every type.
json::array PayloadByEventName(const std::vector<EventType>& types) {
  json::array rules;
  for (const EventType& type : types) {
    rules.push_back(json::object{
        {"if",
         {{"required", json::array{"eventName"}},
          {"properties", {{"eventName", {{"const", type.name}}}}}}},
        {"then",
         {{"properties",
           {{"payload", {{"$ref", "#/components/schemas/" + type.name + "Payload"}}}}}}}});
  }
  return rules;
}

}  // namespace

json::object OpenApiDocument(const Catalog& catalog) {
  static const json::value kStatic = json::parse(OpenApiJson());
  json::object document = kStatic.as_object();
  const std::vector<EventType> types = catalog.types();
  json::object& schemas = document["components"].as_object()["schemas"].as_object();
  json::array names;
  for (const EventType& type : types) {
    names.push_back(json::value(type.name));
    schemas[type.name + "Payload"] = PayloadSchema(type);
  }
  schemas["EventName"].as_object()["enum"] = std::move(names);
  schemas["EventCreate"].as_object()["allOf"] = PayloadByEventName(types);
  return document;
}

void AddOpenApiRoutes(Router& router, const Catalog& catalog) {
  router.Add("GET", "/openapi.json", Access::kPublic, [&catalog](Call&) {
    Response response;
    response.body = json::serialize(OpenApiDocument(catalog));
    return response;
  });
}

}  // namespace webhookd::api
