#include "core/ids.hpp"

#include <array>
#include <cstdint>
#include <mutex>
#include <random>

namespace webhookd {
namespace {

constexpr std::string_view kCrockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

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

std::string EncodeUlid(std::uint64_t ms, const std::array<std::uint8_t, 10>& r) {
  // 128 bits: 48 of time then 80 random, written as 26 base32 digits (130 bits, top 2 zero).
  unsigned __int128 v = (static_cast<unsigned __int128>(ms & 0xFFFFFFFFFFFFull) << 80);
  for (int i = 0; i < 10; ++i) v |= static_cast<unsigned __int128>(r[i]) << (8 * (9 - i));
  std::string out(26, '0');
  for (int i = 25; i >= 0; --i) {
    out[i] = kCrockford[static_cast<std::size_t>(v & 31)];
    v >>= 5;
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

}  // namespace webhookd
