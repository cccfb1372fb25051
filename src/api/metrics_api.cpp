// GET /metrics in the Prometheus text exposition format.
#include <fmt/format.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>

#include "api/api.hpp"
#include "delivery/dispatcher.hpp"

namespace webhookd::api {
namespace {

void Family(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

void WriteEventMetrics(std::string& out, const ApiContext& context) {
  Family(out, "webhookd_events_ingested_total", "counter", "Events accepted, by event type.");
  for (const EventType& type : context.catalog.types()) {
    fmt::format_to(std::back_inserter(out), "webhookd_events_ingested_total{{event=\"{}\"}} {}\n",
                   type.name, context.metrics.events_ingested[type.id].load());
  }
  Family(out, "webhookd_store_ingest_commit_seconds", "summary",
         "Latency of the store commits that accept events.");
  fmt::format_to(std::back_inserter(out),
                 "webhookd_store_ingest_commit_seconds_sum {:.6f}\n"
                 "webhookd_store_ingest_commit_seconds_count {}\n",
                 context.metrics.ingest_commit_micros.load() / 1e6,
                 context.metrics.ingest_commits.load());
}

void WriteWriterMetrics(std::string& out, const ApiContext& context) {
  const WriterStats stats = context.store.GetWriterStats();
  Family(out, "webhookd_store_batches_total", "counter",
         "Write transactions of the store's group-commit writer, each one commit.");
  fmt::format_to(std::back_inserter(out), "webhookd_store_batches_total {}\n", stats.batches);
  Family(out, "webhookd_store_batch_jobs_total", "counter",
         "Writes those transactions carried (an event, a claim, a batch of attempt results).");
  fmt::format_to(std::back_inserter(out), "webhookd_store_batch_jobs_total {}\n", stats.jobs);
  Family(out, "webhookd_store_writer_busy_seconds_total", "counter",
         "Time the writer threads spent running transactions; a rate near their number (SQLite "
         "1, PostgreSQL 2) means the store's writer is the bottleneck.");
  fmt::format_to(std::back_inserter(out), "webhookd_store_writer_busy_seconds_total {:.6f}\n",
                 stats.busy_micros / 1e6);
}

// The store's backlog, counted at most once a second however often /metrics is read: the route
// is public, and a count reads an index entry per delivery pending, delivering or failed.
class BacklogGauge {
 public:
  std::optional<DeliveryBacklog> Read(Store& store) {
    std::lock_guard lock(mu_);
    const auto now = std::chrono::steady_clock::now();
    if (!counted_ || now - counted_at_ >= kMaxAge) {
      Result<DeliveryBacklog> counted = store.CountBacklog();
      if (!counted.ok()) return std::nullopt;
      counted_ = *counted;
      counted_at_ = now;
    }
    return counted_;
  }

 private:
  static constexpr std::chrono::seconds kMaxAge{1};
  std::mutex mu_;
  std::optional<DeliveryBacklog> counted_;  // guarded by mu_
  std::chrono::steady_clock::time_point counted_at_;
};

void WriteDeliveryBacklog(std::string& out, BacklogGauge& gauge, Store& store) {
  const std::optional<DeliveryBacklog> backlog = gauge.Read(store);
  if (!backlog) return;
  Family(out, "webhookd_deliveries", "gauge",
         "Deliveries in the store not done with, by status: pending, delivering, failed (given "
         "up). Counted at most once a second.");
  fmt::format_to(std::back_inserter(out),
                 "webhookd_deliveries{{status=\"pending\"}} {}\n"
                 "webhookd_deliveries{{status=\"delivering\"}} {}\n"
                 "webhookd_deliveries{{status=\"failed\"}} {}\n",
                 backlog->pending, backlog->delivering, backlog->failed);
}

void WriteDispatcherMetrics(std::string& out, const delivery::DispatcherMetrics& m) {
  auto line = [&out](std::string_view text, std::int64_t value) {
    fmt::format_to(std::back_inserter(out), "{} {}\n", text, value);
  };
  Family(out, "webhookd_attempts_total", "counter", "Delivery attempts, by outcome.");
  for (int c = 0; c < 4; ++c) {
    line(fmt::format("webhookd_attempts_total{{outcome=\"{}\"}}",
                     delivery::AttemptClassName(static_cast<AttemptClass>(c))),
         m.attempts_by_class[c].load());
  }
  Family(out, "webhookd_delivery_results_total", "counter",
         "What recorded attempts did to their deliveries.");
  line("webhookd_delivery_results_total{result=\"succeeded\"}", m.deliveries_succeeded.load());
  line("webhookd_delivery_results_total{result=\"retry_scheduled\"}",
       m.deliveries_retry_scheduled.load());
  line("webhookd_delivery_results_total{result=\"failed\"}", m.deliveries_failed.load());
  Family(out, "webhookd_configs_disabled_total", "counter",
         "Configurations deactivated by the platform (410 Gone or failing too long).");
  line("webhookd_configs_disabled_total", m.configs_disabled.load());
  Family(out, "webhookd_in_flight_requests", "gauge", "Webhook requests sent and not answered.");
  line("webhookd_in_flight_requests", m.in_flight.load());
  Family(out, "webhookd_queued_deliveries", "gauge",
         "Claimed deliveries waiting for their endpoint's in-flight cap.");
  line("webhookd_queued_deliveries", m.queued.load());
  Family(out, "webhookd_attempt_duration_seconds", "histogram", "Duration of delivery attempts.");
  std::int64_t cumulative = 0;
  for (std::size_t i = 0; i < m.duration_buckets.size(); ++i) {
    cumulative += m.duration_buckets[i].load();
    const std::string le = i < m.kDurationBucketsMs.size()
                               ? fmt::format("{}", m.kDurationBucketsMs[i] / 1000.0)
                               : "+Inf";
    line(fmt::format("webhookd_attempt_duration_seconds_bucket{{le=\"{}\"}}", le), cumulative);
  }
  fmt::format_to(std::back_inserter(out), "webhookd_attempt_duration_seconds_sum {:.3f}\n",
                 m.duration_sum_ms.load() / 1000.0);
  line("webhookd_attempt_duration_seconds_count", m.duration_count.load());
  Family(out, "webhookd_store_record_seconds", "summary",
         "Latency of the store commits that record attempt batches.");
  fmt::format_to(std::back_inserter(out), "webhookd_store_record_seconds_sum {:.3f}\n",
                 m.record_latency_sum_ms.load() / 1000.0);
  line("webhookd_store_record_seconds_count", m.record_batches.load());
  line("webhookd_store_record_errors_total", m.record_errors.load());
}

}  // namespace

void AddMetricsRoutes(Router& router, ApiContext& context) {
  auto backlog = std::make_shared<BacklogGauge>();
  router.Add("GET", "/metrics", Access::kPublic, [&context, backlog](Call&) {
    std::string out;
    WriteEventMetrics(out, context);
    WriteWriterMetrics(out, context);
    WriteDeliveryBacklog(out, *backlog, context.store);
    if (context.dispatcher != nullptr) WriteDispatcherMetrics(out, context.dispatcher->metrics());
    Response response;
    response.content_type = "text/plain; version=0.0.4";
    response.body = std::move(out);
    return response;
  });
}

}  // namespace webhookd::api
