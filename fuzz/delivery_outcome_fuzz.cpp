// What a receiver answers decides a delivery's fate: Retry-After and the rest of the response
// go through the outcome decider (src/delivery/attempt_outcome.*) on the dispatcher thread.
// Input: a first line "<status code> <attempts made before>", then "name: value" header lines,
// an empty line and the body. Besides not crashing:
//  - a retry is scheduled between now and the longest wait a schedule step plus jitter or a
//    clamped Retry-After allows; a parsed Retry-After is never negative;
//  - the response headers are recorded as valid JSON (the store keeps them as JSON text).
#include <boost/json.hpp>
#include <charconv>

#include "delivery/attempt_outcome.hpp"
#include "fuzz_input.hpp"

namespace {

using namespace webhookd;
using webhookd::fuzz::Broken;

constexpr UnixMillis kNow = 1'700'000'000'000;
// The default schedule's longest step (10 h) with +20 % jitter; Retry-After is clamped to 1 h.
constexpr std::int64_t kLongestWaitMs = 36'000'000 * 12 / 10;

int LeadingInteger(std::string_view& text) {
  int value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc()) return 0;
  text.remove_prefix(static_cast<std::size_t>(end - text.data()));
  if (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  return value;
}

delivery::HttpResponse ParseResponse(std::string_view text, int& attempts_before) {
  delivery::HttpResponse response;
  std::size_t newline = text.find('\n');
  std::string_view first = text.substr(0, newline);
  response.status_code = LeadingInteger(first);
  attempts_before = LeadingInteger(first);
  response.transport_error = response.status_code == 0;
  while (newline != std::string_view::npos) {
    text.remove_prefix(newline + 1);
    newline = text.find('\n');
    const std::string_view line = text.substr(0, newline);
    if (line.empty()) break;
    const std::size_t colon = line.find(':');
    std::string_view value = colon == std::string_view::npos ? "" : line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    response.headers.emplace_back(std::string(line.substr(0, colon)), std::string(value));
  }
  if (newline != std::string_view::npos) text.remove_prefix(newline + 1);
  response.body = std::string(text.substr(0, delivery::kMaxResponseBodyBytes));
  response.body_truncated = text.size() > delivery::kMaxResponseBodyBytes;
  return response;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  int attempts_before = 0;
  const delivery::HttpResponse response =
      ParseResponse(webhookd::fuzz::AsText(data, size), attempts_before);
  for (const auto& [name, value] : response.headers) {
    if (const auto ms = ParseRetryAfterMs(value, kNow); ms && *ms < 0) {
      Broken("a Retry-After parses to a negative wait");
    }
  }
  delivery::OutcomeSettings settings;
  settings.random = [] { return 0.999; };  // the largest jitter
  const delivery::OutcomeDecider decider(std::move(settings));
  DeliveryJob job;
  job.delivery.attempt_count = attempts_before;
  job.config.url = "https://example.com/hook";
  const AttemptOutcome outcome =
      decider.Decide(job, size % 2 == 0, delivery::SentRequest{kNow, "{}"}, response, kNow);
  if (outcome.new_status == DeliveryStatus::kPending &&
      (outcome.next_attempt_at < kNow || outcome.next_attempt_at - kNow > kLongestWaitMs)) {
    Broken("a retry is scheduled in the past or beyond the longest wait");
  }
  boost::system::error_code ec;
  boost::json::parse(outcome.attempt.response_headers_json, ec);
  if (ec) Broken("the recorded response headers are not JSON");
  return 0;
}
