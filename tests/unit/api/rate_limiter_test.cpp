#include "api/rate_limiter.hpp"

#include <gtest/gtest.h>

#include <optional>

namespace webhookd::api {
namespace {

// 10 events a second (one per 100 ms), saving up to 20.
class RateLimiterTest : public ::testing::Test {
 protected:
  ManualClock clock_;
  KeyRateLimiter limiter_{RateLimit{10, 20}, clock_};

  static std::int64_t RetryAfter(const std::optional<KeyRateLimiter::Refusal>& refused) {
    return refused ? refused->retry_after_seconds : 0;
  }
};

TEST_F(RateLimiterTest, ANewKeyMayUseItsWholeBurstThenIsRefused) {
  for (int i = 0; i < 20; ++i) ASSERT_FALSE(limiter_.Take(1, 1)) << "event " << i;
  const std::optional<KeyRateLimiter::Refusal> refused = limiter_.Take(1, 1);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->retry_after_seconds, 1);  // 100 ms, rounded up to a whole second
}

TEST_F(RateLimiterTest, TokensComeBackAtTheRateAndNoFasterThanTheBurst) {
  ASSERT_FALSE(limiter_.Take(1, 20));
  clock_.Advance(99);
  EXPECT_TRUE(limiter_.Take(1, 1));
  clock_.Advance(1);
  EXPECT_FALSE(limiter_.Take(1, 1));  // 100 ms earned exactly one
  EXPECT_TRUE(limiter_.Take(1, 1));
  clock_.Advance(3'600'000);  // an hour earns no more than the burst
  EXPECT_FALSE(limiter_.Take(1, 20));
  EXPECT_TRUE(limiter_.Take(1, 1));
}

TEST_F(RateLimiterTest, RetryAfterIsTheWaitForTheWholeRequestRoundedUp) {
  ASSERT_FALSE(limiter_.Take(1, 20));
  EXPECT_EQ(RetryAfter(limiter_.Take(1, 10)), 1);  // 10 tokens: exactly 1 s
  EXPECT_EQ(RetryAfter(limiter_.Take(1, 11)), 2);  // 1.1 s
  EXPECT_EQ(RetryAfter(limiter_.Take(1, 20)), 2);  // 2 s
  clock_.Advance(1'500);                           // 15 tokens saved
  EXPECT_EQ(RetryAfter(limiter_.Take(1, 20)), 1);  // 0.5 s more
  EXPECT_FALSE(limiter_.Take(1, 15));              // a refusal took nothing
}

TEST_F(RateLimiterTest, ARequestOverTheBurstPassesWhenTheBucketIsFullAndLeavesADebt) {
  EXPECT_FALSE(limiter_.Take(1, 50));             // full bucket: admitted, 30 in debt
  EXPECT_EQ(RetryAfter(limiter_.Take(1, 1)), 4);  // 31 tokens to earn: 3.1 s
  clock_.Advance(3'100);
  EXPECT_FALSE(limiter_.Take(1, 1));
  EXPECT_EQ(RetryAfter(limiter_.Take(1, 50)), 2);  // it needs a full bucket again: 2 s
}

TEST_F(RateLimiterTest, EachKeyHasItsOwnBucket) {
  ASSERT_FALSE(limiter_.Take(1, 20));
  EXPECT_TRUE(limiter_.Take(1, 1));
  EXPECT_FALSE(limiter_.Take(2, 20));
}

TEST_F(RateLimiterTest, AClockThatStepsBackEarnsNothing) {
  ASSERT_FALSE(limiter_.Take(1, 20));
  clock_.Advance(-60'000);
  EXPECT_TRUE(limiter_.Take(1, 1));
  clock_.Advance(100);
  EXPECT_FALSE(limiter_.Take(1, 1));
}

TEST(RateLimiterOffTest, ZeroPerSecondAdmitsEverything) {
  ManualClock clock;
  KeyRateLimiter limiter(RateLimit{0, 1}, clock);
  for (int i = 0; i < 1000; ++i) ASSERT_FALSE(limiter.Take(1, 1000));
}

}  // namespace
}  // namespace webhookd::api
