// /event-types: the catalog. Anyone with a key reads it; admin keys create types, make new
// versions (PUT, PATCH) and archive types (DELETE). Each change is stored first, then installed
// in this node's catalog (other nodes pick it up from the store, api/catalog_sync.hpp).
#include <charconv>
#include <limits>
#include <regex>

#include "api/api.hpp"
#include "api/catalog_sync.hpp"
#include "api/json_io.hpp"
#include "api/problem.hpp"
#include "crypto/secret.hpp"
#include "delivery/prepared_config.hpp"

namespace webhookd::api {
namespace {

constexpr std::size_t kMaxNameLength = 100;
constexpr std::size_t kMaxDescriptionLength = 2000;

// The fields of an event type as GET shows it; PUT accepts the read-only ones (id, version,
// builtin, archived) back unchanged, so that a client may send what it read.
constexpr std::string_view kDefinitionFields[] = {"description", "schema", "sample",
                                                  "sampleHeaders"};
constexpr std::string_view kIdentityFields[] = {"name", "webhookEventId", "isInference"};
constexpr std::string_view kReadOnlyFields[] = {"id", "version", "builtin", "archived"};

// What sampleHeaders show when a definition gives none: a delivery of the sample, signed as the
// built-in types' are, with the Standard Webhooks example secret (docs/event-types.md).
constexpr std::string_view kExampleSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
constexpr std::string_view kSampleMessageId = "evt_01J0V596TPFRZRDW1PPV0WQY4V";
constexpr std::string_view kSampleTimestamp = "1718898432";

boost::json::object EventTypeToJson(const EventType& type) {
  return {{"id", type.id},
          {"name", type.name},
          {"description", type.description},
          {"isInference", type.is_inference},
          {"version", type.version},
          {"builtin", type.builtin},
          {"archived", type.archived},
          {"schema", boost::json::parse(type.schema_json)},
          {"sample", boost::json::parse(type.sample_json)},
          {"sampleHeaders", boost::json::parse(type.sample_headers_json)}};
}

std::string SampleHeaders(const std::string& name, const std::string& sample_json) {
  const Result<std::string> key = crypto::DecodeSecret(kExampleSecret);
  const std::string signature =
      crypto::SignV1(key.value(), kSampleMessageId, kSampleTimestamp, sample_json);
  return boost::json::serialize(boost::json::object{{"content-type", "application/json"},
                                                    {"user-agent", delivery::DefaultUserAgent()},
                                                    {"webhook-id", kSampleMessageId},
                                                    {"webhook-timestamp", kSampleTimestamp},
                                                    {"webhook-signature", signature},
                                                    {"x-webhook-event", name}});
}

// By name, or by number for callers that only know webhookEventId.
const EventType* FindByNameOrId(const Catalog& catalog, const std::string& key) {
  int id = 0;
  const auto [end, ec] = std::from_chars(key.data(), key.data() + key.size(), id);
  if (ec == std::errc() && end == key.data() + key.size()) return catalog.Find(id);
  return catalog.Find(key);
}

Error NoSuchType(const std::string& key) {
  return Error::NotFound("no event type named " + key + "; GET /event-types lists them");
}

Status ValidName(const std::string& name) {
  static const std::regex kPascalCase("[A-Z][A-Za-z0-9]*");
  if (name.size() > kMaxNameLength || !std::regex_match(name, kPascalCase)) {
    return Error::Invalid(
        "name must be PascalCase: a capital letter, then letters and digits (at most 100)",
        "/name");
  }
  return Status::Ok();
}

Status ValidHeaders(const boost::json::object& headers) {
  for (const auto& header : headers) {
    const std::string field = PointerTo("/sampleHeaders", header.key());
    if (!header.value().is_string()) return Error::Invalid("header values are strings", field);
    if (Status s = RejectControlCharacters(header.value().as_string(), "a header value", field);
        !s.ok()) {
      return s;
    }
  }
  return Status::Ok();
}

// Applies the definition fields present in `body` to `type` (all are required when `all`).
Status ApplyDefinition(const boost::json::object& body, bool all, EventType& type) {
  Result<std::optional<std::string>> description =
      OptionalString(body, "description", kMaxDescriptionLength);
  if (!description.ok()) return description.error();
  if (description->has_value()) type.description = **description;
  for (std::string_view key : {"description", "schema", "sample"}) {
    if (all && (!body.contains(key) || body.at(key).is_null())) {
      return Error::Invalid(std::string(key) + " is required", PointerTo("", key));
    }
  }
  if (const boost::json::value* schema = body.if_contains("schema")) {
    if (!schema->is_object()) {
      return Error::Invalid("schema must be a JSON Schema (draft-07) object", "/schema");
    }
    type.schema_json = boost::json::serialize(*schema);
  }
  const std::string old_sample = type.sample_json;
  if (const boost::json::value* sample = body.if_contains("sample")) {
    type.sample_json = boost::json::serialize(*sample);
  }
  Result<std::optional<boost::json::object>> headers = OptionalObject(body, "sampleHeaders");
  if (!headers.ok()) return headers.error();
  if (headers->has_value()) {
    if (Status s = ValidHeaders(**headers); !s.ok()) return s;
    type.sample_headers_json = boost::json::serialize(**headers);
  } else if (all || type.sample_json != old_sample || type.sample_headers_json.empty()) {
    type.sample_headers_json = SampleHeaders(type.name, type.sample_json);
  }
  return Status::Ok();
}

// A PUT may repeat the type's identity; it may not change it.
Status SameIdentity(const boost::json::object& body, const EventType& current) {
  Result<std::optional<std::string>> name = OptionalString(body, "name", kMaxNameLength);
  if (!name.ok()) return name.error();
  if (name->has_value() && **name != current.name) {
    return Error::Invalid("name cannot change (create a new type instead)", "/name");
  }
  for (std::string_view key : {"webhookEventId", "id"}) {
    Result<std::optional<std::int64_t>> id = OptionalInteger(body, key, kPositiveIntegers);
    if (!id.ok()) return id.error();
    if (id->has_value() && **id != current.id) {
      return Error::Invalid(std::string(key) + " cannot change", PointerTo("", key));
    }
  }
  Result<std::optional<bool>> inference = OptionalBool(body, "isInference");
  if (!inference.ok()) return inference.error();
  if (inference->has_value() && **inference != current.is_inference) {
    return Error::Invalid("isInference cannot change (create a new type instead)", "/isInference");
  }
  return Status::Ok();
}

bool SameDefinition(const EventType& a, const EventType& b) {
  return a.description == b.description &&
         boost::json::parse(a.schema_json) == boost::json::parse(b.schema_json) &&
         boost::json::parse(a.sample_json) == boost::json::parse(b.sample_json) &&
         boost::json::parse(a.sample_headers_json) == boost::json::parse(b.sample_headers_json);
}

class EventTypesApi {
 public:
  explicit EventTypesApi(ApiContext& context) : context_(context) {}

  Response List() {
    boost::json::array data;
    for (const EventType& type : context_.catalog.types()) data.push_back(EventTypeToJson(type));
    return ListResponse(std::move(data), "");
  }

  Response Get(Call& call) {
    const EventType* type = FindByNameOrId(context_.catalog, call.Param("name"));
    if (type == nullptr) return ProblemResponse(NoSuchType(call.Param("name")));
    return JsonResponse(200, EventTypeToJson(*type));
  }

  Response ListVersions(Call& call) {
    const EventType* type = FindByNameOrId(context_.catalog, call.Param("name"));
    if (type == nullptr) return ProblemResponse(NoSuchType(call.Param("name")));
    boost::json::array data;
    for (const EventType& version : context_.catalog.Versions(type->id)) {
      data.push_back(EventTypeToJson(version));
    }
    return ListResponse(std::move(data), "");
  }

  Response GetVersion(Call& call) {
    const EventType* type = FindByNameOrId(context_.catalog, call.Param("name"));
    if (type == nullptr) return ProblemResponse(NoSuchType(call.Param("name")));
    const std::optional<std::int64_t> number = call.IdParam("version");
    const EventType* version =
        number && *number <= std::numeric_limits<int>::max()
            ? context_.catalog.FindVersion(type->id, static_cast<int>(*number))
            : nullptr;
    if (version == nullptr) {
      return ProblemResponse(Error::NotFound(type->name + " has no version " +
                                             call.Param("version") + "; it has versions 1 to " +
                                             std::to_string(type->version)));
    }
    return JsonResponse(200, EventTypeToJson(*version));
  }

  Response Create(Call& call) {
    Result<boost::json::object> body = ParseJsonObject(call.request.body);
    if (!body.ok()) return ProblemResponse(body.error());
    // Named before validation, so that a refused creation is recorded under the name it asked for.
    call.audit.object_id = NameAskedFor(*body);
    Result<EventType> type = NewType(*body);
    if (!type.ok()) return ProblemResponse(type.error());
    Result<EventType> prepared = Catalog::Prepare(std::move(*type));
    if (!prepared.ok()) return ProblemResponse(prepared.error());
    Result<StoredEventType> stored =
        context_.store.CreateEventType(ToStored(*prepared), call.AuditChange(201));
    if (!stored.ok()) return ProblemResponse(stored.error());
    prepared->id = stored->id;
    context_.catalog.Install(*prepared);
    return JsonResponse(201, EventTypeToJson(*context_.catalog.Find(prepared->id)));
  }

  // PUT (`replace`) or PATCH: a new version when the definition changes.
  Response Change(Call& call, bool replace) {
    call.audit.object_id = call.Param("name");
    const EventType* current = FindByNameOrId(context_.catalog, call.Param("name"));
    if (current == nullptr) return ProblemResponse(NoSuchType(call.Param("name")));
    Result<boost::json::object> body = ParseJsonObject(call.request.body);
    if (!body.ok()) return ProblemResponse(body.error());
    Result<EventType> changed = ChangedType(*body, *current, replace);
    if (!changed.ok()) return ProblemResponse(changed.error());
    if (SameDefinition(*changed, *current)) return JsonResponse(200, EventTypeToJson(*current));
    changed->version = current->version + 1;
    Result<EventType> prepared = Catalog::Prepare(std::move(*changed));
    if (!prepared.ok()) return ProblemResponse(prepared.error());
    Result<StoredEventType> stored =
        context_.store.AddEventTypeVersion(ToStored(*prepared), call.AuditChange(200));
    if (!stored.ok()) return ProblemResponse(stored.error());
    context_.catalog.Install(*prepared);
    return JsonResponse(200, EventTypeToJson(*context_.catalog.Find(prepared->id)));
  }

  Response Archive(Call& call) {
    call.audit.object_id = call.Param("name");
    const EventType* type = FindByNameOrId(context_.catalog, call.Param("name"));
    if (type == nullptr) return ProblemResponse(NoSuchType(call.Param("name")));
    if (type->builtin) {
      return ProblemResponse(
          Error::Conflict(type->name +
                          " is a built-in event type: it can get new versions (PUT, PATCH) but "
                          "cannot be deleted"));
    }
    if (type->archived) {
      return ProblemResponse(Error::Conflict(type->name + " is archived already"));
    }
    if (Status s = context_.store.ArchiveEventType(type->id, call.AuditChange(204)); !s.ok()) {
      return ProblemResponse(s.error());
    }
    context_.catalog.SetArchived(type->id, true);
    return NoContent();
  }

 private:
  // The body's "name" if it is a string of an acceptable length, else "".
  static std::string NameAskedFor(const boost::json::object& body) {
    const boost::json::value* name = body.if_contains("name");
    if (name == nullptr || !name->is_string() || name->as_string().size() > kMaxNameLength) {
      return {};
    }
    return std::string(name->as_string());
  }

  Result<EventType> NewType(const boost::json::object& body) {
    if (Status s = RejectUnknownFields(body, {"name", "webhookEventId", "description", "schema",
                                              "sample", "sampleHeaders", "isInference"});
        !s.ok()) {
      return s.error();
    }
    EventType type;
    Result<std::optional<std::string>> name = OptionalString(body, "name", kMaxNameLength);
    if (!name.ok()) return name.error();
    if (!name->has_value()) return Error::Invalid("name is required", "/name");
    type.name = **name;
    if (Status s = ValidName(type.name); !s.ok()) return s.error();
    if (context_.catalog.Find(std::string_view(type.name)) != nullptr) {
      return Error::Conflict("an event type named " + type.name + " exists already");
    }
    Result<std::optional<std::int64_t>> id =
        OptionalInteger(body, "webhookEventId", {1, kMaxEventTypeId});
    if (!id.ok()) return id.error();
    if (id->has_value()) {
      type.id = static_cast<int>(**id);
      if (const EventType* taken = context_.catalog.Find(type.id)) {
        return Error::Conflict("webhookEventId " + std::to_string(type.id) + " is " + taken->name +
                               "; leave it out to take the next free number");
      }
    }
    Result<std::optional<bool>> inference = OptionalBool(body, "isInference");
    if (!inference.ok()) return inference.error();
    type.is_inference = inference->value_or(false);
    if (Status s = ApplyDefinition(body, true, type); !s.ok()) return s.error();
    return type;
  }

  static Result<EventType> ChangedType(const boost::json::object& body, const EventType& current,
                                       bool replace) {
    std::vector<std::string_view> allowed(std::begin(kDefinitionFields),
                                          std::end(kDefinitionFields));
    if (replace) {
      allowed.insert(allowed.end(), std::begin(kIdentityFields), std::end(kIdentityFields));
      allowed.insert(allowed.end(), std::begin(kReadOnlyFields), std::end(kReadOnlyFields));
    }
    if (Status s = RejectUnknownFields(body, allowed); !s.ok()) return s.error();
    if (Status s = SameIdentity(body, current); !s.ok()) return s.error();
    EventType changed = current;
    changed.compiled = nullptr;
    if (Status s = ApplyDefinition(body, replace, changed); !s.ok()) return s.error();
    return changed;
  }

  ApiContext& context_;
};

}  // namespace

void AddEventTypeRoutes(Router& router, ApiContext& context) {
  auto api = std::make_shared<EventTypesApi>(context);
  router.Add("GET", "/event-types", Access::kAnyKey, [api](Call&) { return api->List(); });
  router.Add("POST", "/event-types", Access::kAdminKey,
             [api](Call& call) { return api->Create(call); });
  router.Add("GET", "/event-types/{name}", Access::kAnyKey,
             [api](Call& call) { return api->Get(call); });
  router.Add("PUT", "/event-types/{name}", Access::kAdminKey,
             [api](Call& call) { return api->Change(call, true); });
  router.Add("PATCH", "/event-types/{name}", Access::kAdminKey,
             [api](Call& call) { return api->Change(call, false); });
  router.Add("DELETE", "/event-types/{name}", Access::kAdminKey,
             [api](Call& call) { return api->Archive(call); });
  router.Add("GET", "/event-types/{name}/versions", Access::kAnyKey,
             [api](Call& call) { return api->ListVersions(call); });
  router.Add("GET", "/event-types/{name}/versions/{version}", Access::kAnyKey,
             [api](Call& call) { return api->GetVersion(call); });
}

}  // namespace webhookd::api
