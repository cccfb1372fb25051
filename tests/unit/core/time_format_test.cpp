#include "core/time_format.hpp"

#include <gtest/gtest.h>

namespace webhookd {
namespace {

TEST(TimeFormat, FormatsUtcWithMillis) {
  EXPECT_EQ(FormatRfc3339(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatRfc3339(1'614'265'330'123), "2021-02-25T15:02:10.123Z");
}

TEST(TimeFormat, ParsesWhatItFormats) {
  for (UnixMillis t : {0LL, 1'614'265'330'123LL, 4'102'444'799'999LL}) {
    EXPECT_EQ(ParseRfc3339(FormatRfc3339(t)), t);
  }
}

TEST(TimeFormat, ParsesOffsetsAndOptionalFraction) {
  EXPECT_EQ(ParseRfc3339("2021-02-25T15:02:10Z"), 1'614'265'330'000);
  EXPECT_EQ(ParseRfc3339("2021-02-25T16:02:10.5+01:00"), 1'614'265'330'500);
  EXPECT_EQ(ParseRfc3339("2021-02-25T10:02:10-05:00"), 1'614'265'330'000);
}

TEST(TimeFormat, RejectsMalformedText) {
  for (const char* bad :
       {"", "2021-02-25", "2021-02-30T00:00:00Z", "2021-02-25T15:02:10", "2021-02-25T25:00:00Z",
        "2021-02-25T15:02:10.Z", "2021-02-25T15:02:10Zx", "yesterday"}) {
    EXPECT_FALSE(ParseRfc3339(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace webhookd
