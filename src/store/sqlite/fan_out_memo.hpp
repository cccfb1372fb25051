// The configurations each (organization, event type) fans out to, remembered by the SQLite
// writer so that ingesting an event needs no SELECT of them (PostgreSQL's counterpart is
// postgres/fan_out_cache.hpp). Only the writer thread uses it, and it forgets everything as
// soon as what it holds may differ from what a SELECT would read in the writer's transaction
// (which also makes it a true answer to whether a configuration is failing, KnowsHealthy):
//  - a row of webhook_configs inserted, updated or deleted on the writer's connection, by any
//    statement (temporary triggers of that connection call back into the memo);
//  - a rollback, whole or to a savepoint (what was read inside it may never be committed);
//  - a commit by any other connection (another process on the same file, e.g. a command run
//    beside the server), seen through PRAGMA data_version as each transaction begins.
#pragma once

#include <cstdint>
#include <map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "core/model.hpp"
#include "core/result.hpp"
#include "store/sqlite/connection.hpp"

namespace webhookd::sqlite {

class FanOutMemo {
 public:
  // Bounds the memory: past it, the memo starts again empty.
  static constexpr std::size_t kMaxEntries = 4096;

  // Installs the triggers on `db`, the writer's connection, which must close before the memo
  // is destroyed.
  Status Watch(Connection& db);
  // Called once a transaction has begun on the watched connection: forgets everything if
  // another connection has committed since the last call.
  Status CheckOtherWriters(Connection& db);

  // The configurations remembered for the pair, or null.
  const std::vector<WebhookConfig>* Find(std::int64_t organization_id, int event_type_id) const;
  void Remember(std::int64_t organization_id, int event_type_id,
                std::vector<WebhookConfig> configs);
  void Forget() {
    entries_.clear();
    healthy_.clear();
  }
  // Whether a remembered configuration with this id has failing_since 0: marking it healthy
  // would change nothing, and each successful delivery would otherwise run that UPDATE.
  bool KnowsHealthy(std::int64_t config_id) const { return healthy_.contains(config_id); }

 private:
  std::map<std::pair<std::int64_t, int>, std::vector<WebhookConfig>> entries_;
  std::unordered_set<std::int64_t> healthy_;  // ids of remembered configurations not failing
  std::int64_t data_version_ = -1;            // -1: not read yet
};

}  // namespace webhookd::sqlite
