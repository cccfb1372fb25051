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

// GET /stats reads a time window as the range of ids at or above this bound.
TEST(SortableId, LowerBoundSortsBetweenEarlierAndLaterIds) {
  constexpr UnixMillis kTime = 1'800'000'000'000;
  const std::string bound = SortableIdLowerBound("dlv", kTime);
  EXPECT_TRUE(IsSortableId(bound, "dlv")) << bound;
  EXPECT_EQ(bound.substr(14), std::string(16, '0')) << "no random part";
  // Ids never go back in time within a process: every earlier one first.
  for (int i = 0; i < 100; ++i) EXPECT_LT(NewSortableId("dlv", kTime - 1), bound);
  for (int i = 0; i < 100; ++i) EXPECT_LE(bound, NewSortableId("dlv", kTime + i));
}

// The ULID specification's example: 1469918176385 ms is 01ARYZ6S41; the largest time is
// 7ZZZZZZZZZ (the top two of the 130 bits are zero).
TEST(SortableId, TimeIsEncodedAsTheUlidSpecificationDoes) {
  EXPECT_EQ(SortableIdLowerBound("evt", 1'469'918'176'385),
            "evt_01ARYZ6S41" + std::string(16, '0'));
  EXPECT_EQ(SortableIdLowerBound("evt", 0), "evt_" + std::string(26, '0'));
  EXPECT_EQ(SortableIdLowerBound("evt", (1LL << 48) - 1), "evt_7ZZZZZZZZZ" + std::string(16, '0'));
}

__extension__ typedef unsigned __int128 Uint128;  // a GCC and Clang type, not ISO C++

// The 128-bit number an id's 26 digits encode.
Uint128 UlidValue(std::string_view id) {
  static constexpr std::string_view kDigits = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  Uint128 value = 0;
  for (char c : id.substr(id.size() - 26)) value = (value << 5) | kDigits.find(c);
  return value;
}

// Within one millisecond the random part counts up by one: every bit of it lands in its place.
TEST(SortableId, IdsOfOneMillisecondAreConsecutiveNumbers) {
  constexpr UnixMillis kTime = 1'900'000'000'000;
  std::string previous = NewSortableId("dlv", kTime);
  for (int i = 0; i < 300; ++i) {
    const std::string next = NewSortableId("dlv", kTime);
    ASSERT_EQ(UlidValue(next) - UlidValue(previous), 1u) << previous << " then " << next;
    EXPECT_EQ(next.substr(4, 10), SortableIdLowerBound("dlv", kTime).substr(4, 10));
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

TEST(SortableId, IsSortableIdRecognisesWhatNewSortableIdMakes) {
  for (UnixMillis now :
       {UnixMillis{0}, UnixMillis{1'700'000'000'000}, UnixMillis{(1LL << 48) - 1}}) {
    const std::string id = NewSortableId("dlv", now);
    EXPECT_TRUE(IsSortableId(id, "dlv")) << id;
    EXPECT_FALSE(IsSortableId(id, "evt")) << id;
  }
}

TEST(SortableId, IsSortableIdRefusesEverythingElse) {
  const std::string valid = "dlv_01JD8X5W7Q3K2M9N4P6R8T0V2Y";
  ASSERT_TRUE(IsSortableId(valid, "dlv"));
  for (const std::string& bad :
       {std::string(""), std::string("-1"), std::string("garbage"), std::string("dlv_"),
        std::string("dlv01JD8X5W7Q3K2M9N4P6R8T0V2Y0"),       // no underscore
        std::string("dlv_01JD8X5W7Q3K2M9N4P6R8T0V2"),        // 25 digits
        std::string("dlv_01JD8X5W7Q3K2M9N4P6R8T0V2YZ"),      // 27 digits
        std::string("dlv_01jd8x5w7q3k2m9n4p6r8t0v2y"),       // lower case
        std::string("dlv_01JD8X5W7Q3K2M9N4P6R8T0V2I"),       // I is not Crockford
        std::string("dlv_01JD8X5W7Q3K2M9N4P6R8T0V2U"),       // nor U
        std::string("dlv_81JD8X5W7Q3K2M9N4P6R8T0V2Y"),       // more than 128 bits
        std::string("dlv_01JD8X5W7Q3K2M9N4P6R8T0V2\0", 30),  // a NUL as last digit
        std::string("evt_01JD8X5W7Q3K2M9N4P6R8T0V2Y")}) {
    EXPECT_FALSE(IsSortableId(bad, "dlv")) << bad;
  }
}

}  // namespace
}  // namespace webhookd
