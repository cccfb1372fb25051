#include "core/ids.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <mutex>
#include <random>

namespace webhookd {
namespace {

constexpr std::string_view kCrockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
constexpr std::size_t kUlidLength = 26;

struct UlidState {
  std::mutex mu;
  UnixMillis last_ms = -1;
  std::array<std::uint8_t, 10> random{};  // guarded by mu
  std::mt19937_64 rng{std::random_device{}()};
};

UlidState& State() {
  static UlidState state;
  return state;
}

// Increments the 80-bit random part; on overflow (practically never) the time part moves on.
bool IncrementRandom(std::array<std::uint8_t, 10>& r) {
  for (int i = static_cast<int>(r.size()) - 1; i >= 0; --i) {
    if (++r[i] != 0) return true;
  }
  return false;
}

// 128 bits (48 of time, then 80 random) as 26 Crockford base32 digits, the most significant
// first: 130 bits whose top two are zero.
std::string EncodeUlid(std::uint64_t ms, const std::array<std::uint8_t, 10>& r) {
  __extension__ typedef unsigned __int128 Uint128;  // a GCC and Clang type, not ISO C++
  Uint128 n = ms & ((std::uint64_t{1} << 48) - 1);
  for (std::uint8_t byte : r) n = (n << 8) | byte;
  std::string out(kUlidLength, '0');
  for (std::size_t digit = kUlidLength; digit-- > 0; n >>= 5) {
    out[digit] = kCrockford[static_cast<std::size_t>(n & 31)];
  }
  return out;
}

}  // namespace

std::string NewSortableId(std::string_view prefix, UnixMillis now) {
  UlidState& s = State();
  std::array<std::uint8_t, 10> random;
  UnixMillis ms;
  {
    std::lock_guard lock(s.mu);
    if (now > s.last_ms) {
      s.last_ms = now;
      for (auto& b : s.random) b = static_cast<std::uint8_t>(s.rng());
      s.random[0] &= 0x7F;  // headroom so that increments within one millisecond never overflow
    } else if (!IncrementRandom(s.random)) {
      ++s.last_ms;
    }
    ms = s.last_ms;
    random = s.random;
  }
  std::string id(prefix);
  id += '_';
  id += EncodeUlid(static_cast<std::uint64_t>(ms), random);
  return id;
}

std::string SortableIdLowerBound(std::string_view prefix, UnixMillis time) {
  std::string id(prefix);
  id += '_';
  id += EncodeUlid(static_cast<std::uint64_t>(std::max<UnixMillis>(time, 0)), {});
  return id;
}

bool IsSortableId(std::string_view text, std::string_view prefix) {
  if (text.size() != prefix.size() + 1 + kUlidLength || !text.starts_with(prefix) ||
      text[prefix.size()] != '_') {
    return false;
  }
  const std::string_view ulid = text.substr(prefix.size() + 1);
  return ulid.front() <= '7' && ulid.find_first_not_of(kCrockford) == std::string_view::npos;
}

}  // namespace webhookd
