// The SQLite store's operations over a connection, as static functions that
// store_common::GroupCommitStore calls by name. Reads run on a pooled read connection, writes on
// the writer thread inside a job's savepoint (WriteContext). `now` is the store clock's time,
// read once per operation.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/model.hpp"
#include "core/result.hpp"
#include "store/common/ingest.hpp"
#include "store/common/next_turns.hpp"
#include "store/sqlite/connection.hpp"
#include "store/sqlite/fan_out_memo.hpp"
#include "store/sqlite/writer.hpp"
#include "store/store.hpp"

namespace webhookd::sqlite {

struct Operations {
  static Status Ping(Connection& db);

  // ---- config_ops.cpp ----
  static Result<WebhookConfig> CreateConfig(Connection& db, const WebhookConfig& config,
                                            UnixMillis now);
  static Result<WebhookConfig> GetConfig(Connection& db, std::int64_t id, OrgScope scope);
  static Result<Page<WebhookConfig>> ListConfigs(Connection& db, const ConfigFilter& filter,
                                                 OrgScope scope);
  static Result<WebhookConfig> UpdateConfig(Connection& db, const WebhookConfig& config,
                                            OrgScope scope, UnixMillis now);
  // The organization's configurations that are not deleted. Holds off concurrent creates in the
  // organization until the transaction ends (SQLite: the one writer; PostgreSQL: a lock).
  static Result<std::int64_t> LockAndCountLiveConfigs(Connection& db, std::int64_t organization_id);
  static Status DeleteConfig(Connection& db, std::int64_t id, OrgScope scope, UnixMillis now);

  // ---- api_key_ops.cpp ----
  static Result<ApiKey> CreateApiKey(Connection& db, const ApiKey& key, UnixMillis now);
  static Result<ApiKey> FindApiKeyByHash(Connection& db, const std::string& hash);
  static Result<std::vector<ApiKey>> ListApiKeys(Connection& db, OrgScope scope);
  static Status RevokeApiKey(Connection& db, std::int64_t id, OrgScope scope, UnixMillis now);
  static Result<std::int64_t> CountApiKeys(Connection& db);
  // Whether `id` is the only live admin key; on PostgreSQL, after locking the admin keys until
  // the transaction ends, so that a concurrent revocation sees this one's outcome.
  static Result<bool> LockAndCheckLastAdminKey(Connection& db, std::int64_t id);

  // ---- event_type_ops.cpp ----
  static Result<std::vector<StoredEventType>> ListEventTypes(Connection& db);
  static Result<StoredEventType> CreateEventType(Connection& db, const StoredEventType& type,
                                                 UnixMillis now);
  static Result<StoredEventType> AddEventTypeVersion(Connection& db, const StoredEventType& version,
                                                     UnixMillis now);
  static Status ArchiveEventType(Connection& db, int id, UnixMillis now);
  static Result<std::int64_t> CatalogVersion(Connection& db);
  // Moves the catalog's version on, in the transaction of the change to the catalog.
  static Status BumpCatalogVersion(Connection& db);

  // ---- event_ops.cpp ----
  // Fans out from `fan_outs` when it has the pair, else reads (and remembers) the configurations.
  static Result<IngestedEvent> IngestEvent(WriteContext& context, const NewEvent& event,
                                           DeliveryHandoff* handoff,
                                           store_common::DeliveryBudget& budget, UnixMillis now,
                                           FanOutMemo& fan_outs);
  static Result<Event> GetEvent(Connection& db, const std::string& id, OrgScope scope);
  // Every delivery of the event, whatever its organization (the caller checked the scope).
  static Result<std::vector<Delivery>> DeliveriesOf(Connection& db, const std::string& event_id);
  static Result<std::int64_t> PurgeBefore(Connection& db, UnixMillis cutoff, int max_events,
                                          RetentionScope scope);

  // ---- protection_ops.cpp (payload retention, organization settings, audit log) ----
  static Result<std::int64_t> ErasePayloadsBefore(Connection& db, UnixMillis cutoff, int max_events,
                                                  RetentionScope scope, UnixMillis now);
  static Result<OrganizationSettings> GetOrganizationSettings(Connection& db,
                                                              std::int64_t organization_id);
  static Result<OrganizationSettings> PutOrganizationSettings(Connection& db,
                                                              const OrganizationSettings& settings,
                                                              UnixMillis now);
  static Result<std::vector<OrganizationSettings>> ListOrganizationOverrides(Connection& db);
  static Status AppendAudit(Connection& db, const AuditEntry& entry);
  static Result<Page<AuditEntry>> ListAudit(Connection& db, const AuditFilter& filter,
                                            OrgScope scope);
  static Result<std::int64_t> PurgeAuditBefore(Connection& db, UnixMillis cutoff, int max_entries);

  // ---- delivery_ops.cpp ----
  static Result<Delivery> GetDelivery(Connection& db, const std::string& id, OrgScope scope);
  static Result<Page<Delivery>> ListDeliveries(Connection& db, const DeliveryFilter& filter,
                                               OrgScope scope);
  // Oldest first, whatever the delivery's organization (the caller checked the scope).
  static Result<std::vector<Attempt>> AttemptsOf(Connection& db, const std::string& delivery_id);
  // One node owns the database, so leases are not recorded under an owner's name.
  static Result<std::vector<DeliveryJob>> ClaimDue(Connection& db, UnixMillis due_by, int limit,
                                                   UnixMillis lease_until,
                                                   const std::vector<std::int64_t>& skip_config_ids,
                                                   UnixMillis now);
  static Result<std::optional<UnixMillis>> NextDueAt(Connection& db);
  // A configuration that no longer delivers in order: its deliveries waiting for their turn are
  // due now. Returns how many.
  static Result<std::int64_t> EndWaitingForTurns(Connection& db, std::int64_t config_id,
                                                 UnixMillis now);
  static Result<std::int64_t> ReleaseExpiredLeases(WriteContext& context, UnixMillis lease_cutoff,
                                                   UnixMillis now);
  // A FIFO turn it ends starts the next: handed to `turns.handoff` if it takes it, otherwise
  // due now. `fan_outs`, when given, spares the UPDATE of configurations it knows are not
  // failing.
  static Status RecordAttempts(WriteContext& context, const std::vector<AttemptOutcome>& outcomes,
                               UnixMillis now, store_common::NextTurns& turns,
                               const FanOutMemo* fan_outs = nullptr);
  // Makes the delivery kPending, due now, as a manual retry, unless it is kDelivering: then
  // false and nothing changes.
  static Result<bool> RequeueForRetry(Connection& db, const std::string& id, UnixMillis now);
  // Whether the configuration exists (deleted or not) in `scope`.
  static Result<bool> ConfigInScope(Connection& db, std::int64_t config_id, OrgScope scope);
  // Makes every kFailed delivery of the configuration created at or after `since` kPending,
  // due now, as a manual retry. Returns how many.
  static Result<std::int64_t> RequeueFailed(Connection& db, std::int64_t config_id,
                                            UnixMillis since, UnixMillis now);
  static Result<DeliveryCounts> CountDeliveries(Connection& db);
  static Result<DeliveryBacklog> CountBacklog(Connection& db);
  static Result<DeliveryStats> Stats(Connection& db, const StatsQuery& query, OrgScope scope);
};

}  // namespace webhookd::sqlite
