#include "store/store.hpp"

#include <future>

namespace webhookd {

std::vector<Result<IngestedEvent>> Store::IngestEvents(std::vector<NewEvent> events,
                                                       IngestLimits limits) {
  std::promise<std::vector<Result<IngestedEvent>>> done;
  std::future<std::vector<Result<IngestedEvent>>> results = done.get_future();
  IngestEventsAsync(std::move(events), limits, [&done](std::vector<Result<IngestedEvent>> r) {
    done.set_value(std::move(r));
  });
  return results.get();
}

Status Store::AppendAudit(AuditEntry entry) {
  std::promise<Status> done;
  std::future<Status> outcome = done.get_future();
  AppendAuditAsync(std::move(entry), [&done](Status s) { done.set_value(std::move(s)); });
  return outcome.get();
}

}  // namespace webhookd
