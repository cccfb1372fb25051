#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "store/common/ingest.hpp"

namespace webhookd::store_common {
namespace {

// Records every Take into a shared log, beside the answers the test's requests get.
class LoggingHandoff final : public DeliveryHandoff {
 public:
  explicit LoggingHandoff(std::vector<std::string>& log) : log_(log) {}
  std::optional<UnixMillis> LeaseFor(const WebhookConfig&, UnixMillis now) override { return now; }
  void Take(std::vector<DeliveryJob> jobs, UnixMillis lease_until) override {
    std::string entry = "take";
    for (const DeliveryJob& job : jobs) entry += " " + job.delivery.id;
    log_.push_back(entry + " until " + std::to_string(lease_until));
  }

 private:
  std::vector<std::string>& log_;
};

std::vector<Result<IngestedEvent>> Committed(std::vector<std::string> handed_off_ids,
                                             UnixMillis lease_until) {
  IngestedEvent ingested;
  for (const std::string& id : handed_off_ids) {
    DeliveryJob job;
    job.delivery.id = id;
    ingested.handed_off.push_back(job);
  }
  ingested.lease_until = lease_until;
  std::vector<Result<IngestedEvent>> results;
  results.emplace_back(std::move(ingested));
  return results;
}

Store::IngestDone Answer(std::vector<std::string>& log, std::string name) {
  return [&log, name](std::vector<Result<IngestedEvent>> results) {
    EXPECT_TRUE(results.front()->handed_off.empty()) << "handed off twice";
    log.push_back("answer " + name);
  };
}

TEST(HandedOffCollectorTest, OneCommitsRequestsGoToTheDispatcherInOneTakeBeforeTheirAnswers) {
  std::vector<std::string> log;
  auto handoff = std::make_shared<LoggingHandoff>(log);
  HandedOffCollector collector;
  collector.Add(handoff, Committed({"d1", "d2"}, 500), Answer(log, "first"));
  collector.Add(handoff, Committed({"d3"}, 300), Answer(log, "second"));
  EXPECT_TRUE(log.empty()) << "nothing goes before the batch is complete";

  collector.Flush();
  EXPECT_EQ(log,
            (std::vector<std::string>{"take d1 d2 d3 until 300", "answer first", "answer second"}));
  collector.Flush();
  EXPECT_EQ(log.size(), 3u) << "a second flush passes nothing again";
}

TEST(HandedOffCollectorTest, ARequestThatHandedNothingOffIsAnsweredAtOnce) {
  std::vector<std::string> log;
  auto handoff = std::make_shared<LoggingHandoff>(log);
  HandedOffCollector collector;
  collector.Add(handoff, Committed({}, 0), Answer(log, "pending only"));
  EXPECT_EQ(log, (std::vector<std::string>{"answer pending only"}));
  collector.Flush();
  EXPECT_EQ(log.size(), 1u);
}

TEST(HandedOffCollectorTest, ANewHandoffGetsOnlyItsOwnDeliveries) {
  std::vector<std::string> old_log;
  std::vector<std::string> new_log;
  HandedOffCollector collector;
  collector.Add(std::make_shared<LoggingHandoff>(old_log), Committed({"d1"}, 100),
                Answer(old_log, "first"));
  collector.Add(std::make_shared<LoggingHandoff>(new_log), Committed({"d2"}, 200),
                Answer(new_log, "second"));
  collector.Flush();
  EXPECT_EQ(old_log, (std::vector<std::string>{"take d1 until 100", "answer first"}));
  EXPECT_EQ(new_log, (std::vector<std::string>{"take d2 until 200", "answer second"}));
}

}  // namespace
}  // namespace webhookd::store_common
