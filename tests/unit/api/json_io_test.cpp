#include "api/json_io.hpp"

#include <gtest/gtest.h>

namespace webhookd::api {
namespace {

std::string FieldOf(std::string_view body) {
  const Result<boost::json::object> parsed = ParseJsonObject(body);
  EXPECT_FALSE(parsed.ok()) << body;
  return parsed.ok() ? "<ok>" : parsed.error().field;
}

// Boost.JSON reads 5e3000 as infinity and would write it back as `Infinity`, which is not JSON.
TEST(ParseJsonObjectTest, RefusesNumbersBeyondADoubleNamingTheirPlace) {
  EXPECT_EQ(FieldOf(R"({"a": 5e3000})"), "/a");
  EXPECT_EQ(FieldOf(R"({"payload": {"x/y": [1, -1e999]}})"), "/payload/x~1y/1");
  // and 0e400 as NaN (found by event_ingest_fuzz).
  EXPECT_EQ(FieldOf(R"({"payload": {"n": 0e400}})"), "/payload/n");
  // Finite numbers, and those that underflow to 0, are JSON.
  EXPECT_TRUE(ParseJsonObject(R"({"a": [1e308, -1e308, 5e-3000, 0]})").ok());
  const Result<boost::json::object> refused = ParseJsonObject(R"({"a": 1e400})");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().message,
            "numbers must be within the range of a double (about ±1.8e308)");
}

}  // namespace
}  // namespace webhookd::api
