#include "core/clock.hpp"

#include <chrono>

namespace webhookd {

UnixMillis SystemClock::Now() const {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace webhookd
