// Names the calling thread, so that `top -H`, `perf` and gdb tell webhookd's threads apart.
#pragma once

#include <thread>
#include <utility>

namespace webhookd {

// `name` is cut to the 15 characters Linux keeps. Never call it on the main thread: its name
// is the process name that ps and top show.
void NameThisThread(const char* name);

// A new thread that names itself `name` (a string literal), then runs `body`.
template <class Body>
std::thread NamedThread(const char* name, Body body) {
  return std::thread([name, body = std::move(body)]() mutable {
    NameThisThread(name);
    body();
  });
}

}  // namespace webhookd
