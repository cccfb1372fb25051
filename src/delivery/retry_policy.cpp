#include "delivery/retry_policy.hpp"

#include <algorithm>
#include <array>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <charconv>
#include <chrono>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <utility>

namespace webhookd {
namespace {

constexpr std::int64_t kMaxRetryAfterMs = 3600 * 1000;
// Bounds each schedule element so that milliseconds never overflow; nobody waits a year.
constexpr std::int64_t kMaxScheduleSeconds = 365LL * 24 * 3600;

std::string_view Trim(std::string_view s) {
  constexpr std::string_view kSpace = " \t\r\n";
  const std::size_t begin = s.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  return s.substr(begin, s.find_last_not_of(kSpace) - begin + 1);
}

bool IsDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Parses a decimal number of exactly `s`; nullopt if `s` is not all digits or overflows.
std::optional<std::int64_t> ParseDecimal(std::string_view s) {
  if (!IsDigits(s)) return std::nullopt;
  std::int64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

Error BadElement(std::size_t index, std::string_view element, std::string_view why) {
  return Error::Invalid("schedule element " + std::to_string(index + 1) + " (\"" +
                        std::string(element) + "\") " + std::string(why));
}

// Seconds per unit suffix of a schedule element; a bare number is seconds.
std::int64_t UnitSeconds(char suffix) {
  switch (suffix) {
    case 's':
      return 1;
    case 'm':
      return 60;
    case 'h':
      return 3600;
    case 'd':
      return 24 * 3600;
    default:
      return 0;
  }
}

// One element of "5s,5m,30m,2h,1d". Values beyond kMaxScheduleSeconds come back as
// kMaxScheduleSeconds + 1 so that the caller can say "too long" rather than "not a duration".
std::optional<std::int64_t> ParseDurationSeconds(std::string_view text) {
  std::int64_t unit = text.empty() ? 0 : UnitSeconds(text.back());
  if (unit != 0) {
    text.remove_suffix(1);
  } else {
    unit = 1;
  }
  const std::optional<std::int64_t> n = ParseDecimal(text);
  if (!n) {
    if (IsDigits(text)) return kMaxScheduleSeconds + 1;  // digits that overflow int64
    return std::nullopt;
  }
  if (*n > kMaxScheduleSeconds / unit) return kMaxScheduleSeconds + 1;
  return *n * unit;
}

Result<std::vector<std::int64_t>> ParseDurationList(std::string_view text) {
  std::vector<std::int64_t> schedule;
  std::size_t index = 0;
  while (true) {
    const std::size_t comma = text.find(',');
    const std::string_view element = Trim(text.substr(0, comma));
    const std::optional<std::int64_t> seconds = ParseDurationSeconds(element);
    if (!seconds) {
      return BadElement(index, element, "is not a duration like 30s, 5m, 2h or 1d");
    }
    if (*seconds > kMaxScheduleSeconds) return BadElement(index, element, "is longer than a year");
    schedule.push_back(*seconds);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
    ++index;
  }
  return schedule;
}

Result<std::vector<std::int64_t>> ParseJsonSchedule(std::string_view text) {
  boost::system::error_code ec;
  const boost::json::value doc = boost::json::parse(text, ec);
  if (ec || !doc.is_array()) {
    return Error::Invalid("schedule is not a JSON array of seconds");
  }
  std::vector<std::int64_t> schedule;
  const boost::json::array& elements = doc.get_array();
  for (std::size_t i = 0; i < elements.size(); ++i) {
    const boost::json::value& e = elements[i];
    std::optional<std::int64_t> seconds;
    if (e.is_int64() && e.get_int64() >= 0) seconds = e.get_int64();
    if (e.is_uint64()) seconds = kMaxScheduleSeconds + 1;  // beyond int64: certainly too long
    if (!seconds) {
      return BadElement(i, boost::json::serialize(e), "is not a non-negative integer");
    }
    if (*seconds > kMaxScheduleSeconds) {
      return BadElement(i, boost::json::serialize(e), "is longer than a year");
    }
    schedule.push_back(*seconds);
  }
  return schedule;
}

// IMF-fixdate (RFC 9110 section 5.6.7), e.g. "Wed, 21 Oct 2015 07:28:00 GMT", as Unix ms.
std::optional<UnixMillis> ParseImfFixdate(std::string_view s) {
  static constexpr std::array<std::string_view, 7> kDays = {"Mon", "Tue", "Wed", "Thu",
                                                            "Fri", "Sat", "Sun"};
  static constexpr std::array<std::string_view, 12> kMonths = {
      "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  // Fixed layout: "Www, DD Mmm YYYY HH:MM:SS GMT".
  if (s.size() != 29 || s.substr(3, 2) != ", " || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' ||
      s[19] != ':' || s[22] != ':' || s.substr(25) != " GMT") {
    return std::nullopt;
  }
  if (std::find(kDays.begin(), kDays.end(), s.substr(0, 3)) == kDays.end()) return std::nullopt;
  const auto month = std::find(kMonths.begin(), kMonths.end(), s.substr(8, 3));
  const auto day = ParseDecimal(s.substr(5, 2));
  const auto year = ParseDecimal(s.substr(12, 4));
  const auto hour = ParseDecimal(s.substr(17, 2));
  const auto minute = ParseDecimal(s.substr(20, 2));
  const auto second = ParseDecimal(s.substr(23, 2));
  if (month == kMonths.end() || !day || !year || !hour || !minute || !second) return std::nullopt;
  if (*hour > 23 || *minute > 59 || *second > 60) return std::nullopt;  // 60: leap second
  const std::chrono::year_month_day date{
      std::chrono::year{static_cast<int>(*year)},
      std::chrono::month{static_cast<unsigned>(month - kMonths.begin() + 1)},
      std::chrono::day{static_cast<unsigned>(*day)}};
  if (!date.ok()) return std::nullopt;
  const std::int64_t days = std::chrono::sys_days{date}.time_since_epoch().count();
  return ((days * 24 + *hour) * 60 + *minute) * 60 * 1000 + *second * 1000;
}

}  // namespace

UniformRandom DefaultUniformRandom() {
  return [] {
    // One engine per thread: no lock, and thread-safe by construction.
    thread_local std::mt19937_64 engine{std::random_device{}()};
    return std::uniform_real_distribution<double>(0.0, 1.0)(engine);
  };
}

AttemptClass ClassifyAttempt(int status_code, bool transport_error) {
  if (transport_error) return AttemptClass::kRetryable;
  if (status_code >= 200 && status_code < 300) return AttemptClass::kSuccess;
  if (status_code == 410) return AttemptClass::kGone;
  if (status_code >= 500 || status_code == 408 || status_code == 429) {
    return AttemptClass::kRetryable;
  }
  return AttemptClass::kFailure;
}

RetryPolicy::RetryPolicy(std::vector<std::int64_t> schedule_seconds, double jitter,
                         UniformRandom random)
    : schedule_(std::move(schedule_seconds)),
      jitter_(std::clamp(jitter, 0.0, 1.0)),
      random_(random ? std::move(random) : DefaultUniformRandom()) {}

std::vector<std::int64_t> RetryPolicy::DefaultSchedule() {
  return {0, 5, 300, 1800, 7200, 18000, 36000, 36000};
}

Result<std::vector<std::int64_t>> RetryPolicy::ParseSchedule(std::string_view text) {
  text = Trim(text);
  if (text.empty()) return Error::Invalid("schedule is empty");
  if (text.front() == '[') {
    Result<std::vector<std::int64_t>> schedule = ParseJsonSchedule(text);
    if (schedule.ok() && schedule->empty()) return Error::Invalid("schedule is empty");
    return schedule;
  }
  return ParseDurationList(text);
}

std::optional<std::int64_t> RetryPolicy::NextDelayMs(
    int attempts_made, std::optional<std::int64_t> retry_after_ms) const {
  if (attempts_made < 0 || attempts_made >= max_attempts()) return std::nullopt;
  const double scheduled_ms = static_cast<double>(schedule_[attempts_made]) * 1000.0;
  const double spread = jitter_ * (2.0 * random_() - 1.0);
  const std::int64_t wait_ms = std::max<std::int64_t>(0, std::llround(scheduled_ms * (1 + spread)));
  if (!retry_after_ms) return wait_ms;
  // The receiver may ask for more time, up to an hour, but never for less than the schedule.
  return std::max(wait_ms, std::min(*retry_after_ms, kMaxRetryAfterMs));
}

std::optional<std::int64_t> ParseRetryAfterMs(std::string_view value, UnixMillis now) {
  value = Trim(value);
  if (IsDigits(value)) {
    const std::optional<std::int64_t> seconds = ParseDecimal(value);
    // A delta too large for int64 is still a valid "wait very long"; the caller clamps it.
    constexpr std::int64_t kMaxSeconds = std::numeric_limits<std::int64_t>::max() / 1000;
    return seconds && *seconds < kMaxSeconds ? *seconds * 1000 : kMaxSeconds * 1000;
  }
  const std::optional<UnixMillis> date = ParseImfFixdate(value);
  if (!date) return std::nullopt;
  return std::max<std::int64_t>(0, *date - now);
}

}  // namespace webhookd
