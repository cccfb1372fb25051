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

std::string FormatRetention(std::chrono::milliseconds period) {
  const auto minutes = std::chrono::duration_cast<std::chrono::minutes>(period).count();
  if (minutes % (24 * 60) == 0) return std::to_string(minutes / (24 * 60)) + "d";
  if (minutes % 60 == 0) return std::to_string(minutes / 60) + "h";
  return std::to_string(minutes) + "m";
}

RetentionJanitor::RetentionJanitor(Store& store, const Clock& clock, RetentionOptions options)
    : store_(store), clock_(clock), options_(options) {}

RetentionJanitor::~RetentionJanitor() { Stop(); }

void RetentionJanitor::Start() {
  spdlog::info(
      "retention: events {}, payloads {}, audit log entries after {} (organizations may set "
      "their own periods), {} per transaction",
      options_.retention.count() > 0 ? "purged after " + FormatRetention(options_.retention)
                                     : std::string("kept"),
      options_.payload_retention.count() > 0
          ? "erased after " + FormatRetention(options_.payload_retention)
          : std::string("kept"),
      FormatRetention(options_.audit_retention), options_.batch_events);
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

bool RetentionJanitor::StopRequested() {
  std::lock_guard lock(mu_);
  return stopping_;
}

Result<std::int64_t> RetentionJanitor::Drain(const Batch& batch) {
  std::int64_t total = 0;
  while (true) {
    Result<std::int64_t> done = batch(options_.batch_events);
    if (!done.ok()) return done.error();
    total += *done;
    if (*done < options_.batch_events) return total;
    if (!Wait(options_.pause)) return total;
  }
}

template <class Apply>
Result<std::int64_t> RetentionJanitor::DrainEachPeriod(
    const std::vector<OrganizationSettings>& overrides, std::chrono::milliseconds server_period,
    std::int64_t OrganizationSettings::*own_period, UnixMillis now, Apply apply) {
  std::vector<std::pair<RetentionScope, std::int64_t>> periods;
  if (server_period.count() > 0) periods.emplace_back(kWithoutOwnPeriod, server_period.count());
  for (const OrganizationSettings& settings : overrides) {
    if (settings.*own_period > 0) {
      periods.emplace_back(settings.organization_id, settings.*own_period);
    }
  }
  std::int64_t total = 0;
  for (std::size_t i = 0; i < periods.size(); ++i) {
    if (i > 0 && StopRequested()) break;
    const auto& entry = periods[i];
    Result<std::int64_t> drained =
        Drain([&](int max_rows) { return apply(now - entry.second, max_rows, entry.first); });
    if (!drained.ok()) return drained.error();
    total += *drained;
  }
  return total;
}

Result<RetentionPass> RetentionJanitor::RunPass() {
  // One time for the whole pass: rows that age past a cutoff meanwhile wait for the next pass.
  const UnixMillis now = clock_.Now();
  Result<std::vector<OrganizationSettings>> overrides = store_.ListOrganizationOverrides();
  if (!overrides.ok()) return overrides.error();
  RetentionPass pass;
  Result<std::int64_t> purged =
      DrainEachPeriod(*overrides, options_.retention, &OrganizationSettings::retention_ms, now,
                      [this](UnixMillis cutoff, int max_rows, RetentionScope scope) {
                        return store_.PurgeBefore(cutoff, max_rows, scope);
                      });
  if (!purged.ok()) return purged.error();
  pass.purged_events = *purged;
  if (StopRequested()) return pass;
  Result<std::int64_t> erased = DrainEachPeriod(
      *overrides, options_.payload_retention, &OrganizationSettings::payload_retention_ms, now,
      [this](UnixMillis cutoff, int max_rows, RetentionScope scope) {
        return store_.ErasePayloadsBefore(cutoff, max_rows, scope);
      });
  if (!erased.ok()) return erased.error();
  pass.erased_payloads = *erased;
  if (StopRequested()) return pass;
  Result<std::int64_t> purged_audit = Drain([&](int max_rows) {
    return store_.PurgeAuditBefore(now - options_.audit_retention.count(), max_rows);
  });
  if (!purged_audit.ok()) return purged_audit.error();
  pass.purged_audit_entries = *purged_audit;
  return pass;
}

void RetentionJanitor::Loop() {
  do {
    Result<RetentionPass> pass = RunPass();
    if (!pass.ok()) {
      spdlog::warn("retention: a pass failed, trying again at the next pass: {}",
                   pass.error().message);
      continue;
    }
    if (pass->purged_events > 0) {
      spdlog::info("retention: purged {} events with their deliveries and attempts",
                   pass->purged_events);
    }
    if (pass->erased_payloads > 0) {
      spdlog::info("retention: erased the payloads, attempt bodies and headers of {} events",
                   pass->erased_payloads);
    }
    if (pass->purged_audit_entries > 0) {
      spdlog::info("retention: purged {} audit log entries", pass->purged_audit_entries);
    }
  } while (Wait(options_.interval));
}

}  // namespace webhookd
