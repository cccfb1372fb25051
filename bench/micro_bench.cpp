// Per-stage microbenchmarks of the delivery engine's CPU work, without I/O: building a signed
// delivery request and validating an event against its catalog schema. Run with
//   build/bench/bench_micro --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
// (docs/benchmarks.md, "Per-stage microbenchmarks").
#include <benchmark/benchmark.h>

#include <boost/json.hpp>
#include <string>

#include "catalog/catalog.hpp"
#include "delivery/request_builder.hpp"

namespace webhookd {
namespace {

constexpr UnixMillis kNow = 1'700'000'123'456;

const EventType& BookAppointment() { return *Catalog::Builtin().Find("BookAppointment"); }

// A configuration as the platform sets them up: both known attributes, two headers, and a
// rotation in progress (two signatures per send).
WebhookConfig RealisticConfig() {
  WebhookConfig config;
  config.id = 7;
  config.url = "https://receiver.example/hooks/appointments";
  config.event_type_id = BookAppointment().id;
  config.attributes_json = R"({"apiKey":"ak_live_0123456789abcdef","organizationCode":"ACME"})";
  config.headers_json = R"({"X-Tenant":"acme-health","X-Trace-Source":"webhookd"})";
  config.secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  config.previous_secret = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
  config.previous_secret_expires_at = kNow + 3'600'000;
  return config;
}

delivery::MessageToSend Message(const std::string& payload) {
  return {"evt_01HXYZABCDEFGHJKMNPQRSTVWX", BookAppointment().name, payload, kNow};
}

void BM_BuildDeliveryRequest(benchmark::State& state) {
  const WebhookConfig config = RealisticConfig();
  const std::string payload = BookAppointment().sample_json;
  const delivery::RequestSettings settings;
  for (auto _ : state) {
    Result<delivery::HttpRequest> request =
        delivery::BuildDeliveryRequest(config, Message(payload), settings);
    benchmark::DoNotOptimize(request);
  }
}
BENCHMARK(BM_BuildDeliveryRequest);

// What the dispatcher does per send: the configuration prepared once, outside the loop.
void BM_BuildPreparedRequest(benchmark::State& state) {
  const delivery::PreparedConfig prepared(RealisticConfig(), delivery::RequestSettings{});
  const std::string payload = BookAppointment().sample_json;
  for (auto _ : state) {
    Result<delivery::HttpRequest> request =
        delivery::BuildDeliveryRequest(prepared, Message(payload));
    benchmark::DoNotOptimize(request);
  }
}
BENCHMARK(BM_BuildPreparedRequest);

void BM_ValidateSample(benchmark::State& state) {
  const Catalog& catalog = Catalog::Builtin();
  const EventType& type = *catalog.Find(static_cast<int>(state.range(0)));
  const boost::json::value sample = boost::json::parse(type.sample_json);
  state.SetLabel(type.name);
  for (auto _ : state) {
    Status status = catalog.Validate(type, sample);
    if (!status.ok()) state.SkipWithError("the catalog's sample does not validate");
    benchmark::DoNotOptimize(status);
  }
}
BENCHMARK(BM_ValidateSample)->DenseRange(1, 12);

}  // namespace
}  // namespace webhookd

BENCHMARK_MAIN();
