#include "core/thread_name.hpp"

#include <pthread.h>

#include <string>

namespace webhookd {

void NameThisThread(const char* name) {
  constexpr std::size_t kMaxLength = 15;
  const std::string cut = std::string(name).substr(0, kMaxLength);
  pthread_setname_np(pthread_self(), cut.c_str());
}

}  // namespace webhookd
