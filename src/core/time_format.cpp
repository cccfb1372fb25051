#include "core/time_format.hpp"

#include <chrono>
#include <cstdio>

namespace webhookd {
namespace {

bool ReadDigits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

bool Expect(std::string_view s, std::size_t pos, char c) { return pos < s.size() && s[pos] == c; }

}  // namespace

std::string FormatRfc3339(UnixMillis t) {
  using namespace std::chrono;
  const sys_time<milliseconds> tp{milliseconds{t}};
  const auto day = floor<days>(tp);
  const year_month_day ymd{day};
  const hh_mm_ss hms{tp - day};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02ld:%02ld:%02ld.%03ldZ", int(ymd.year()),
                unsigned(ymd.month()), unsigned(ymd.day()), long(hms.hours().count()),
                long(hms.minutes().count()), long(hms.seconds().count()),
                long(hms.subseconds().count()));
  return buf;
}

std::optional<UnixMillis> ParseRfc3339(std::string_view s) {
  using namespace std::chrono;
  int y, mo, d, h, mi, sec;
  if (!ReadDigits(s, 0, 4, y) || !Expect(s, 4, '-') || !ReadDigits(s, 5, 2, mo) ||
      !Expect(s, 7, '-') || !ReadDigits(s, 8, 2, d))
    return std::nullopt;
  if (s.size() < 11 || (s[10] != 'T' && s[10] != 't' && s[10] != ' ')) return std::nullopt;
  if (!ReadDigits(s, 11, 2, h) || !Expect(s, 13, ':') || !ReadDigits(s, 14, 2, mi) ||
      !Expect(s, 16, ':') || !ReadDigits(s, 17, 2, sec))
    return std::nullopt;
  const year_month_day ymd{year{y}, month{unsigned(mo)}, day{unsigned(d)}};
  if (!ymd.ok() || h > 23 || mi > 59 || sec > 60) return std::nullopt;
  std::size_t pos = 19;
  long millis = 0;
  if (Expect(s, pos, '.')) {
    ++pos;
    int digits = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (digits < 3) millis = millis * 10 + (s[pos] - '0');
      ++digits;
      ++pos;
    }
    if (digits == 0) return std::nullopt;
    for (; digits < 3; ++digits) millis *= 10;
  }
  long offset_minutes = 0;
  if (Expect(s, pos, 'Z') || Expect(s, pos, 'z')) {
    ++pos;
  } else if (Expect(s, pos, '+') || Expect(s, pos, '-')) {
    const int sign = s[pos] == '-' ? -1 : 1;
    int oh, om;
    if (!ReadDigits(s, pos + 1, 2, oh) || !Expect(s, pos + 3, ':') ||
        !ReadDigits(s, pos + 4, 2, om))
      return std::nullopt;
    offset_minutes = sign * (oh * 60 + om);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  const auto tp = sys_days{ymd} + hours{h} + minutes{mi} + seconds{sec} + milliseconds{millis} -
                  minutes{offset_minutes};
  return duration_cast<milliseconds>(tp.time_since_epoch()).count();
}

}  // namespace webhookd
