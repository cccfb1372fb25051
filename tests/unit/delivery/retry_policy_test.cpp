#include "delivery/retry_policy.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace webhookd {
namespace {

UniformRandom Fixed(double u) {
  return [u] { return u; };
}

// 2015-10-21T07:28:00Z, the date in RFC 9110's Retry-After example.
constexpr UnixMillis kOct21 = 1445412480000;

TEST(ClassifyAttemptTest, SortsStatusCodesAndTransportErrors) {
  EXPECT_EQ(ClassifyAttempt(200, false), AttemptClass::kSuccess);
  EXPECT_EQ(ClassifyAttempt(204, false), AttemptClass::kSuccess);
  EXPECT_EQ(ClassifyAttempt(299, false), AttemptClass::kSuccess);
  EXPECT_EQ(ClassifyAttempt(0, true), AttemptClass::kRetryable);
  EXPECT_EQ(ClassifyAttempt(200, true), AttemptClass::kRetryable);
  for (int code : {408, 429, 500, 502, 503, 504}) {
    EXPECT_EQ(ClassifyAttempt(code, false), AttemptClass::kRetryable) << code;
  }
  EXPECT_EQ(ClassifyAttempt(410, false), AttemptClass::kGone);
  for (int code : {301, 302, 307, 400, 401, 403, 404, 422}) {
    EXPECT_EQ(ClassifyAttempt(code, false), AttemptClass::kFailure) << code;
  }
}

TEST(RetryPolicyTest, DefaultScheduleHasEightAttempts) {
  EXPECT_EQ(RetryPolicy::DefaultSchedule(),
            (std::vector<std::int64_t>{0, 5, 300, 1800, 7200, 18000, 36000, 36000}));
  RetryPolicy policy(RetryPolicy::DefaultSchedule(), 0.2, Fixed(0.5));
  EXPECT_EQ(policy.max_attempts(), 8);
}

TEST(RetryPolicyTest, MidpointRandomGivesTheScheduledWait) {
  RetryPolicy policy(RetryPolicy::DefaultSchedule(), 0.2, Fixed(0.5));
  EXPECT_EQ(policy.NextDelayMs(1, std::nullopt), 5000);
  EXPECT_EQ(policy.NextDelayMs(2, std::nullopt), 300000);
  EXPECT_EQ(policy.NextDelayMs(7, std::nullopt), 36000000);
}

TEST(RetryPolicyTest, JitterSpreadsTheWaitByTheRandomValue) {
  EXPECT_EQ(RetryPolicy({0, 5}, 0.2, Fixed(0.0)).NextDelayMs(1, std::nullopt), 4000);
  EXPECT_EQ(RetryPolicy({0, 5}, 0.2, Fixed(0.75)).NextDelayMs(1, std::nullopt), 5500);
  EXPECT_EQ(RetryPolicy({0, 5}, 0.2, Fixed(0.999)).NextDelayMs(1, std::nullopt), 5998);
  EXPECT_EQ(RetryPolicy({0, 300}, 0.1, Fixed(0.25)).NextDelayMs(1, std::nullopt), 285000);
  EXPECT_EQ(RetryPolicy({0, 5}, 0.0, Fixed(0.0)).NextDelayMs(1, std::nullopt), 5000);
}

TEST(RetryPolicyTest, ExhaustedScheduleGivesNoDelay) {
  RetryPolicy policy({0, 5, 300}, 0.2, Fixed(0.5));
  EXPECT_EQ(policy.max_attempts(), 3);
  EXPECT_TRUE(policy.NextDelayMs(2, std::nullopt).has_value());
  EXPECT_EQ(policy.NextDelayMs(3, std::nullopt), std::nullopt);
  EXPECT_EQ(policy.NextDelayMs(4, 1000), std::nullopt);
}

TEST(RetryPolicyTest, RetryAfterReplacesTheWaitWithinBounds) {
  RetryPolicy policy(RetryPolicy::DefaultSchedule(), 0.0, Fixed(0.5));
  // Longer than scheduled: honoured.
  EXPECT_EQ(policy.NextDelayMs(1, 60000), 60000);
  // Shorter than scheduled: the schedule wins.
  EXPECT_EQ(policy.NextDelayMs(2, 1000), 300000);
  // Longer than an hour: clamped to an hour.
  EXPECT_EQ(policy.NextDelayMs(1, 7200000), 3600000);
  // A schedule step beyond an hour is never shortened by Retry-After.
  EXPECT_EQ(policy.NextDelayMs(4, 60000), 7200000);
  EXPECT_EQ(policy.NextDelayMs(1, -5), 5000);
}

TEST(ParseScheduleTest, ParsesDurationList) {
  Result<std::vector<std::int64_t>> r = RetryPolicy::ParseSchedule("5s,5m,30m,2h,1d");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, (std::vector<std::int64_t>{5, 300, 1800, 7200, 86400}));
  r = RetryPolicy::ParseSchedule(" 0 , 10, 1s ");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, (std::vector<std::int64_t>{0, 10, 1}));
}

TEST(ParseScheduleTest, ParsesJsonArrayOfSeconds) {
  Result<std::vector<std::int64_t>> r = RetryPolicy::ParseSchedule("[0, 5, 300]");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, (std::vector<std::int64_t>{0, 5, 300}));
}

TEST(ParseScheduleTest, ErrorNamesTheBadDurationElement) {
  for (const auto& [text, bad] : std::vector<std::pair<std::string, std::string>>{
           {"5s,5x,30m", "5x"},
           {"5s,,30m", "\"\""},
           {"5s,-5s", "-5s"},
           {"1.5m", "1.5m"},
           {"5s,400d", "400d"},
           {"99999999999999999999", "99999999999999999999"}}) {
    Result<std::vector<std::int64_t>> r = RetryPolicy::ParseSchedule(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.error().kind, ErrorKind::kInvalid);
    EXPECT_NE(r.error().message.find(bad), std::string::npos) << r.error().message;
  }
  Result<std::vector<std::int64_t>> r = RetryPolicy::ParseSchedule("5s,5x");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("element 2"), std::string::npos) << r.error().message;
}

TEST(ParseScheduleTest, ErrorNamesTheBadJsonElement) {
  for (const auto& [text, bad] : std::vector<std::pair<std::string, std::string>>{
           {"[0, -5]", "-5"},
           {"[0, 1.5]", "1.5"},
           {"[0, \"5s\"]", "\"5s\""},
           {"[1, 2, 99999999999999999999]", "element 3"}}) {
    Result<std::vector<std::int64_t>> r = RetryPolicy::ParseSchedule(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.error().kind, ErrorKind::kInvalid);
    EXPECT_NE(r.error().message.find(bad), std::string::npos) << r.error().message;
  }
}

TEST(ParseScheduleTest, RejectsEmptyAndMalformedSchedules) {
  for (std::string_view text : {"", "  ", "[]", "[0, 5", "{\"a\": 1}"}) {
    Result<std::vector<std::int64_t>> r = RetryPolicy::ParseSchedule(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.error().kind, ErrorKind::kInvalid);
  }
}

TEST(ParseRetryAfterTest, ParsesDeltaSeconds) {
  EXPECT_EQ(ParseRetryAfterMs("120", kOct21), 120000);
  EXPECT_EQ(ParseRetryAfterMs("0", kOct21), 0);
  EXPECT_EQ(ParseRetryAfterMs(" 5 ", kOct21), 5000);
  EXPECT_GT(*ParseRetryAfterMs("99999999999999999999", kOct21), 3600000);
}

TEST(ParseRetryAfterTest, ParsesImfFixdateRelativeToNow) {
  EXPECT_EQ(ParseRetryAfterMs("Wed, 21 Oct 2015 07:28:00 GMT", kOct21 - 90000), 90000);
  EXPECT_EQ(ParseRetryAfterMs("Wed, 21 Oct 2015 07:28:00 GMT", kOct21), 0);
  EXPECT_EQ(ParseRetryAfterMs("Thu, 01 Jan 1970 00:00:10 GMT", 0), 10000);
  EXPECT_EQ(ParseRetryAfterMs("Tue, 29 Feb 2028 23:59:59 GMT", 1835481598000), 1000);
}

TEST(ParseRetryAfterTest, DateInThePastMeansNoExtraWait) {
  EXPECT_EQ(ParseRetryAfterMs("Wed, 21 Oct 2015 07:28:00 GMT", kOct21 + 60000), 0);
}

TEST(ParseRetryAfterTest, RejectsUnparseableValues) {
  for (std::string_view v :
       {"", "soon", "-5", "1.5", "Wed, 21 Oct 2015 07:28:00 UTC", "Wed, 21 Okt 2015 07:28:00 GMT",
        "Wed, 32 Oct 2015 07:28:00 GMT", "Wed, 21 Oct 2015 24:00:00 GMT",
        "Xyz, 21 Oct 2015 07:28:00 GMT", "Wed, 30 Feb 2015 07:28:00 GMT"}) {
    EXPECT_EQ(ParseRetryAfterMs(v, kOct21), std::nullopt) << v;
  }
}

}  // namespace
}  // namespace webhookd
