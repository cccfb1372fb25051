// The configurations each (organization, event type) fans out to, kept in memory by a node so
// that ingesting an event needs no SELECT of them: the INSERT of the event checks, in the same
// statement, that the fan-out's version (migration 9) is still the one they were read at, and
// stores nothing otherwise (then the configurations are read again). So a configuration written
// on any node takes effect exactly as when every event read them: from the next statement on.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "core/model.hpp"

namespace webhookd::postgres {

class FanOutCache {
 public:
  struct Entry {
    std::int64_t version = 0;
    std::vector<WebhookConfig> configs;
  };

  // Bounds the memory: past it, the cache starts again empty.
  static constexpr std::size_t kMaxEntries = 4096;

  // Shared, so that the writers copy the configurations out without holding the lock.
  std::shared_ptr<const Entry> Find(std::int64_t organization_id, int event_type_id) const {
    std::lock_guard lock(mu_);
    const auto it = entries_.find({organization_id, event_type_id});
    return it == entries_.end() ? nullptr : it->second;
  }

  void Put(std::int64_t organization_id, int event_type_id, std::shared_ptr<const Entry> entry) {
    std::lock_guard lock(mu_);
    if (entries_.size() >= kMaxEntries) entries_.clear();
    entries_.insert_or_assign({organization_id, event_type_id}, std::move(entry));
  }

  void Forget(std::int64_t organization_id, int event_type_id) {
    std::lock_guard lock(mu_);
    entries_.erase({organization_id, event_type_id});
  }

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::int64_t, int>, std::shared_ptr<const Entry>> entries_;  // guarded by mu_
};

}  // namespace webhookd::postgres
