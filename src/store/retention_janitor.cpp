#include "store/retention_janitor.hpp"

#include <fmt/core.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <string>

#include "core/thread_name.hpp"

namespace webhookd {

Result<std::chrono::milliseconds> ParseRetention(std::string_view text) {
  const Error invalid =
      Error::Invalid(fmt::format("'{}' is not a retention period (examples: 30d, 12h, 90m)", text));
  std::int64_t amount = 0;
  const char* end = text.data() + text.size();
  const auto [unit, ec] = std::from_chars(text.data(), end, amount);
  // Ten years in minutes keeps the milliseconds far inside int64.
  constexpr std::int64_t kMaxAmount = 10LL * 366 * 24 * 60;
  if (ec != std::errc() || amount <= 0 || amount > kMaxAmount || end - unit != 1) return invalid;
  switch (*unit) {
    case 'd':
      return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::days(amount));
    case 'h':
      return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::hours(amount));
    case 'm':
      return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::minutes(amount));
    default:
      return invalid;
  }
}

namespace {

// "30d", "12h" or "90m": the period as it was most likely typed.
std::string DescribePeriod(std::chrono::milliseconds period) {
  const auto minutes = std::chrono::duration_cast<std::chrono::minutes>(period).count();
  if (minutes % (24 * 60) == 0) return std::to_string(minutes / (24 * 60)) + "d";
  if (minutes % 60 == 0) return std::to_string(minutes / 60) + "h";
  return std::to_string(minutes) + "m";
}

}  // namespace

RetentionJanitor::RetentionJanitor(Store& store, const Clock& clock, RetentionOptions options)
    : store_(store), clock_(clock), options_(options) {}

RetentionJanitor::~RetentionJanitor() { Stop(); }

void RetentionJanitor::Start() {
  spdlog::info("retention: purging finished events older than {}, {} per transaction",
               DescribePeriod(options_.retention), options_.batch_events);
  thread_ = NamedThread("janitor", [this] { Loop(); });
}

void RetentionJanitor::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  stop_requested_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool RetentionJanitor::Wait(std::chrono::milliseconds duration) {
  std::unique_lock lock(mu_);
  return !stop_requested_.wait_for(lock, duration, [this] { return stopping_; });
}

Result<std::int64_t> RetentionJanitor::RunPass() {
  // One cutoff for the whole pass: events that age past it meanwhile wait for the next pass.
  const UnixMillis cutoff = clock_.Now() - options_.retention.count();
  std::int64_t purged = 0;
  while (true) {
    Result<std::int64_t> batch = store_.PurgeBefore(cutoff, options_.batch_events);
    if (!batch.ok()) return batch.error();
    purged += *batch;
    if (*batch < options_.batch_events) return purged;
    if (!Wait(options_.pause)) return purged;
  }
}

void RetentionJanitor::Loop() {
  do {
    Result<std::int64_t> purged = RunPass();
    if (!purged.ok()) {
      spdlog::warn("retention: purge failed, trying again at the next pass: {}",
                   purged.error().message);
    } else if (*purged > 0) {
      spdlog::info("retention: purged {} events older than {} with their deliveries and attempts",
                   *purged, DescribePeriod(options_.retention));
    }
  } while (Wait(options_.interval));
}

}  // namespace webhookd
