#include "delivery/event_loop.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

namespace webhookd::delivery {
namespace {

using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

TEST(ThreadEventLoopTest, RunsPostedWorkInOrderOnItsOwnThread) {
  std::vector<int> order;
  std::vector<std::thread::id> threads;
  std::promise<void> done;
  {
    ThreadEventLoop loop("test-loop");
    for (int i = 0; i < 100; ++i) {
      loop.Post([&, i] {
        order.push_back(i);
        threads.push_back(std::this_thread::get_id());
        if (i == 99) done.set_value();
      });
    }
    ASSERT_EQ(done.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
  }
  ASSERT_EQ(order.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(order[i], i);
  for (const std::thread::id& id : threads) {
    EXPECT_EQ(id, threads.front());
    EXPECT_NE(id, std::this_thread::get_id());
  }
}

TEST(ThreadEventLoopTest, RunsTimedWorkByItsTimeNotBeforeIt) {
  std::mutex mutex;
  std::vector<int> order;
  std::vector<SteadyClock::time_point> ran_at;
  std::promise<void> done;
  const SteadyClock::time_point start = SteadyClock::now();
  {
    ThreadEventLoop loop("test-loop");
    auto record = [&](int which) {
      std::lock_guard lock(mutex);
      order.push_back(which);
      ran_at.push_back(SteadyClock::now());
      if (order.size() == 3) done.set_value();
    };
    loop.PostAt(start + milliseconds(120), [&] { record(3); });
    loop.PostAt(start + milliseconds(60), [&] { record(2); });
    loop.Post([&] { record(1); });
    ASSERT_EQ(done.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
  }
  ASSERT_EQ(order, (std::vector<int>{1, 2, 3}));
  EXPECT_GE(ran_at[1] - start, milliseconds(60));
  EXPECT_GE(ran_at[2] - start, milliseconds(120));
}

TEST(ThreadEventLoopTest, StoppingRunsWhatWasPostedAndDropsTimedWork) {
  std::atomic<int> posted_ran{0};
  std::atomic<int> timed_ran{0};
  {
    ThreadEventLoop loop("test-loop");
    loop.PostAt(SteadyClock::now() + std::chrono::hours(1), [&] { ++timed_ran; });
    for (int i = 0; i < 10; ++i) loop.Post([&] { ++posted_ran; });
  }
  EXPECT_EQ(posted_ran.load(), 10);
  EXPECT_EQ(timed_ran.load(), 0);
}

}  // namespace
}  // namespace webhookd::delivery
