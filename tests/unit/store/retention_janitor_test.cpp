// The retention janitor over a real (SQLite) store; PurgeBefore itself is in the contract test.
#include "store/retention_janitor.hpp"

#include <gtest/gtest.h>

#include <string>

#include "core/clock.hpp"
#include "core/ids.hpp"
#include "store/open_store.hpp"
#include "store_test_util.hpp"

namespace webhookd {
namespace {

using test::Must;
using test::TempDir;

constexpr UnixMillis kDay = 24LL * 60 * 60 * 1000;

TEST(ParseRetentionTest, AcceptsWholeDaysHoursAndMinutes) {
  EXPECT_EQ(Must(ParseRetention("30d")).count(), 30 * kDay);
  EXPECT_EQ(Must(ParseRetention("12h")).count(), 12LL * 60 * 60 * 1000);
  EXPECT_EQ(Must(ParseRetention("90m")).count(), 90LL * 60 * 1000);
}

TEST(ParseRetentionTest, RefusesAnythingElse) {
  for (const std::string text :
       {"", "30", "0d", "-1d", "1.5d", "d", "30s", "30dd", "30 d", "99999999999d"}) {
    const Result<std::chrono::milliseconds> parsed = ParseRetention(text);
    ASSERT_FALSE(parsed.ok()) << text;
    EXPECT_EQ(parsed.error().kind, ErrorKind::kInvalid);
    EXPECT_NE(parsed.error().message.find("30d"), std::string::npos) << parsed.error().message;
  }
}

class RetentionJanitorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = Must(OpenStore("sqlite:" + (dir_.path() / "webhookd.db").string(), clock_));
  }

  // An event without configurations, so without deliveries: purgeable once old enough.
  std::string IngestEvent() {
    NewEvent e;
    e.id = NewSortableId("evt", clock_.Now());
    e.organization_id = 1;
    e.event_type_id = 1;
    e.payload_json = "{}";
    Must(std::move(store_->IngestEvents({e}).at(0)));
    clock_.Advance(1);
    return e.id;
  }

  bool Exists(const std::string& event_id) { return store_->GetEvent(event_id, std::nullopt).ok(); }

  RetentionOptions Options(int batch_events) {
    RetentionOptions options;
    options.retention = std::chrono::days(30);
    options.batch_events = batch_events;
    options.pause = std::chrono::milliseconds(0);
    return options;
  }

  TempDir dir_;
  ManualClock clock_;
  std::unique_ptr<Store> store_;
};

TEST_F(RetentionJanitorTest, APassPurgesEveryOldEventBatchAfterBatch) {
  std::vector<std::string> old;
  for (int i = 0; i < 7; ++i) old.push_back(IngestEvent());
  clock_.Advance(31 * kDay);
  const std::string young = IngestEvent();

  RetentionJanitor janitor(*store_, clock_, Options(3));
  EXPECT_EQ(Must(janitor.RunPass()).purged_events, 7);
  for (const std::string& id : old) EXPECT_FALSE(Exists(id)) << id;
  EXPECT_TRUE(Exists(young));
  EXPECT_EQ(Must(janitor.RunPass()).purged_events, 0);
}

TEST_F(RetentionJanitorTest, NothingIsPurgedBeforeItsTime) {
  const std::string id = IngestEvent();
  clock_.Advance(29 * kDay);
  RetentionJanitor janitor(*store_, clock_, Options(500));
  EXPECT_EQ(Must(janitor.RunPass()).purged_events, 0);
  EXPECT_TRUE(Exists(id));
}

TEST_F(RetentionJanitorTest, TheThreadRunsAPassAtStartAndStopsWithoutWaitingForTheNext) {
  const std::string id = IngestEvent();
  clock_.Advance(31 * kDay);
  RetentionOptions options = Options(500);
  options.interval = std::chrono::hours(24);
  RetentionJanitor janitor(*store_, clock_, options);
  janitor.Start();
  // The first batch always runs; Stop() only keeps a next one from starting.
  janitor.Stop();
  EXPECT_FALSE(Exists(id));
  janitor.Stop();
}

}  // namespace
}  // namespace webhookd
