#include "delivery/attempt_outcome.hpp"

#include <spdlog/spdlog.h>

#include <boost/json/parse.hpp>

#include "delivery/request_builder.hpp"

namespace webhookd::delivery {
namespace {

constexpr int kGoneStatus = 410;

bool HonoursRetryAfter(int status_code) { return status_code == 429 || status_code == 503; }

}  // namespace

AttemptClass ClassOf(const HttpResponse& response) {
  if (response.status_code == 0 && !response.transport_error) return AttemptClass::kFailure;
  return ClassifyAttempt(response.status_code, response.transport_error);
}

std::optional<std::string> InvalidInferenceResult(const HttpResponse& response) {
  if (response.body_truncated) {
    return "invalid inference result: the response body exceeds 64 KiB";
  }
  boost::system::error_code ec;
  boost::json::parse(response.body, ec);
  if (ec) return "invalid inference result: the response body is not JSON";
  return std::nullopt;
}

OutcomeDecider::OutcomeDecider(OutcomeSettings settings)
    : settings_(std::move(settings)),
      default_policy_(settings_.retry_schedule_seconds, settings_.retry_jitter, settings_.random) {}

AttemptOutcome OutcomeDecider::Decide(const DeliveryJob& job, bool is_inference,
                                      const SentRequest& sent, const HttpResponse& response,
                                      UnixMillis now) const {
  AttemptOutcome outcome;
  outcome.config_id = job.config.id;
  Attempt& attempt = outcome.attempt;
  attempt.delivery_id = job.delivery.id;
  attempt.attempted_at = sent.attempted_at;
  attempt.duration_ms = response.duration_ms;
  attempt.request_headers_json = sent.request_headers_json;
  attempt.status_code = response.status_code;
  attempt.response_headers_json = HeadersToJson(response.headers);
  attempt.response_body = response.body;
  attempt.error = response.error;
  attempt.manual = job.manual;

  switch (ClassOf(response)) {
    case AttemptClass::kSuccess:
      DecideSuccess(is_inference, response, outcome);
      break;
    case AttemptClass::kGone:
      outcome.new_status = DeliveryStatus::kFailed;
      outcome.config_effect = ConfigEffect::kDisable;
      outcome.disable_reason =
          std::to_string(kGoneStatus) + " Gone received from " + job.config.url;
      break;
    case AttemptClass::kRetryable:
    case AttemptClass::kFailure:
      DecideFailure(job, response, now, outcome);
      break;
  }
  return outcome;
}

void OutcomeDecider::DecideSuccess(bool is_inference, const HttpResponse& response,
                                   AttemptOutcome& outcome) const {
  outcome.new_status = DeliveryStatus::kSucceeded;
  outcome.config_effect = ConfigEffect::kHealthy;
  if (!is_inference) return;
  if (std::optional<std::string> invalid = InvalidInferenceResult(response)) {
    outcome.attempt.error = std::move(*invalid);
  }
}

void OutcomeDecider::DecideFailure(const DeliveryJob& job, const HttpResponse& response,
                                   UnixMillis now, AttemptOutcome& outcome) const {
  std::optional<std::int64_t> retry_after_ms;
  if (HonoursRetryAfter(response.status_code)) {
    if (auto value = FindHeader(response.headers, "retry-after")) {
      retry_after_ms = ParseRetryAfterMs(*value, now);
    }
  }
  int attempts_made = job.delivery.attempt_count + 1;
  std::optional<std::int64_t> delay =
      PolicyFor(job.config).NextDelayMs(attempts_made, retry_after_ms);
  if (delay) {
    outcome.new_status = DeliveryStatus::kPending;
    outcome.next_attempt_at = now + *delay;
  } else {
    outcome.new_status = DeliveryStatus::kFailed;
  }
  outcome.config_effect = ConfigEffect::kFailing;

  const WebhookConfig& config = job.config;
  if (config.failing_since != 0 && now - config.failing_since >= settings_.auto_disable_after_ms) {
    outcome.new_status = DeliveryStatus::kFailed;
    outcome.next_attempt_at = 0;
    outcome.config_effect = ConfigEffect::kDisable;
    outcome.disable_reason =
        "all deliveries failed for " + DescribePeriod(settings_.auto_disable_after_ms);
  }
}

RetryPolicy OutcomeDecider::PolicyFor(const WebhookConfig& config) const {
  if (!config.retry_schedule_json.empty()) {
    auto schedule = RetryPolicy::ParseSchedule(config.retry_schedule_json);
    if (schedule.ok()) {
      return RetryPolicy(std::move(*schedule), settings_.retry_jitter, settings_.random);
    }
    spdlog::warn("configuration {}: unusable retry schedule ({}); using the default", config.id,
                 schedule.error().message);
  }
  return default_policy_;
}

std::string DescribePeriod(std::int64_t ms) {
  struct Unit {
    std::int64_t ms;
    const char* name;
  };
  constexpr Unit kUnits[] = {
      {86'400'000, "day"}, {3'600'000, "hour"}, {60'000, "minute"}, {1'000, "second"}};
  for (const Unit& unit : kUnits) {
    if (ms >= unit.ms && ms % unit.ms == 0) {
      std::int64_t count = ms / unit.ms;
      return std::to_string(count) + " " + unit.name + (count == 1 ? "" : "s");
    }
  }
  return std::to_string(ms) + " ms";
}

}  // namespace webhookd::delivery
