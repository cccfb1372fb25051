// Turns one finished attempt into what the store records: the attempt row, the delivery's
// next status (retry time, success, dead letter) and the effect on its configuration.
// Pure decisions, no I/O: the dispatcher's loop calls it for each completion of a batch.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "delivery/http_client.hpp"
#include "delivery/retry_policy.hpp"
#include "store/store.hpp"

namespace webhookd::delivery {

// What was sent for an attempt (the response completes the picture).
struct SentRequest {
  UnixMillis attempted_at = 0;
  std::string request_headers_json = "{}";  // secrets masked
};

struct OutcomeSettings {
  std::vector<std::int64_t> retry_schedule_seconds = RetryPolicy::DefaultSchedule();
  double retry_jitter = 0.2;
  UniformRandom random;  // required
  // A configuration whose deliveries have all failed this long is deactivated.
  std::int64_t auto_disable_after_ms = 5LL * 24 * 3600 * 1000;
};

// How an attempt counts: a response with no status and no transport error means the request
// could not even be built (e.g. an undecodable secret), which is a plain failure.
AttemptClass ClassOf(const HttpResponse& response);

// For a successful answer to an inference event: why its body is not a usable result ("invalid
// inference result: ..."; cut at the 64 KiB response cap, or not JSON), or nullopt when it is
// one. The one rule for deliveries (the attempt's error) and test sends.
std::optional<std::string> InvalidInferenceResult(const HttpResponse& response);

class OutcomeDecider {
 public:
  explicit OutcomeDecider(OutcomeSettings settings);

  // `job` is the delivery as claimed (attempt_count not counting this attempt). Rules:
  //  - 2xx: kSucceeded, configuration healthy. For inference events a body that is not JSON
  //    (or was cut at 64 KiB) is recorded with an "invalid inference result" error.
  //  - 410: kFailed, configuration disabled ("410 Gone received from <url>").
  //  - anything else: kPending at now + the schedule's wait (the configuration's own
  //    retry_schedule_json if set; Retry-After on 429/503 honoured and clamped by the policy),
  //    or kFailed when the schedule is exhausted; configuration failing, or disabled when it
  //    has been failing for auto_disable_after_ms.
  AttemptOutcome Decide(const DeliveryJob& job, bool is_inference, const SentRequest& sent,
                        const HttpResponse& response, UnixMillis now) const;

 private:
  RetryPolicy PolicyFor(const WebhookConfig& config) const;
  void DecideSuccess(bool is_inference, const HttpResponse& response,
                     AttemptOutcome& outcome) const;
  void DecideFailure(const DeliveryJob& job, const HttpResponse& response, UnixMillis now,
                     AttemptOutcome& outcome) const;

  OutcomeSettings settings_;
  RetryPolicy default_policy_;
};

// "5 days", "36 hours", "90 minutes", "45 seconds": the largest unit that divides `ms`.
std::string DescribePeriod(std::int64_t ms);

}  // namespace webhookd::delivery
