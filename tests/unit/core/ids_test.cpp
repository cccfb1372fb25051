#include "core/ids.hpp"

#include <gtest/gtest.h>

#include <set>
#include <thread>
#include <vector>

namespace webhookd {
namespace {

TEST(SortableId, HasPrefixAndCrockfordBody) {
  const std::string id = NewSortableId("evt", 1'700'000'000'000);
  ASSERT_EQ(id.size(), 4u + 26u);
  EXPECT_EQ(id.substr(0, 4), "evt_");
  EXPECT_EQ(id.find_first_not_of("0123456789ABCDEFGHJKMNPQRSTVWXYZ", 4), std::string::npos);
}

TEST(SortableId, LaterIdsSortAfterEarlierOnesEvenWithinOneMillisecond) {
  std::string previous = NewSortableId("dlv", 1'700'000'000'000);
  for (int i = 0; i < 1000; ++i) {
    const std::string next = NewSortableId("dlv", 1'700'000'000'000 + i / 100);
    EXPECT_LT(previous, next);
    previous = next;
  }
}

TEST(SortableId, UniqueAcrossThreads) {
  std::vector<std::vector<std::string>> per_thread(4);
  std::vector<std::thread> threads;
  for (auto& ids : per_thread) {
    threads.emplace_back([&ids] {
      for (int i = 0; i < 2000; ++i) ids.push_back(NewSortableId("evt", 1'700'000'000'000));
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> all;
  for (const auto& ids : per_thread) all.insert(ids.begin(), ids.end());
  EXPECT_EQ(all.size(), 8000u);
}

}  // namespace
}  // namespace webhookd
