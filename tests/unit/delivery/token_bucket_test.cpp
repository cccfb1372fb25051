#include "delivery/token_bucket.hpp"

#include <gtest/gtest.h>

namespace webhookd::delivery {
namespace {

TEST(TokenBucketTest, StartsWithOneSecondsWorth) {
  TokenBucket bucket(5, 1'000);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(bucket.TryTake(1'000)) << i;
  EXPECT_FALSE(bucket.TryTake(1'000));
}

TEST(TokenBucketTest, RefillsAtTheRateAndSaysWhen) {
  TokenBucket bucket(5, 0);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(bucket.TryTake(0));
  EXPECT_EQ(bucket.NextTokenAt(0), 200);  // one token every 200 ms at 5/s
  EXPECT_FALSE(bucket.TryTake(199));
  EXPECT_EQ(bucket.NextTokenAt(199), 200);
  EXPECT_TRUE(bucket.TryTake(200));
  EXPECT_FALSE(bucket.TryTake(200));
  EXPECT_EQ(bucket.NextTokenAt(300), 400);
}

TEST(TokenBucketTest, NeverHoldsMoreThanABurst) {
  TokenBucket bucket(3, 0);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(bucket.TryTake(0));
  EXPECT_FALSE(bucket.Full(999));
  EXPECT_TRUE(bucket.Full(1'000));
  // A long quiet spell earns one burst, not more.
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(bucket.TryTake(3'600'000)) << i;
  EXPECT_FALSE(bucket.TryTake(3'600'000));
}

TEST(TokenBucketTest, RatesThatDoNotDivideASecondRoundTheWaitUp) {
  TokenBucket bucket(3, 0);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(bucket.TryTake(0));
  EXPECT_EQ(bucket.NextTokenAt(0), 334);  // 1000 / 3 = 333.3 ms
  EXPECT_FALSE(bucket.TryTake(333));
  EXPECT_TRUE(bucket.TryTake(334));
}

TEST(TokenBucketTest, ANewRateKeepsTheTokensEarnedUpToItsBurst) {
  TokenBucket bucket(10, 0);
  bucket.SetRate(2, 0);  // 10 held, the new burst is 2
  EXPECT_EQ(bucket.rate(), 2);
  EXPECT_TRUE(bucket.TryTake(0));
  EXPECT_TRUE(bucket.TryTake(0));
  EXPECT_FALSE(bucket.TryTake(0));
  EXPECT_EQ(bucket.NextTokenAt(0), 500);
}

}  // namespace
}  // namespace webhookd::delivery
