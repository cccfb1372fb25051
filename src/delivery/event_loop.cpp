#include "delivery/event_loop.hpp"

#include <utility>

#include "core/thread_name.hpp"

namespace webhookd::delivery {

ThreadEventLoop::ThreadEventLoop(const char* thread_name)
    : thread_(NamedThread(thread_name, [this] { Run(); })) {}

ThreadEventLoop::~ThreadEventLoop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_one();
  thread_.join();
}

void ThreadEventLoop::Post(Work work) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    ready_.push_back(std::move(work));
  }
  changed_.notify_one();
}

void ThreadEventLoop::PostAt(TimePoint when, Work work) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    timed_.emplace(when, std::move(work));
  }
  changed_.notify_one();
}

void ThreadEventLoop::Run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    const TimePoint now = std::chrono::steady_clock::now();
    while (!timed_.empty() && timed_.begin()->first <= now) {
      ready_.push_back(std::move(timed_.begin()->second));
      timed_.erase(timed_.begin());
    }
    if (ready_.empty()) {
      if (stopping_) return;
      auto ready = [this] { return stopping_ || !ready_.empty(); };
      if (timed_.empty()) {
        changed_.wait(lock, ready);
      } else {
        changed_.wait_until(lock, timed_.begin()->first, ready);
      }
      continue;
    }
    std::deque<Work> batch;
    batch.swap(ready_);
    lock.unlock();
    for (Work& work : batch) work();
    lock.lock();
  }
}

}  // namespace webhookd::delivery
