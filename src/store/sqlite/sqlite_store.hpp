// The Store on one SQLite file (WAL). Writes go through a single writer thread that commits
// concurrent calls together (group commit, see writer.hpp); reads run on the calling thread
// over pooled read-only connections and, thanks to WAL, never wait for the writer.
#pragma once

#include <memory>
#include <string>

#include "core/clock.hpp"
#include "store/common/group_commit_store.hpp"
#include "store/sqlite/connection.hpp"
#include "store/sqlite/fan_out_memo.hpp"
#include "store/sqlite/operations.hpp"
#include "store/sqlite/writer.hpp"

namespace webhookd::sqlite {

class SqliteStore final : public store_common::GroupCommitStore<WriterSession, Operations> {
 public:
  // Opens `path`, creating the file (not its directory) if missing, switches it to WAL and
  // applies pending migrations. `clock` must outlive the store. `wal_writes`: kDirect only to
  // measure what the writer's buffered WAL writes save (bench_micro).
  static Result<std::unique_ptr<SqliteStore>> Open(
      const std::string& path, const Clock& clock,
      Connection::WalWrites wal_writes = Connection::WalWrites::kBuffered);

  // Finishes every queued write, then closes all connections.
  ~SqliteStore() override { StopWriter(); }

  Result<std::vector<DeliveryJob>> ClaimDue(
      UnixMillis now, int limit, UnixMillis lease_until,
      const std::vector<std::int64_t>& skip_config_ids) override;
  Result<std::int64_t> ReleaseOwnLeases() override;
  // Skips the UPDATE that marks a configuration healthy when the fan-out memo knows it is not
  // failing (FanOutMemo::KnowsHealthy).
  Status RecordAttempts(const std::vector<AttemptOutcome>& outcomes) override;

 protected:
  Result<IngestedEvent> IngestOne(Context& context, const NewEvent& event, DeliveryHandoff* handoff,
                                  store_common::DeliveryBudget& budget) override;

 private:
  SqliteStore(const std::string& path, const Clock& clock);

  FanOutMemo fan_outs_;  // the writer thread's alone
};

}  // namespace webhookd::sqlite
