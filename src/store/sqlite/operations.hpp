// The SQLite store's operations as free functions over a connection. Reads run on a pooled
// read connection, writes on the writer thread inside a job's savepoint (WriteContext); the
// SqliteStore decides which. `now` is the store clock's time, read once per operation.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/model.hpp"
#include "core/result.hpp"
#include "store/sqlite/connection.hpp"
#include "store/sqlite/writer.hpp"
#include "store/store.hpp"

namespace webhookd::sqlite::ops {

inline constexpr int kMinPageSize = 1;
inline constexpr int kMaxPageSize = 250;
inline constexpr UnixMillis kIdempotencyWindowMs = 24LL * 60 * 60 * 1000;

// ---- config_ops.cpp ----
Result<WebhookConfig> CreateConfig(Connection& db, const WebhookConfig& config, UnixMillis now);
Result<WebhookConfig> GetConfig(Connection& db, std::int64_t id, OrgScope scope);
Result<Page<WebhookConfig>> ListConfigs(Connection& db, const ConfigFilter& filter, OrgScope scope);
Result<WebhookConfig> UpdateConfig(Connection& db, const WebhookConfig& config, OrgScope scope,
                                   UnixMillis now);
Status DeleteConfig(Connection& db, std::int64_t id, OrgScope scope, UnixMillis now);

// ---- api_key_ops.cpp ----
Result<ApiKey> CreateApiKey(Connection& db, const ApiKey& key, UnixMillis now);
Result<ApiKey> FindApiKeyByHash(Connection& db, const std::string& hash);
Result<std::vector<ApiKey>> ListApiKeys(Connection& db, OrgScope scope);
Status RevokeApiKey(Connection& db, std::int64_t id, OrgScope scope, UnixMillis now);
Result<std::int64_t> CountApiKeys(Connection& db);

// ---- event_ops.cpp ----
Result<IngestedEvent> IngestEvent(WriteContext& context, const NewEvent& event, UnixMillis now);
Result<Event> GetEvent(Connection& db, const std::string& id, OrgScope scope);
Result<std::vector<Delivery>> DeliveriesOfEvent(Connection& db, const std::string& event_id,
                                                OrgScope scope);

// ---- delivery_ops.cpp ----
Result<Delivery> GetDelivery(Connection& db, const std::string& id, OrgScope scope);
Result<Page<Delivery>> ListDeliveries(Connection& db, const DeliveryFilter& filter, OrgScope scope);
Result<std::vector<Attempt>> ListAttempts(Connection& db, const std::string& delivery_id,
                                          OrgScope scope);
Result<std::vector<DeliveryJob>> ClaimDue(Connection& db, UnixMillis due_by, int limit,
                                          UnixMillis lease_until, UnixMillis now);
Result<std::optional<UnixMillis>> NextDueAt(Connection& db);
Result<std::int64_t> ReleaseExpiredLeases(WriteContext& context, UnixMillis lease_cutoff, UnixMillis now);
Status RecordAttempts(WriteContext& context, const std::vector<AttemptOutcome>& outcomes,
                      UnixMillis now);
Result<Delivery> RetryDelivery(WriteContext& context, const std::string& id, OrgScope scope,
                               UnixMillis now);
Result<std::int64_t> RecoverConfig(WriteContext& context, std::int64_t config_id, UnixMillis since,
                                   OrgScope scope, UnixMillis now);
Result<DeliveryCounts> CountDeliveries(Connection& db);

}  // namespace webhookd::sqlite::ops
