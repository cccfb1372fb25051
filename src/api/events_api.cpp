// /events: ingestion (single and batch, idempotency keys), event status and inference results.
#include <array>
#include <boost/json/monotonic_resource.hpp>
#include <chrono>

#include "api/api.hpp"
#include "api/config_json.hpp"
#include "api/delivery_json.hpp"
#include "api/json_io.hpp"
#include "api/problem.hpp"
#include "api/tenancy.hpp"
#include "core/ids.hpp"
#include "core/json_parse.hpp"
#include "core/utf8.hpp"

namespace webhookd::api {
namespace {

constexpr std::size_t kMaxBatch = 1000;
constexpr std::size_t kMaxIdempotencyKey = 255;
// An ingest body's parsed form lives only while its handler runs (what is kept is copied into
// the NewEvent), so its nodes come from one block on the stack, freed at once rather than one
// by one; a larger body takes more blocks from the heap.
constexpr std::size_t kBodyArenaBytes = 8 * 1024;

Status ValidIdempotencyKey(std::string_view key, const std::string& field) {
  if (key.size() > kMaxIdempotencyKey) {
    return Error::Invalid("idempotency keys are limited to 255 characters", field);
  }
  for (char c : key) {
    if (c < 0x21 || c > 0x7e) {
      return Error::Invalid("idempotency keys are printable ASCII without spaces", field);
    }
  }
  return Status::Ok();
}

// Error fields of a batch item point into the batch body.
Error AtItem(Error error, std::size_t index) {
  if (error.kind == ErrorKind::kInvalid) {
    const std::string item = "/events/" + std::to_string(index);
    error.field = item + error.field;
    for (FieldError& each : error.errors) each.field = item + each.field;
  }
  return error;
}

// A payload's schema failures as the request's error: fields point into the request body.
Error PayloadError(const EventType& type, Error schema_error) {
  std::string detail =
      "payload does not match the " + type.name + " schema: " + schema_error.message;
  if (schema_error.errors.size() > 1) {
    detail += " (and " + std::to_string(schema_error.errors.size() - 1) + " more in errors)";
  }
  Error out = Error::Invalid(std::move(detail), "/payload" + schema_error.field);
  out.errors = std::move(schema_error.errors);
  for (FieldError& each : out.errors) each.field = "/payload" + each.field;
  return out;
}

boost::json::object ProblemJson(const Error& error) {
  const Response problem = ProblemResponse(error);
  return boost::json::parse(problem.body).as_object();
}

// The request's events are over its API key's rate: 429 with Retry-After.
Response RateLimitedResponse(const RateLimit& limit, const KeyRateLimiter::Refusal& refusal) {
  const std::string retry_after = std::to_string(refusal.retry_after_seconds);
  Response response = ProblemResponse(Error::RateLimited(
      "events from this API key are limited to " + std::to_string(limit.per_second) +
      " a second, in bursts of up to " + std::to_string(limit.burst) +
      " (the server's --ingest-rate-limit and --ingest-burst); retry after " + retry_after + " s"));
  response.headers.emplace_back("retry-after", retry_after);
  return response;
}

// The error of a request whose events would create too many deliveries (then none was stored),
// or null.
const Error* DeliveryLimitError(const std::vector<Result<IngestedEvent>>& stored) {
  for (const Result<IngestedEvent>& r : stored) {
    if (!r.ok() && r.error().kind == ErrorKind::kLimitExceeded) return &r.error();
  }
  return nullptr;
}

Response DeliveryLimitResponse(const Error& error) {
  return ProblemResponse(WithLimitFlag(error, "--max-deliveries-per-request"));
}

// The answer to an accepted event (the body of POST /events' 202, an item of the batch answer),
// written directly: building a json::object and serializing it cost a sixth of the thread that
// answers ingestion (the store's completer).
std::string AcceptedBody(const IngestedEvent& ingested, const Catalog& catalog) {
  const EventType* type = catalog.Find(ingested.event.event_type_id);
  std::string out = R"({"id":)";
  AppendJsonString(out, ingested.event.id);
  out += R"(,"eventName":)";
  AppendJsonString(out, type != nullptr ? std::string_view(type->name) : std::string_view());
  out += R"(,"organizationId":)";
  out += std::to_string(ingested.event.organization_id);
  out += R"(,"deliveries":[)";
  for (std::size_t i = 0; i < ingested.deliveries.size(); ++i) {
    if (i > 0) out += ',';
    out += R"({"id":)";
    AppendJsonString(out, ingested.deliveries[i].id);
    out += R"(,"externalEventId":)";
    out += std::to_string(ingested.deliveries[i].config_id);
    out += '}';
  }
  out += "]}";
  return out;
}

class EventsApi {
 public:
  explicit EventsApi(ApiContext& context)
      : context_(context), rate_limiter_(context.options.ingest_rate_limit, context.clock) {}

  void Ingest(Call& call, const Reply& reply) {
    if (auto refused = rate_limiter_.Take(call.principal.key_id, 1)) {
      return reply(RateLimitedResponse(rate_limiter_.limit(), *refused));
    }
    std::array<unsigned char, kBodyArenaBytes> arena_block;
    boost::json::monotonic_resource arena(arena_block.data(), arena_block.size());
    Result<boost::json::object> body = ParseJsonObject(call.request.body, &arena);
    if (!body.ok()) return reply(ProblemResponse(body.error()));
    std::string key(call.request.Header("idempotency-key"));
    if (Status s = ValidIdempotencyKey(key, "Idempotency-Key"); !s.ok()) {
      return reply(ProblemResponse(s.error()));
    }
    Result<NewEvent> event = ReadEvent(*body, call.principal, key, call.request.body);
    if (!event.ok()) return reply(ProblemResponse(event.error()));
    std::vector<NewEvent> events;
    events.push_back(std::move(*event));
    Commit(std::move(events), [this, reply](std::vector<Result<IngestedEvent>> stored) {
      if (const Error* limit = DeliveryLimitError(stored)) {
        return reply(DeliveryLimitResponse(*limit));
      }
      if (!stored.front().ok()) return reply(ProblemResponse(stored.front().error()));
      Response response;
      response.status = 202;
      response.body = AcceptedBody(*stored.front(), context_.catalog);
      if (stored.front()->replayed) response.headers.emplace_back("idempotent-replayed", "true");
      reply(std::move(response));
    });
  }

  void IngestBatch(Call& call, const Reply& reply) {
    std::array<unsigned char, kBodyArenaBytes> arena_block;
    boost::json::monotonic_resource arena(arena_block.data(), arena_block.size());
    Result<boost::json::object> body = ParseJsonObject(call.request.body, &arena);
    if (!body.ok()) return reply(ProblemResponse(body.error()));
    if (Status s = RejectUnknownFields(*body, {"events"}); !s.ok()) {
      return reply(ProblemResponse(s.error()));
    }
    const boost::json::value* items = body->if_contains("events");
    if (items == nullptr || !items->is_array() || items->as_array().empty() ||
        items->as_array().size() > kMaxBatch) {
      return reply(ProblemResponse(
          Error::Invalid("events must be an array of 1 to 1000 events", "/events")));
    }
    const boost::json::array& array = items->as_array();
    if (auto refused =
            rate_limiter_.Take(call.principal.key_id, static_cast<std::int64_t>(array.size()))) {
      return reply(RateLimitedResponse(rate_limiter_.limit(), *refused));
    }
    auto answer = std::make_shared<BatchAnswer>();
    answer->results.resize(array.size());
    std::vector<NewEvent> valid;
    for (std::size_t i = 0; i < array.size(); ++i) {
      Result<NewEvent> event = ReadBatchItem(array[i], call.principal);
      if (event.ok()) {
        valid.push_back(std::move(*event));
        answer->valid_index.push_back(i);
      } else {
        answer->results[i] = {{"status", ProblemStatus(event.error())},
                              {"error", ProblemJson(AtItem(event.error(), i))}};
      }
    }
    Commit(std::move(valid), [this, answer, reply](std::vector<Result<IngestedEvent>> stored) {
      if (const Error* limit = DeliveryLimitError(stored)) {
        return reply(DeliveryLimitResponse(*limit));
      }
      reply(BatchResponse(*answer, stored));
    });
  }

  Response Get(Call& call) {
    Result<Event> event = context_.store.GetEvent(call.Param("id"), call.principal.scope);
    if (!event.ok()) return ProblemResponse(event.error());
    call.audit.organization_id = event->organization_id;
    Result<std::vector<Delivery>> deliveries =
        context_.store.DeliveriesOfEvent(event->id, call.principal.scope);
    if (!deliveries.ok()) return ProblemResponse(deliveries.error());
    boost::json::object out = EventToJson(*event, context_.catalog);
    boost::json::array list;
    for (const Delivery& d : *deliveries) list.push_back(DeliveryToJson(d));
    out["deliveries"] = std::move(list);
    return JsonResponse(200, out);
  }

  // The receivers' answers: for InferenceTo* events the response body is the result.
  Response GetResult(Call& call) {
    Result<Event> event = context_.store.GetEvent(call.Param("id"), call.principal.scope);
    if (!event.ok()) return ProblemResponse(event.error());
    call.audit.organization_id = event->organization_id;
    Result<std::vector<Delivery>> deliveries =
        context_.store.DeliveriesOfEvent(event->id, call.principal.scope);
    if (!deliveries.ok()) return ProblemResponse(deliveries.error());
    boost::json::array results;
    for (const Delivery& d : *deliveries) {
      Result<boost::json::object> result =
          ResultOf(d, event->payload_erased_at != 0, call.principal.scope);
      if (!result.ok()) return ProblemResponse(result.error());
      results.push_back(std::move(*result));
    }
    const EventType* type = context_.catalog.Find(event->event_type_id);
    return JsonResponse(200, {{"eventId", event->id},
                              {"eventName", type != nullptr ? type->name : ""},
                              {"isInference", type != nullptr && type->is_inference},
                              {"results", std::move(results)}});
  }

 private:
  // Per batch item: its answer so far (invalid items), and which items went to the store.
  struct BatchAnswer {
    std::vector<boost::json::object> results;
    std::vector<std::size_t> valid_index;  // item index of each stored event, in order
  };

  Response BatchResponse(BatchAnswer& answer, const std::vector<Result<IngestedEvent>>& stored) {
    for (std::size_t j = 0; j < stored.size(); ++j) {
      boost::json::object& result = answer.results[answer.valid_index[j]];
      if (stored[j].ok()) {
        result = boost::json::parse(AcceptedBody(*stored[j], context_.catalog)).as_object();
        result["status"] = 202;
        result["replayed"] = stored[j]->replayed;
      } else {
        result = {{"status", ProblemStatus(stored[j].error())},
                  {"error", ProblemJson(stored[j].error())}};
      }
    }
    boost::json::array data;
    for (std::size_t i = 0; i < answer.results.size(); ++i) {
      answer.results[i]["index"] = i;
      data.push_back(std::move(answer.results[i]));
    }
    return JsonResponse(200, {{"data", std::move(data)}});
  }

  // Stores the events; `done` gets the results on a store thread once they are committed.
  void Commit(std::vector<NewEvent> events, Store::IngestDone done) {
    const auto started = std::chrono::steady_clock::now();
    context_.store.IngestEventsAsync(
        std::move(events), IngestLimits{context_.options.max_deliveries_per_request},
        [this, started, done = std::move(done)](std::vector<Result<IngestedEvent>> stored) {
          const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
              std::chrono::steady_clock::now() - started);
          ApiMetrics& metrics = context_.metrics;
          metrics.ingest_commits.fetch_add(1, std::memory_order_relaxed);
          metrics.ingest_commit_micros.fetch_add(micros.count(), std::memory_order_relaxed);
          for (const Result<IngestedEvent>& r : stored) {
            if (r.ok() && !r->replayed) {
              metrics.events_ingested[r->event.event_type_id].fetch_add(1,
                                                                        std::memory_order_relaxed);
            }
          }
          done(std::move(stored));
        });
  }

  static int ProblemStatus(const Error& error) { return ProblemResponse(error).status; }

  Result<NewEvent> ReadBatchItem(const boost::json::value& item, const Principal& principal) {
    if (!item.is_object()) return Error::Invalid("each event must be a JSON object", "");
    return ReadEvent(item.as_object(), principal, "", "");
  }

  // The Idempotency-Key header wins; a body member idempotencyKey serves callers (and batch
  // items) that cannot set headers.
  static Result<std::string> IdempotencyKeyOf(const boost::json::object& body,
                                              std::string header_key) {
    if (!header_key.empty()) return header_key;
    Result<std::optional<std::string>> key =
        OptionalString(body, "idempotencyKey", kMaxIdempotencyKey);
    if (!key.ok()) return key.error();
    if (!key->has_value()) return std::string();
    if (Status s = ValidIdempotencyKey(**key, "/idempotencyKey"); !s.ok()) return s.error();
    return **key;
  }

  // `body_text`: the text `body` was parsed from, if it is the request's whole body: the payload
  // is then stored as the client wrote it, else serialized.
  Result<NewEvent> ReadEvent(const boost::json::object& body, const Principal& principal,
                             std::string header_key, std::string_view body_text) {
    if (Status s = RejectUnknownFields(body, {"eventName", "webhookEventId", "eventId",
                                              "organizationId", "payload", "idempotencyKey"});
        !s.ok()) {
      return s.error();
    }
    Result<std::int64_t> org = OrganizationOfWrite(body, principal);
    if (!org.ok()) return org.error();
    Result<std::string> idempotency_key = IdempotencyKeyOf(body, std::move(header_key));
    if (!idempotency_key.ok()) return idempotency_key.error();
    Result<std::optional<int>> type_id = ReadEventType(body, context_.catalog);
    if (!type_id.ok()) return type_id.error();
    if (!type_id->has_value()) {
      return Error::Invalid("eventName or webhookEventId is required", "/eventName");
    }
    const boost::json::value* payload = body.if_contains("payload");
    if (payload == nullptr) return Error::Invalid("payload is required", "/payload");
    const EventType& type = *context_.catalog.Find(**type_id);
    if (Status s = context_.catalog.Validate(type, *payload); !s.ok()) {
      return PayloadError(type, s.error());
    }
    NewEvent event;
    event.id = NewSortableId("evt", context_.clock.Now());
    event.organization_id = *org;
    event.event_type_id = type.id;
    event.event_type_version = type.version;
    const std::optional<std::string_view> payload_text = RawMemberText(body_text, "payload");
    event.payload_json =
        payload_text ? std::string(*payload_text) : boost::json::serialize(*payload);
    event.idempotency_key = std::move(*idempotency_key);
    return event;
  }

  // `erased`: payload retention has erased the event's payload and its attempts' bodies.
  Result<boost::json::object> ResultOf(const Delivery& delivery, bool erased, OrgScope scope) {
    boost::json::object out{{"deliveryId", delivery.id},
                            {"externalEventId", delivery.config_id},
                            {"status", DeliveryStatusName(delivery.status)}};
    if (delivery.status != DeliveryStatus::kSucceeded) {
      out["result"] = nullptr;
      return out;
    }
    if (erased) {
      out["result"] = nullptr;
      out["resultError"] = "erased by payload retention";
      return out;
    }
    Result<std::vector<Attempt>> attempts = context_.store.ListAttempts(delivery.id, scope);
    if (!attempts.ok()) return attempts.error();
    for (auto it = attempts->rbegin(); it != attempts->rend(); ++it) {
      if (it->status_code < 200 || it->status_code > 299) continue;
      out["statusCode"] = it->status_code;
      boost::json::error_code ec;
      boost::json::value body = boost::json::parse(it->response_body, ec);
      if (ec) {
        out["result"] = nullptr;
        // The words the attempt recorded ("invalid inference result: ..."), so that the two
        // places that report an unusable result say the same.
        out["resultError"] = it->error.empty() ? "the response body is not JSON" : it->error;
      } else {
        out["result"] = std::move(body);
      }
      return out;
    }
    out["result"] = nullptr;
    return out;
  }

  ApiContext& context_;
  KeyRateLimiter rate_limiter_;
};

}  // namespace

void AddEventRoutes(Router& router, ApiContext& context) {
  auto api = std::make_shared<EventsApi>(context);
  router.AddAsync(
      "POST", "/events", Access::kAnyKey,
      [api](Call& call, const Reply& reply) { api->Ingest(call, reply); }, Audit::kNever);
  router.AddAsync(
      "POST", "/events/batch", Access::kAnyKey,
      [api](Call& call, const Reply& reply) { api->IngestBatch(call, reply); }, Audit::kNever);
  router.Add(
      "GET", "/events/{id}", Access::kAnyKey, [api](Call& call) { return api->Get(call); },
      Audit::kPatientData);
  router.Add(
      "GET", "/events/{id}/result", Access::kAnyKey,
      [api](Call& call) { return api->GetResult(call); }, Audit::kPatientData);
}

}  // namespace webhookd::api
