// The PostgreSQL store's operations as free functions over a connection. Reads run on a pooled
// connection in autocommit, writes on a writer thread inside a job's savepoint (WriteContext);
// the PostgresStore decides which. `now` is the store clock's time, read once per operation.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/model.hpp"
#include "core/result.hpp"
#include "store/postgres/connection.hpp"
#include "store/postgres/writer.hpp"
#include "store/store.hpp"

namespace webhookd::postgres::ops {

inline constexpr int kMinPageSize = 1;
inline constexpr int kMaxPageSize = 250;
inline constexpr UnixMillis kIdempotencyWindowMs = 24LL * 60 * 60 * 1000;

// ---- config_ops.cpp (configurations and API keys) ----
Result<WebhookConfig> CreateConfig(Connection& db, const WebhookConfig& config, UnixMillis now);
Result<WebhookConfig> GetConfig(Connection& db, std::int64_t id, OrgScope scope);
Result<Page<WebhookConfig>> ListConfigs(Connection& db, const ConfigFilter& filter, OrgScope scope);
Result<WebhookConfig> UpdateConfig(Connection& db, const WebhookConfig& config, OrgScope scope,
                                   UnixMillis now);
Status DeleteConfig(Connection& db, std::int64_t id, OrgScope scope, UnixMillis now);

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
// Leases are taken in `owner`'s name (the node id).
Result<std::vector<DeliveryJob>> ClaimDue(Connection& db, UnixMillis due_by, int limit,
                                          UnixMillis lease_until, const std::string& owner,
                                          UnixMillis now);
Result<std::optional<UnixMillis>> NextDueAt(Connection& db);
Result<std::int64_t> ReleaseExpiredLeases(WriteContext& context, UnixMillis due_at, UnixMillis now);
Status RecordAttempts(WriteContext& context, const std::vector<AttemptOutcome>& outcomes,
                      UnixMillis now);
Result<Delivery> RetryDelivery(WriteContext& context, const std::string& id, OrgScope scope,
                               UnixMillis now);
Result<std::int64_t> RecoverConfig(WriteContext& context, std::int64_t config_id, UnixMillis since,
                                   OrgScope scope, UnixMillis now);
Result<DeliveryCounts> CountDeliveries(Connection& db);

}  // namespace webhookd::postgres::ops
