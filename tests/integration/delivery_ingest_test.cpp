// Ingestion (issue 3, section 1): schema validation before anything is stored, tenancy of
// organization keys, events without configurations, Idempotency-Key replays and the batch
// endpoint's per-item results, each checked at a real receiver.
#include <signal.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "delivery_support.hpp"

namespace webhookd::itest {
namespace {

class DeliveryIngestTest : public DeliveryTest {
 protected:
  // Some tests here post as fast as they can; the per-key ingest limit would answer 429.
  std::vector<std::string> ExtraArgs() const override { return {"--ingest-rate-limit", "0"}; }
};

TEST_F(DeliveryIngestTest, RejectsInvalidEventsBeforeStoringAnything) {
  HttpReceiver receiver;
  HttpClient admin = Admin();
  const json::object config =
      CreateConfig(admin, HookBody(1, "BookAppointment", receiver.Url("/hook")));
  ASSERT_FALSE(HasFailure());

  json::object missing_last_name = Appointment(admin, 1);
  missing_last_name["patient"].as_object().erase("lastName");
  const HttpResponse invalid = PostEvent(admin, "BookAppointment", 1, missing_last_name);
  EXPECT_TRUE(IsProblem(invalid, 400, "invalid-request", "/payload/patient"));
  EXPECT_NE(invalid.json.at("detail").as_string().find("lastName"), std::string::npos)
      << invalid.Summary();

  json::object bad_date = Appointment(admin, 2);
  bad_date["date"] = "20-06-2024";
  EXPECT_TRUE(IsProblem(PostEvent(admin, "BookAppointment", 1, bad_date), 400, "invalid-request",
                        "/payload/date"));

  EXPECT_TRUE(IsProblem(PostEvent(admin, "NoSuchEvent", 1, Appointment(admin, 3)), 400,
                        "invalid-request", "/eventName"));

  HttpClient org1 = WithKey(CreateOrgKey(1));
  EXPECT_TRUE(
      IsProblem(PostEvent(org1, "BookAppointment", 2, Appointment(admin, 4)), 403, "forbidden"));

  const HttpResponse none = admin.Get("/deliveries");
  ASSERT_TRUE(IsJson(none, 200));
  EXPECT_TRUE(none.json.at("data").as_array().empty()) << none.Summary();
  EXPECT_EQ(receiver.Count(), 0u);

  // The configuration itself works: an organization key's own event reaches it.
  const json::object body{{"eventName", "BookAppointment"}, {"payload", Appointment(admin, 5)}};
  const HttpResponse accepted = org1.Post("/events", body);
  ASSERT_TRUE(IsJson(accepted, 202));
  EXPECT_EQ(accepted.json.at("organizationId"), json::value(1));
  const auto deliveries = AcceptedDeliveries(accepted);
  ASSERT_EQ(deliveries.size(), 1u);
  EXPECT_EQ(WaitForStatus(admin, deliveries.at(IdOf(config)), "succeeded", 10s).at("status"),
            "succeeded");
  ASSERT_EQ(receiver.Count(), 1u);
  EXPECT_EQ(receiver.Requests().front().Header("webhook-id"), accepted.json.at("id").as_string());
}

// 5e3000 is JSON but beyond a double: read as infinity, it would be stored and delivered as
// `Infinity`, which no receiver can parse. Every body refuses it, naming the place.
TEST_F(DeliveryIngestTest, NumbersBeyondADoubleAreRefusedWhereverTheyAre) {
  HttpReceiver receiver;
  HttpClient admin = Admin();
  CreateConfig(admin, HookBody(1, "BookAppointment", receiver.Url("/hook")));
  ASSERT_FALSE(HasFailure());
  json::object payload = Appointment(admin, 1);
  payload["attributes"].as_object()["reading"] = 123456789;
  const json::object event{
      {"organizationId", 1}, {"eventName", "BookAppointment"}, {"payload", payload}};
  std::string body = json::serialize(event);
  body.replace(body.find("123456789"), 9, "5e3000");
  const HttpResponse refused = admin.Request("POST", "/events", body);
  EXPECT_TRUE(IsProblem(refused, 400, "invalid-request", "/payload/attributes/reading"))
      << refused.Summary();
  const std::string batch = "{\"events\": [" + body + "]}";
  EXPECT_TRUE(IsProblem(admin.Request("POST", "/events/batch", batch), 400, "invalid-request",
                        "/events/0/payload/attributes/reading"));

  json::object type{{"name", "VitalSignRecorded"},
                    {"description", "A vital sign."},
                    {"schema", {{"type", "object"}, {"maximum", 123456789}}},
                    {"sample", json::object{}}};
  std::string type_body = json::serialize(type);
  type_body.replace(type_body.find("123456789"), 9, "-1e999");
  EXPECT_TRUE(IsProblem(admin.Request("POST", "/event-types", type_body), 400, "invalid-request",
                        "/schema/maximum"));

  const HttpResponse deliveries = admin.Get("/deliveries");
  ASSERT_TRUE(IsJson(deliveries, 200));
  EXPECT_TRUE(deliveries.json.at("data").as_array().empty()) << deliveries.Summary();
  EXPECT_FALSE(IsJson(admin.Get("/event-types/VitalSignRecorded"), 200));
  EXPECT_EQ(receiver.Count(), 0u);
}

// A payload wrong in several places gets every place at once, in `errors`, the first being
// `field`; batch items' errors point into the batch body.
TEST_F(DeliveryIngestTest, SchemaErrorsListEveryFailingField) {
  HttpClient admin = Admin();
  json::object payload = Appointment(admin, 1);
  payload.erase("status");
  payload.erase("endTime");
  payload["patient"].as_object().erase("lastName");
  payload["date"] = "20-06-2024";
  const json::value expected = json::parse(R"([
    {"field": "/payload/date",
     "detail": "must match pattern ^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"},
    {"field": "/payload/patient", "detail": "missing required property 'lastName'"},
    {"field": "/payload", "detail": "missing required property 'endTime'"},
    {"field": "/payload", "detail": "missing required property 'status'"}])");

  const HttpResponse r = PostEvent(admin, "BookAppointment", 1, payload);
  ASSERT_TRUE(IsProblem(r, 400, "invalid-request", "/payload/date")) << r.Summary();
  EXPECT_EQ(r.json.at("detail"),
            json::value("payload does not match the BookAppointment schema: must match pattern "
                        "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$ (and 3 more in "
                        "errors)"));
  EXPECT_EQ(r.json.at("errors"), expected) << r.Summary();

  const json::object batch{{"events", json::array{json::object{{"organizationId", 1},
                                                               {"eventName", "BookAppointment"},
                                                               {"payload", Appointment(admin, 2)}},
                                                  json::object{{"organizationId", 1},
                                                               {"eventName", "BookAppointment"},
                                                               {"payload", payload}}}}};
  const HttpResponse answered = admin.Post("/events/batch", batch);
  ASSERT_TRUE(IsJson(answered, 200));
  const json::value* item_errors = At(answered.json, "/data/1/error/errors");
  ASSERT_NE(item_errors, nullptr) << answered.Summary();
  EXPECT_EQ(json::serialize(*item_errors),
            ReplaceAll(json::serialize(expected), "\"/payload", "\"/events/1/payload"));
  EXPECT_EQ(At(answered.json, "/data/0/error"), nullptr) << answered.Summary();
}

TEST_F(DeliveryIngestTest, StoresAnEventThatMatchesNoConfiguration) {
  HttpClient admin = Admin();
  const json::object payload = Appointment(admin, 77);
  const HttpResponse accepted = PostEvent(admin, "BookAppointment", 9, payload);
  ASSERT_TRUE(IsJson(accepted, 202));
  EXPECT_TRUE(accepted.json.at("deliveries").as_array().empty()) << accepted.Summary();
  const std::string id(accepted.json.at("id").as_string());

  const HttpResponse event = admin.Get("/events/" + id);
  ASSERT_TRUE(IsJson(event, 200));
  EXPECT_EQ(event.json.at("id"), json::value(id));
  EXPECT_EQ(event.json.at("organizationId"), json::value(9));
  EXPECT_EQ(event.json.at("eventName"), json::value("BookAppointment"));
  EXPECT_EQ(event.json.at("webhookEventId"), json::value(5));
  EXPECT_EQ(event.json.at("payload"), json::value(payload));
  EXPECT_TRUE(event.json.at("deliveries").as_array().empty());
}

// An ingestion waits for its commit without holding a thread; SIGTERM while many are in flight
// must still answer each of them completely, exit 0, and have stored every event it accepted.
TEST_F(DeliveryIngestTest, SigtermDuringIngestionStoresEveryAcceptedEvent) {
  HttpClient admin = Admin();
  const json::object payload = Appointment(admin, 1);
  std::atomic<bool> stop{false};
  std::atomic<int> incomplete{0};
  std::string first_incomplete;  // written by the poster that counts the first one
  std::mutex mu;
  std::vector<std::string> accepted;
  std::vector<std::thread> posters;
  for (int t = 0; t < 8; ++t) {
    posters.emplace_back([&] {
      HttpClient client(server_->base_url(), admin_key_);
      client.set_timeout(5s);
      while (!stop) {
        const HttpResponse r = PostEvent(client, "BookAppointment", 1, payload);
        if (r.status == 0) continue;  // refused or closed before an answer: allowed
        if (r.status != 202 || !r.is_json) {
          if (++incomplete == 1) first_incomplete = r.Summary();
          continue;
        }
        std::lock_guard lock(mu);
        accepted.push_back(std::string(r.json.at("id").as_string()));
      }
    });
  }
  std::this_thread::sleep_for(500ms);
  const auto exit = server_->Terminate(10s);
  stop = true;
  for (auto& poster : posters) poster.join();
  ASSERT_TRUE(exit.has_value()) << "still running 10 s after SIGTERM";
  EXPECT_TRUE(exit->Clean()) << exit->Describe();
  EXPECT_EQ(incomplete.load(), 0) << "the first: " << first_incomplete;
  ASSERT_GT(accepted.size(), 0u);

  server_.reset();
  ASSERT_NO_FATAL_FAILURE(StartServer());
  HttpClient again = Admin();
  int missing = 0;
  for (const std::string& id : accepted) {
    const HttpResponse stored = again.Get("/events/" + id);
    const bool intact = IsJson(stored, 200) && stored.json.at("id") == json::value(id) &&
                        stored.json.at("payload") == json::value(payload);
    if (!intact) ++missing;
  }
  EXPECT_EQ(missing, 0) << "of " << accepted.size() << " accepted events stored intact";
}

// What /metrics says after five events were delivered to one configuration and given up at
// another (its receiver answers 400, and its schedule allows one attempt): the counts, the backlog
// (the dead letters, and no series of succeeded deliveries, which would take a scan of the whole
// table to count), and the store writer's own figures (every write went through it, so it ran at
// least one job per event).
TEST_F(DeliveryIngestTest, MetricsCountIngestedEventsDeliveriesTheBacklogAndTheStoreWriter) {
  HttpReceiver receiver;
  HttpReceiver refusing([](const ReceivedRequest&) { return Answer(400, "no"); });
  HttpClient admin = Admin();
  CreateConfig(admin, HookBody(1, "BookAppointment", receiver.Url("/hook")));
  json::object dead_letters = HookBody(1, "BookAppointment", refusing.Url("/hook"), "refused");
  dead_letters["retrySchedule"] = json::array{0};  // one attempt, then the dead letter
  CreateConfig(admin, dead_letters);
  ASSERT_FALSE(HasFailure());
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(IsJson(PostEvent(admin, "BookAppointment", 1, Appointment(admin, i)), 202));
  }
  std::string metrics;
  ASSERT_TRUE(WaitUntil(
      [&] {
        metrics = admin.Get("/metrics").body;
        // The backlog is counted at most once a second, so it may lag the results.
        return MetricValue(metrics, R"(webhookd_delivery_results_total{result="succeeded"})") ==
                   5.0 &&
               MetricValue(metrics, R"(webhookd_deliveries{status="pending"})") == 0.0 &&
               MetricValue(metrics, R"(webhookd_deliveries{status="delivering"})") == 0.0 &&
               MetricValue(metrics, R"(webhookd_deliveries{status="failed"})") == 5.0;
      },
      10s, 50ms))
      << metrics;
  EXPECT_EQ(MetricValue(metrics, R"(webhookd_deliveries{status="succeeded"})"), std::nullopt)
      << metrics;
  EXPECT_EQ(MetricValue(metrics, R"(webhookd_delivery_results_total{result="failed"})"), 5.0);
  EXPECT_EQ(MetricValue(metrics, R"(webhookd_events_ingested_total{event="BookAppointment"})"),
            5.0);
  EXPECT_EQ(MetricValue(metrics, "webhookd_store_ingest_commit_seconds_count"), 5.0);
  const std::optional<double> batches = MetricValue(metrics, "webhookd_store_batches_total");
  const std::optional<double> jobs = MetricValue(metrics, "webhookd_store_batch_jobs_total");
  ASSERT_TRUE(batches && jobs) << metrics;
  EXPECT_GE(*batches, 1.0);
  EXPECT_GE(*jobs, 5.0);
  EXPECT_LE(*batches, *jobs);
  EXPECT_GT(MetricValue(metrics, "webhookd_store_writer_busy_seconds_total").value_or(0), 0.0);
  EXPECT_EQ(receiver.Count(), 5u);
  EXPECT_EQ(refusing.Count(), 5u);
}

TEST_F(DeliveryIngestTest, EventAndDeliveryIdsAreUniqueAndSortable) {
  HttpReceiver receiver;
  HttpClient admin = Admin();
  CreateConfig(admin, HookBody(1, "BookAppointment", receiver.Url("/hook")));
  ASSERT_FALSE(HasFailure());
  const json::object payload = Appointment(admin, 1);
  std::vector<std::string> event_ids;
  std::vector<std::string> delivery_ids;
  for (int i = 0; i < 20; ++i) {
    const HttpResponse r = PostEvent(admin, "BookAppointment", 1, payload);
    ASSERT_TRUE(IsJson(r, 202));
    event_ids.emplace_back(r.json.at("id").as_string());
    delivery_ids.emplace_back(r.json.at("deliveries").at(0).at("id").as_string());
  }
  for (const auto* ids : {&event_ids, &delivery_ids}) {
    for (std::size_t i = 1; i < ids->size(); ++i) {
      EXPECT_LT((*ids)[i - 1], (*ids)[i]) << "ids are not increasing in creation order";
    }
  }
  EXPECT_NE(event_ids.front(), delivery_ids.front());
}

TEST_F(DeliveryIngestTest, IdempotencyKeyReplaysTheOriginalReplyAndDeliversOnce) {
  HttpReceiver receiver;
  HttpClient admin = Admin();
  const json::object config =
      CreateConfig(admin, HookBody(1, "BookAppointment", receiver.Url("/hook")));
  ASSERT_FALSE(HasFailure());

  const HeaderList key = {{"Idempotency-Key", "booking-58240-v1"}};
  const HttpResponse first = PostEvent(admin, "BookAppointment", 1, Appointment(admin, 1), key);
  const HttpResponse second = PostEvent(admin, "BookAppointment", 1, Appointment(admin, 1), key);
  ASSERT_TRUE(IsJson(first, 202));
  ASSERT_TRUE(IsJson(second, 202));
  // The whole answer and nothing more: the event, its type and organization, each delivery.
  const json::object accepted{
      {"id", first.json.at("id")},
      {"eventName", "BookAppointment"},
      {"organizationId", 1},
      {"deliveries", json::array{json::object{{"id", AcceptedDeliveries(first).at(IdOf(config))},
                                              {"externalEventId", IdOf(config)}}}}};
  EXPECT_EQ(first.json, json::value(accepted)) << first.body;
  EXPECT_EQ(first.Header("idempotent-replayed"), "");
  EXPECT_EQ(second.Header("idempotent-replayed"), "true");
  EXPECT_EQ(second.json.at("id"), first.json.at("id"));
  EXPECT_EQ(second.json.at("deliveries"), first.json.at("deliveries"));

  // Another key is another event.
  const HttpResponse third = PostEvent(admin, "BookAppointment", 1, Appointment(admin, 1),
                                       {{"Idempotency-Key", "booking-58240-v2"}});
  ASSERT_TRUE(IsJson(third, 202));
  EXPECT_NE(third.json.at("id"), first.json.at("id"));

  for (const HttpResponse* r : {&first, &third}) {
    const std::string delivery = AcceptedDeliveries(*r).at(IdOf(config));
    EXPECT_EQ(WaitForStatus(admin, delivery, "succeeded", 10s).at("status"), "succeeded");
  }
  std::multiset<std::string> ids;
  for (const ReceivedRequest& r : receiver.Requests()) ids.insert(r.Header("webhook-id"));
  EXPECT_EQ(ids, (std::multiset<std::string>{std::string(first.json.at("id").as_string()),
                                             std::string(third.json.at("id").as_string())}));
  EXPECT_EQ(DeliveriesOf(admin, IdOf(config)).size(), 2u);
}

TEST_F(DeliveryIngestTest, BatchAnswersPerItemAndDeliversTheValidOnes) {
  HttpReceiver receiver;
  HttpClient admin = Admin();
  const json::object config =
      CreateConfig(admin, HookBody(1, "BookAppointment", receiver.Url("/hook")));
  ASSERT_FALSE(HasFailure());

  json::object invalid_payload = Appointment(admin, 2);
  invalid_payload.erase("patient");
  auto item = [](const json::object& payload) {
    return json::object{
        {"eventName", "BookAppointment"}, {"organizationId", 1}, {"payload", payload}};
  };
  const json::object batch{
      {"events", json::array{item(Appointment(admin, 1)), item(invalid_payload),
                             item(Appointment(admin, 3))}}};
  const HttpResponse r = admin.Post("/events/batch", batch);
  ASSERT_TRUE(IsJson(r, 200));
  const json::array& data = r.json.at("data").as_array();
  ASSERT_EQ(data.size(), 3u) << r.Summary();
  for (std::size_t i = 0; i < data.size(); ++i) {
    EXPECT_EQ(data[i].at("index"), json::value(i)) << r.Summary();
  }
  EXPECT_EQ(data[0].at("status"), json::value(202));
  EXPECT_EQ(data[2].at("status"), json::value(202));
  EXPECT_EQ(data[1].at("status"), json::value(400));
  const json::value* field = At(data[1], "/error/field");
  ASSERT_NE(field, nullptr) << r.Summary();
  EXPECT_EQ(*field, json::value("/events/1/payload")) << r.Summary();
  EXPECT_EQ(data[1].as_object().if_contains("id"), nullptr);

  std::multiset<std::string> accepted_ids;
  for (const std::size_t i : {0u, 2u}) {
    accepted_ids.insert(std::string(data[i].at("id").as_string()));
    const json::array& deliveries = data[i].at("deliveries").as_array();
    ASSERT_EQ(deliveries.size(), 1u) << r.Summary();
    const std::string delivery(deliveries[0].at("id").as_string());
    EXPECT_EQ(WaitForStatus(admin, delivery, "succeeded", 10s).at("status"), "succeeded");
  }
  std::multiset<std::string> received_ids;
  for (const ReceivedRequest& req : receiver.Requests()) {
    received_ids.insert(req.Header("webhook-id"));
  }
  EXPECT_EQ(received_ids, accepted_ids);
  EXPECT_EQ(DeliveriesOf(admin, IdOf(config)).size(), 2u);
}

}  // namespace
}  // namespace webhookd::itest
