// Where the dispatcher runs: one thread that runs posted work in order, and work due at a
// time. BeastHttpClient lends its own io_context thread (HttpClient::loop()), so that a
// response, the outcome it decides and the next request of the same configuration are handled
// on one thread, without a hand-off between threads; for a client without one (libcurl, test
// fakes) the dispatcher starts a ThreadEventLoop of its own.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

namespace webhookd::delivery {

class EventLoop {
 public:
  using Work = std::function<void()>;
  using TimePoint = std::chrono::steady_clock::time_point;
  virtual ~EventLoop() = default;

  // Thread-safe. Runs `work` on the loop's thread, after what was posted before it. Work posted
  // after the loop has stopped is dropped.
  virtual void Post(Work work) = 0;
  // Thread-safe. Runs `work` on the loop's thread at `when` or soon after; dropped if the loop
  // stops first. There is no cancelling: work that is no longer wanted must find nothing to do.
  virtual void PostAt(TimePoint when, Work work) = 0;
};

// An EventLoop on a thread of its own, named `thread_name`.
class ThreadEventLoop final : public EventLoop {
 public:
  explicit ThreadEventLoop(const char* thread_name);  // a string literal
  // Runs the work already posted, drops pending timed work, and joins the thread.
  ~ThreadEventLoop() override;
  ThreadEventLoop(const ThreadEventLoop&) = delete;
  ThreadEventLoop& operator=(const ThreadEventLoop&) = delete;

  void Post(Work work) override;
  void PostAt(TimePoint when, Work work) override;

 private:
  void Run();

  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Work> ready_;                // guarded by mutex_
  std::multimap<TimePoint, Work> timed_;  // guarded by mutex_
  bool stopping_ = false;                 // guarded by mutex_
  std::thread thread_;
};

}  // namespace webhookd::delivery
