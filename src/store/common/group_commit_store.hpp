// The Store methods that both backends implement the same way: reads run on the calling thread
// over a pooled connection, writes run as jobs of the group-commit writer and wait for their
// commit; each calls the backend's Operations (static functions over its connection, in
// operations.hpp). A backend derives from GroupCommitStore<WriterSession, Operations>, opens
// its connections, calls StartWriter, and implements what differs: ClaimDue (PostgreSQL leases
// in its node's name). The decisions around the statements that do not depend on the database
// live here too: the scope check before listing an event's deliveries or a delivery's attempts,
// and when a manual retry or recovery is refused or makes work due.
//   WriterSession  a BatchSession over one write connection (group_commit.hpp);
//   Operations     static functions named like the Store methods, with the connection (reads)
//                  or WriteContext (writes) first and the store clock's `now` last.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.hpp"
#include "core/delivery_status.hpp"
#include "store/common/api_key_cache.hpp"
#include "store/common/connection_pool.hpp"
#include "store/common/group_commit.hpp"
#include "store/common/ingest.hpp"
#include "store/common/next_turns.hpp"
#include "store/common/store_rules.hpp"
#include "store/store.hpp"

namespace webhookd::store_common {

template <BatchSession Session, class Ops>
class GroupCommitStore : public Store {
 public:
  using Connection = typename Session::Connection;
  using Context = WriteContext<Connection>;
  using Pool = ConnectionPool<Connection>;

  Status Ping() override {
    return Read([](Connection& db) { return Ops::Ping(db); });
  }

  Result<WebhookConfig> CreateConfig(const WebhookConfig& config, std::int64_t max_per_organization,
                                     const AuditEntry* audit = nullptr) override {
    return WriteAudited<Result<WebhookConfig>>(audit, [&](Context& c) -> Result<WebhookConfig> {
      Result<std::int64_t> live = Ops::LockAndCountLiveConfigs(c.db(), config.organization_id);
      if (!live.ok()) return live.error();
      if (*live >= max_per_organization) {
        return Error::LimitExceeded(
            "organization " + std::to_string(config.organization_id) + " has " +
            std::to_string(*live) + " webhook configurations (deleted ones do not count) and may " +
            "have at most " + std::to_string(max_per_organization) + "; delete one first");
      }
      return Ops::CreateConfig(c.db(), config, Now());
    });
  }
  Result<WebhookConfig> GetConfig(std::int64_t id, OrgScope scope) override {
    return Read([&](Connection& db) { return Ops::GetConfig(db, id, scope); });
  }
  Result<Page<WebhookConfig>> ListConfigs(const ConfigFilter& filter, OrgScope scope) override {
    return Read([&](Connection& db) { return Ops::ListConfigs(db, filter, scope); });
  }
  Result<WebhookConfig> UpdateConfig(const WebhookConfig& config, OrgScope scope,
                                     const AuditEntry* audit = nullptr) override {
    return WriteAudited<Result<WebhookConfig>>(audit, [&](Context& c) -> Result<WebhookConfig> {
      Result<WebhookConfig> updated = Ops::UpdateConfig(c.db(), config, scope, Now());
      if (!updated.ok() || config.ordering != DeliveryOrdering::kNone) return updated;
      Result<std::int64_t> started = Ops::EndWaitingForTurns(c.db(), config.id, Now());
      if (!started.ok()) return started.error();
      if (*started > 0) c.MarkWorkDue();
      return updated;
    });
  }
  Status DeleteConfig(std::int64_t id, OrgScope scope, const AuditEntry* audit = nullptr) override {
    return WriteAudited<Status>(
        audit, [&](Context& c) { return Ops::DeleteConfig(c.db(), id, scope, Now()); });
  }

  Result<ApiKey> CreateApiKey(const ApiKey& key, const AuditEntry* audit = nullptr) override {
    return WriteAudited<Result<ApiKey>>(
        audit, [&](Context& c) { return Ops::CreateApiKey(c.db(), key, Now()); });
  }
  Result<ApiKey> FindApiKeyByHash(const std::string& hash) override {
    if (std::optional<ApiKey> cached = key_cache_.Find(hash, Now())) return *cached;
    const std::uint64_t generation = key_cache_.Generation();
    Result<ApiKey> key = Read([&](Connection& db) { return Ops::FindApiKeyByHash(db, hash); });
    if (key.ok()) key_cache_.Remember(hash, *key, Now(), generation);
    return key;
  }
  Result<std::vector<ApiKey>> ListApiKeys(OrgScope scope) override {
    return Read([&](Connection& db) { return Ops::ListApiKeys(db, scope); });
  }
  Status RevokeApiKey(std::int64_t id, OrgScope scope, const AuditEntry* audit = nullptr) override {
    Status revoked = WriteAudited<Status>(audit, [&](Context& c) -> Status {
      // An organization's key can revoke its organization's keys only, never an admin key, and
      // must get "not found" for one, as for any object outside its organization.
      Result<bool> last = scope ? Result<bool>(false) : Ops::LockAndCheckLastAdminKey(c.db(), id);
      if (!last.ok()) return last.error();
      if (*last) {
        return Error::Conflict(
            "API key " + std::to_string(id) + " is the last admin key: revoking it would leave " +
            "no key that can manage keys; create another admin key first (POST /api-keys " +
            "without organizationId, or `webhookd keys create` on the server)");
      }
      return Ops::RevokeApiKey(c.db(), id, scope, Now());
    });
    key_cache_.Clear();
    return revoked;
  }
  Result<std::int64_t> CountApiKeys() override {
    return Read([](Connection& db) { return Ops::CountApiKeys(db); });
  }

  Result<std::vector<StoredEventType>> ListEventTypes() override {
    return Read([](Connection& db) { return Ops::ListEventTypes(db); });
  }
  Result<StoredEventType> CreateEventType(const StoredEventType& type,
                                          const AuditEntry* audit = nullptr) override {
    return WriteCatalogChange<Result<StoredEventType>>(
        audit, [&](Context& c) { return Ops::CreateEventType(c.db(), type, Now()); });
  }
  Result<StoredEventType> AddEventTypeVersion(const StoredEventType& version,
                                              const AuditEntry* audit = nullptr) override {
    return WriteCatalogChange<Result<StoredEventType>>(
        audit, [&](Context& c) { return Ops::AddEventTypeVersion(c.db(), version, Now()); });
  }
  Status ArchiveEventType(int id, const AuditEntry* audit = nullptr) override {
    return WriteCatalogChange<Status>(
        audit, [&](Context& c) { return Ops::ArchiveEventType(c.db(), id, Now()); });
  }
  Result<std::int64_t> CatalogVersion() override {
    return Read([](Connection& db) { return Ops::CatalogVersion(db); });
  }

  // One job per event, all in the same batch and group: an event over the request's delivery
  // budget fails the group, undoing the events before it.
  void IngestEventsAsync(std::vector<NewEvent> events, IngestLimits limits,
                         IngestDone done) override {
    auto shared = std::make_shared<const std::vector<NewEvent>>(std::move(events));
    auto budget = std::make_shared<DeliveryBudget>(limits.max_deliveries);
    std::vector<std::function<Result<IngestedEvent>(Context&)>> jobs;
    jobs.reserve(shared->size());
    std::shared_ptr<DeliveryHandoff> handoff = CurrentHandoff();
    for (std::size_t i = 0; i < shared->size(); ++i) {
      jobs.emplace_back([this, shared, i, handoff, budget](Context& c) {
        if (i == 0) budget->Restart();  // a batch that runs again starts the group afresh
        Result<IngestedEvent> ingested = IngestOne(c, (*shared)[i], handoff.get(), *budget);
        if (!ingested.ok() && ingested.error().kind == ErrorKind::kLimitExceeded) c.FailGroup();
        return ingested;
      });
    }
    writer_->template RunAllAsync<Result<IngestedEvent>>(
        std::move(jobs),
        [this, handoff, done = std::move(done)](std::vector<Result<IngestedEvent>> r) {
          handed_off_.Add(handoff, std::move(r), done);
        });
  }
  Result<Event> GetEvent(const std::string& id, OrgScope scope) override {
    return Read([&](Connection& db) { return Ops::GetEvent(db, id, scope); });
  }
  Result<std::vector<Delivery>> DeliveriesOfEvent(const std::string& event_id,
                                                  OrgScope scope) override {
    return Read([&](Connection& db) -> Result<std::vector<Delivery>> {
      if (Result<Event> event = Ops::GetEvent(db, event_id, scope); !event.ok()) {
        return event.error();
      }
      return Ops::DeliveriesOf(db, event_id);
    });
  }

  Result<Delivery> GetDelivery(const std::string& id, OrgScope scope) override {
    return Read([&](Connection& db) { return Ops::GetDelivery(db, id, scope); });
  }
  Result<Page<Delivery>> ListDeliveries(const DeliveryFilter& filter, OrgScope scope) override {
    return Read([&](Connection& db) { return Ops::ListDeliveries(db, filter, scope); });
  }
  Result<std::vector<Attempt>> ListAttempts(const std::string& delivery_id,
                                            OrgScope scope) override {
    return Read([&](Connection& db) -> Result<std::vector<Attempt>> {
      if (Result<Delivery> delivery = Ops::GetDelivery(db, delivery_id, scope); !delivery.ok()) {
        return delivery.error();
      }
      return Ops::AttemptsOf(db, delivery_id);
    });
  }
  Result<std::optional<UnixMillis>> NextDueAt() override {
    return Read([](Connection& db) { return Ops::NextDueAt(db); });
  }
  Result<std::int64_t> ReleaseExpiredLeases(UnixMillis now) override {
    return Write<Result<std::int64_t>>(
        [&](Context& c) { return Ops::ReleaseExpiredLeases(c, now, Now()); });
  }
  Result<Delivery> RetryDelivery(const std::string& id, OrgScope scope,
                                 const AuditEntry* audit = nullptr) override {
    return WriteAudited<Result<Delivery>>(audit, [&](Context& c) -> Result<Delivery> {
      Result<Delivery> current = Ops::GetDelivery(c.db(), id, scope);
      if (!current.ok()) return current.error();
      const Error being_delivered = Error::Conflict("delivery " + id + " is being delivered");
      if (current->status == DeliveryStatus::kDelivering) return being_delivered;
      if (current->status == DeliveryStatus::kPending &&
          current->next_attempt_at == kWaitingForTurn) {
        return Error::Conflict("delivery " + id +
                               " waits for an earlier delivery to its configuration (ordering "
                               "fifo) and is sent when that one succeeds or fails; retry that one");
      }
      Result<Event> event = Ops::GetEvent(c.db(), current->event_id, scope);
      if (!event.ok()) return event.error();
      if (event->payload_erased_at != 0) {
        return Error::Conflict("delivery " + id + " cannot be sent again: payload retention " +
                               "erased its event's payload");
      }
      Result<bool> requeued = Ops::RequeueForRetry(c.db(), id, Now());
      if (!requeued.ok()) return requeued.error();
      // Another node claimed it between the read and the update.
      if (!*requeued) return being_delivered;
      c.MarkWorkDue();
      return Ops::GetDelivery(c.db(), id, scope);
    });
  }
  Result<std::int64_t> RecoverConfig(std::int64_t config_id, UnixMillis since, OrgScope scope,
                                     const AuditEntry* audit = nullptr) override {
    return WriteAudited<Result<std::int64_t>>(audit, [&](Context& c) -> Result<std::int64_t> {
      Result<bool> exists = Ops::ConfigInScope(c.db(), config_id, scope);
      if (!exists.ok()) return exists.error();
      if (!*exists) return ConfigNotFound(config_id);
      Result<std::int64_t> recovered = Ops::RequeueFailed(c.db(), config_id, since, Now());
      if (recovered.ok() && *recovered > 0) c.MarkWorkDue();
      return recovered;
    });
  }
  Result<DeliveryCounts> CountDeliveries() override {
    return Read([](Connection& db) { return Ops::CountDeliveries(db); });
  }
  Result<DeliveryBacklog> CountBacklog() override {
    return Read([](Connection& db) { return Ops::CountBacklog(db); });
  }
  Result<DeliveryStats> Stats(const StatsQuery& query, OrgScope scope) override {
    return Read([&](Connection& db) { return Ops::Stats(db, query, scope); });
  }
  WriterStats GetWriterStats() const override { return writer_->Stats(); }

  Result<std::int64_t> PurgeBefore(UnixMillis cutoff, int max_events,
                                   RetentionScope scope) override {
    if (max_events <= 0) return std::int64_t{0};
    return Write<Result<std::int64_t>>(
        [&](Context& c) { return Ops::PurgeBefore(c.db(), cutoff, max_events, scope); });
  }
  Result<std::int64_t> ErasePayloadsBefore(UnixMillis cutoff, int max_events,
                                           RetentionScope scope) override {
    if (max_events <= 0) return std::int64_t{0};
    return Write<Result<std::int64_t>>([&](Context& c) {
      return Ops::ErasePayloadsBefore(c.db(), cutoff, max_events, scope, Now());
    });
  }
  Result<OrganizationSettings> GetOrganizationSettings(std::int64_t organization_id) override {
    return Read([&](Connection& db) { return Ops::GetOrganizationSettings(db, organization_id); });
  }
  Result<OrganizationSettings> PutOrganizationSettings(const OrganizationSettings& settings,
                                                       const AuditEntry* audit = nullptr) override {
    return WriteAudited<Result<OrganizationSettings>>(
        audit, [&](Context& c) { return Ops::PutOrganizationSettings(c.db(), settings, Now()); });
  }
  Result<std::vector<OrganizationSettings>> ListOrganizationOverrides() override {
    return Read([](Connection& db) { return Ops::ListOrganizationOverrides(db); });
  }

  // A job of its own in the writer's next batch, which it shares with whatever commits then.
  void AppendAuditAsync(AuditEntry entry, std::function<void(Status)> done) override {
    std::vector<std::function<Status(Context&)>> jobs;
    jobs.emplace_back(
        [entry = std::move(entry)](Context& c) { return Ops::AppendAudit(c.db(), entry); });
    writer_->template RunAllAsync<Status>(
        std::move(jobs),
        [done = std::move(done)](std::vector<Status> outcome) { done(outcome.front()); });
  }
  Result<Page<AuditEntry>> ListAudit(const AuditFilter& filter, OrgScope scope) override {
    return Read([&](Connection& db) { return Ops::ListAudit(db, filter, scope); });
  }
  Result<std::int64_t> PurgeAuditBefore(UnixMillis cutoff, int max_entries) override {
    if (max_entries <= 0) return std::int64_t{0};
    return Write<Result<std::int64_t>>(
        [&](Context& c) { return Ops::PurgeAuditBefore(c.db(), cutoff, max_entries); });
  }

  void SetWorkListener(std::function<void()> listener) override {
    std::lock_guard lock(listener_mu_);
    listener_ = std::move(listener);
  }
  void SetDeliveryHandoff(std::shared_ptr<DeliveryHandoff> handoff) override {
    std::lock_guard lock(listener_mu_);
    handoff_ = std::move(handoff);
  }

 protected:
  // One event of IngestEventsAsync, on a writer thread: Ops::IngestEvent with what the backend
  // adds (PostgreSQL: the node that leases what `handoff` takes). Being virtual, it must not run
  // once the backend is being destroyed: its destructor calls StopWriter() first.
  virtual Result<IngestedEvent> IngestOne(Context& context, const NewEvent& event,
                                          DeliveryHandoff* handoff, DeliveryBudget& budget) = 0;

  GroupCommitStore(const Clock& clock, typename Pool::OpenFn open_reader,
                   typename Pool::ReusableFn reusable)
      : clock_(clock), reads_(std::move(open_reader), std::move(reusable)) {}

  // Starts the writer threads, one per session; called once, by the backend's Open.
  void StartWriter(std::vector<std::unique_ptr<Session>> sessions) {
    writer_ = std::make_unique<GroupCommitWriter<Session>>(
        std::move(sessions), [this] { NotifyWorkDue(); }, [this] { handed_off_.Flush(); });
  }

  // Runs `record(context, turns)` in a write and, once it is committed, hands the FIFO turns it
  // started (store_common::NextTurns) to the dispatcher.
  template <class Record>
  Status RecordHandingOffTurns(Record record) {
    std::shared_ptr<DeliveryHandoff> handoff = CurrentHandoff();
    store_common::NextTurns turns{.handoff = handoff.get()};
    Status recorded = Write<Status>([&](Context& c) {
      turns = store_common::NextTurns{.handoff = handoff.get()};  // a batch may run again
      return record(c, turns);
    });
    if (recorded.ok() && !turns.jobs.empty()) {
      handoff->TakeNextTurns(std::move(turns.jobs), turns.lease_until);
    }
    return recorded;
  }

  // Tells the work listener (if any) that work is due.
  void NotifyWorkDue() {
    std::function<void()> listener;
    {
      std::lock_guard lock(listener_mu_);
      listener = listener_;
    }
    if (listener) listener();
  }

  std::shared_ptr<DeliveryHandoff> CurrentHandoff() {
    std::lock_guard lock(listener_mu_);
    return handoff_;
  }

  // Runs every queued write, tells its callers, and stops the writer threads. The first thing
  // a backend's destructor does; the store takes no writes after it.
  void StopWriter() { writer_.reset(); }

  UnixMillis Now() const { return clock_.Now(); }

  // Runs `fn(Connection&)` on a pooled read connection.
  template <class F>
  auto Read(F fn) -> decltype(fn(std::declval<Connection&>())) {
    Result<typename Pool::Lease> lease = reads_.Acquire();
    if (!lease.ok()) return lease.error();
    return fn(**lease);
  }

  // Runs `fn(Context&)` on a writer thread and waits for its commit.
  template <class R, class F>
  R Write(F fn) {
    return writer_->template Run<R>(std::function<R(Context&)>(std::move(fn)));
  }

  // Write, appending `audit` (if any) in the same job once `change` has succeeded: an entry
  // that cannot be written fails the job, whose savepoint then undoes the change with it.
  template <class R, class F>
  R WriteAudited(const AuditEntry* audit, F change) {
    return Write<R>([&](Context& c) -> R {
      R changed = change(c);
      if (!changed.ok() || audit == nullptr) return changed;
      AuditEntry entry = *audit;
      entry.at = Now();
      CompleteAuditEntry(entry, changed);
      if (Status s = Ops::AppendAudit(c.db(), entry); !s.ok()) return s.error();
      return changed;
    });
  }

  // WriteAudited of a change to the stored catalog, which moves the catalog's version with it.
  template <class R, class F>
  R WriteCatalogChange(const AuditEntry* audit, F change) {
    return WriteAudited<R>(audit, [&](Context& c) -> R {
      R changed = change(c);
      if (!changed.ok()) return changed;
      if (Status s = Ops::BumpCatalogVersion(c.db()); !s.ok()) return s.error();
      return changed;
    });
  }

 private:
  const Clock& clock_;
  Pool reads_;
  ApiKeyCache key_cache_;
  std::mutex listener_mu_;
  std::function<void()> listener_;            // guarded by listener_mu_
  std::shared_ptr<DeliveryHandoff> handoff_;  // guarded by listener_mu_
  // The deliveries handed off by the requests of the batches being completed, and their answers.
  HandedOffCollector handed_off_;
  // Last member: destroyed first, so queued writes finish while the pool and listener live.
  std::unique_ptr<GroupCommitWriter<Session>> writer_;
};

}  // namespace webhookd::store_common
