// Every SQL statement the SQLite store runs, by name. Handlers bind parameters; they never
// assemble SQL. Column lists follow store/common/row_mapping.hpp, which reads them by position.
#pragma once

#include <string_view>

#include "store/common/columns.hpp"

namespace webhookd::sqlite {

// ---- Connections, transactions, migrations ----
inline constexpr std::string_view kEnableWal = "PRAGMA journal_mode = WAL";
// FULL: a commit is on disk (WAL fsync) before the store reports success, and the writer's
// buffered WAL writes (wal_write_buffer.hpp) reach the file at that sync.
inline constexpr std::string_view kWriterSynchronous = "PRAGMA synchronous = FULL";
inline constexpr std::string_view kWriterPragmas =
    "PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY;";
inline constexpr std::string_view kReaderPragmas =
    "PRAGMA query_only = ON; PRAGMA foreign_keys = ON;";
inline constexpr std::string_view kPing = "SELECT 1";

inline constexpr std::string_view kBeginImmediate = "BEGIN IMMEDIATE";
inline constexpr std::string_view kCommit = "COMMIT";
inline constexpr std::string_view kRollback = "ROLLBACK";
inline constexpr std::string_view kSavepoint = "SAVEPOINT job";
inline constexpr std::string_view kReleaseSavepoint = "RELEASE job";
inline constexpr std::string_view kRollbackToSavepoint = "ROLLBACK TO job";

inline constexpr std::string_view kCreateMigrationsTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)";
inline constexpr std::string_view kMaxMigrationVersion =
    "SELECT COALESCE(MAX(version), 0) FROM schema_migrations";
inline constexpr std::string_view kForeignKeysOff = "PRAGMA foreign_keys = OFF";
inline constexpr std::string_view kForeignKeyCheck = "PRAGMA foreign_key_check";
inline constexpr std::string_view kInsertMigration =
    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)";

// ---- Event types (the stored catalog) ----
// Columns as store_common::ReadStoredEventType reads them. A few rows per type: read whole.
inline constexpr std::string_view kListEventTypes =
    "SELECT t.id, t.name, t.is_inference, t.archived_at, v.version, v.description, v.schema, "
    "v.sample, v.sample_headers, v.created_at FROM event_types t "
    "JOIN event_type_versions v ON v.type_id = t.id ORDER BY t.id, v.version";
// The id a new type gets when it names none: above every stored one and the built-in 1..12.
inline constexpr std::string_view kNextEventTypeId =
    "SELECT MAX(COALESCE(MAX(id), 0), 12) + 1 FROM event_types";
inline constexpr std::string_view kInsertEventType =
    "INSERT INTO event_types (id, name, is_inference, archived_at, created_at) "
    "VALUES (?1, ?2, ?3, 0, ?4)";
// A built-in type gets its row with its first stored version.
inline constexpr std::string_view kInsertEventTypeIfMissing =
    "INSERT INTO event_types (id, name, is_inference, archived_at, created_at) "
    "VALUES (?1, ?2, ?3, 0, ?4) ON CONFLICT (id) DO NOTHING";
inline constexpr std::string_view kInsertEventTypeVersion =
    "INSERT INTO event_type_versions (type_id, version, description, schema, sample, "
    "sample_headers, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
inline constexpr std::string_view kArchiveEventType =
    "UPDATE event_types SET archived_at = ?2 WHERE id = ?1 AND archived_at = 0";
// One row: what a node polls to learn whether the stored catalog moved.
inline constexpr std::string_view kCatalogVersion =
    "SELECT version FROM catalog_version WHERE id = 1";
inline constexpr std::string_view kBumpCatalogVersion =
    "UPDATE catalog_version SET version = version + 1 WHERE id = 1";

// ---- Webhook configurations ----
// Parameters ?1..?22 follow WEBHOOKD_CONFIG_COLUMNS; ?1 (id) is assigned by SQLite.
inline constexpr std::string_view kInsertConfig =
    "INSERT INTO webhook_configs (organization_id, name, url, event_type_id, attributes_json, "
    "headers_json, active, send_organization_code, version, secret, previous_secret, "
    "previous_secret_expires_at, is_deleted, created_at, updated_at, disabled_reason, "
    "timeout_ms, retry_schedule_json, failing_since, rate_limit, ordering) "
    "VALUES (?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, "
    "?20, ?21, ?22)";
// Same parameters, ?23 the scope. Keeps organization_id, created_at and is_deleted;
// reactivation (active 0 -> 1) clears failing_since and disabled_reason.
inline constexpr std::string_view kUpdateConfig =
    "UPDATE webhook_configs SET name = ?3, url = ?4, event_type_id = ?5, attributes_json = ?6, "
    "headers_json = ?7, active = ?8, send_organization_code = ?9, version = ?10, secret = ?11, "
    "previous_secret = ?12, previous_secret_expires_at = ?13, updated_at = ?16, "
    "disabled_reason = CASE WHEN active = 0 AND ?8 = 1 THEN '' ELSE ?17 END, "
    "timeout_ms = ?18, retry_schedule_json = ?19, "
    "failing_since = CASE WHEN active = 0 AND ?8 = 1 THEN 0 ELSE ?20 END, "
    "rate_limit = ?21, ordering = ?22 "
    "WHERE id = ?1 AND is_deleted = 0 AND (?23 IS NULL OR organization_id = ?23)";
inline constexpr std::string_view kGetConfig =
    "SELECT " WEBHOOKD_CONFIG_COLUMNS("") " FROM webhook_configs "
    "WHERE id = ?1 AND (?2 IS NULL OR organization_id = ?2)";
// ?1 after_id, ?2 organization, ?3 event type, ?4 active, ?5 include deleted, ?6 limit.
// ?7 searched text ('': any): lower() folds ASCII letters only, as PostgreSQL's does under
// COLLATE "C". Configurations are few per organization (a tenant limit), so this walks them.
inline constexpr std::string_view kListConfigs =
    "SELECT " WEBHOOKD_CONFIG_COLUMNS("") " FROM webhook_configs "
    "WHERE id > ?1 AND (?2 IS NULL OR organization_id = ?2) "
    "AND (?3 IS NULL OR event_type_id = ?3) AND (?4 IS NULL OR active = ?4) "
    "AND (?5 = 1 OR is_deleted = 0) AND (?7 = '' OR instr(lower(name), lower(?7)) > 0 "
    "OR instr(lower(url), lower(?7)) > 0) ORDER BY id LIMIT ?6";
// Served by webhook_configs_by_org; an organization has at most --max-configs-per-org rows.
inline constexpr std::string_view kCountLiveConfigs =
    "SELECT COUNT(*) FROM webhook_configs WHERE organization_id = ?1 AND is_deleted = 0";
inline constexpr std::string_view kDeleteConfig =
    "UPDATE webhook_configs SET is_deleted = 1, active = 0, updated_at = ?3 "
    "WHERE id = ?1 AND is_deleted = 0 AND (?2 IS NULL OR organization_id = ?2)";
inline constexpr std::string_view kFanOutConfigs =
    "SELECT " WEBHOOKD_CONFIG_COLUMNS("") " FROM webhook_configs WHERE organization_id = ?1 "
    "AND event_type_id = ?2 AND active = 1 AND is_deleted = 0 ORDER BY id";
inline constexpr std::string_view kConfigInScope =
    "SELECT 1 FROM webhook_configs WHERE id = ?1 AND (?2 IS NULL OR organization_id = ?2)";
inline constexpr std::string_view kMarkConfigHealthy =
    "UPDATE webhook_configs SET failing_since = 0 WHERE id = ?1 AND failing_since <> 0";
inline constexpr std::string_view kMarkConfigFailing =
    "UPDATE webhook_configs SET failing_since = ?2 WHERE id = ?1 AND failing_since = 0";
inline constexpr std::string_view kDisableConfig =
    "UPDATE webhook_configs SET active = 0, disabled_reason = ?2, updated_at = ?3 WHERE id = ?1";

// ---- API keys ----
inline constexpr std::string_view kInsertApiKey =
    "INSERT INTO api_keys (organization_id, name, hash, prefix, created_at, revoked_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
inline constexpr std::string_view kFindApiKeyByHash =
    "SELECT " WEBHOOKD_API_KEY_COLUMNS " FROM api_keys WHERE hash = ?1 AND revoked_at = 0";
inline constexpr std::string_view kListApiKeys =
    "SELECT " WEBHOOKD_API_KEY_COLUMNS
    " FROM api_keys "
    "WHERE revoked_at = 0 AND (?1 IS NULL OR organization_id = ?1) ORDER BY id";
inline constexpr std::string_view kRevokeApiKey =
    "UPDATE api_keys SET revoked_at = ?3 "
    "WHERE id = ?1 AND revoked_at = 0 AND (?2 IS NULL OR organization_id = ?2)";
inline constexpr std::string_view kCountApiKeys = "SELECT COUNT(*) FROM api_keys";
// 1 when key ?1 is the only live admin key (no organization): revoking it would leave none.
inline constexpr std::string_view kIsLastAdminKey =
    "SELECT EXISTS (SELECT 1 FROM api_keys WHERE id = ?1 AND revoked_at = 0 "
    "AND organization_id IS NULL) AND NOT EXISTS (SELECT 1 FROM api_keys WHERE id <> ?1 "
    "AND revoked_at = 0 AND organization_id IS NULL)";

// ---- Events ----
inline constexpr std::string_view kInsertEvent =
    "INSERT INTO events (id, organization_id, event_type_id, payload, idempotency_key, "
    "created_at, event_type_version) VALUES (?1, ?2, ?3, ?4, NULLIF(?5, ''), ?6, ?7)";
// ?3: the oldest created_at that still counts (now - 24 h).
inline constexpr std::string_view kFindIdempotentEvent =
    "SELECT " WEBHOOKD_EVENT_COLUMNS("") " FROM events "
    "WHERE organization_id = ?1 AND idempotency_key = ?2 AND created_at >= ?3 "
    "ORDER BY created_at DESC LIMIT 1";
inline constexpr std::string_view kGetEvent =
    "SELECT " WEBHOOKD_EVENT_COLUMNS("") " FROM events "
    "WHERE id = ?1 AND (?2 IS NULL OR organization_id = ?2)";

// ---- Deliveries ----
// ?5 next_attempt_at, ?6 created_at = updated_at.
inline constexpr std::string_view kInsertDelivery =
    "INSERT INTO deliveries (id, event_id, config_id, organization_id, status, attempt_count, "
    "next_attempt_at, last_status_code, last_error, manual_pending, lease_until, created_at, "
    "updated_at) VALUES (?1, ?2, ?3, ?4, ?7, 0, ?5, 0, '', 0, ?8, ?6, ?6)";
// The same for a pending delivery of a FIFO configuration: it waits for its turn
// (kWaitingForTurn) if an earlier one of its configuration is open.
inline constexpr std::string_view kInsertFifoDelivery =
    "INSERT INTO deliveries (id, event_id, config_id, organization_id, status, attempt_count, "
    "next_attempt_at, last_status_code, last_error, manual_pending, lease_until, created_at, "
    "updated_at) VALUES (?1, ?2, ?3, ?4, ?7, 0, CASE WHEN EXISTS (SELECT 1 FROM deliveries o "
    "WHERE o.status IN ('pending', 'delivering') AND o.config_id = ?3) "
    "THEN " WEBHOOKD_WAITING_FOR_TURN " ELSE ?5 END, 0, '', 0, ?8, ?6, ?6)";
inline constexpr std::string_view kDeliveriesOfEvent =
    "SELECT " WEBHOOKD_DELIVERY_COLUMNS("") " FROM deliveries WHERE event_id = ?1 ORDER BY id";
inline constexpr std::string_view kGetDelivery =
    "SELECT " WEBHOOKD_DELIVERY_COLUMNS("") " FROM deliveries "
    "WHERE id = ?1 AND (?2 IS NULL OR organization_id = ?2)";
// Three variants of one listing so that SQLite can use the event or configuration index:
// ?1 ids above, ?2 organization, ?3 event, ?4 configuration, ?5 status, ?6 created since,
// ?7 limit, ?8 ids below, ?9 created before, ?10 event type. ?1 and ?8 bound the walk
// (store_common::IdRangeOf); the event's type is read through the events' primary key.
#define WEBHOOKD_LIST_DELIVERIES(EVENT, CONFIG) \
  "SELECT " WEBHOOKD_DELIVERY_COLUMNS("") " FROM deliveries "                                  \
  "WHERE id > ?1 AND id < ?8 AND (?2 IS NULL OR organization_id = ?2) AND " EVENT " AND " CONFIG \
  " AND (?5 IS NULL OR status = ?5) AND (?6 IS NULL OR created_at >= ?6) "                     \
  "AND (?9 IS NULL OR created_at < ?9) AND (?10 IS NULL OR "                                   \
  "(SELECT e.event_type_id FROM events e WHERE e.id = deliveries.event_id) = ?10) "            \
  "ORDER BY id LIMIT ?7"
inline constexpr std::string_view kListDeliveries =
    WEBHOOKD_LIST_DELIVERIES("(?3 IS NULL OR event_id = ?3)", "(?4 IS NULL OR config_id = ?4)");
inline constexpr std::string_view kListDeliveriesOfEvent =
    WEBHOOKD_LIST_DELIVERIES("event_id = ?3", "(?4 IS NULL OR config_id = ?4)");
inline constexpr std::string_view kListDeliveriesOfConfig =
    WEBHOOKD_LIST_DELIVERIES("(?3 IS NULL OR event_id = ?3)", "config_id = ?4");
// With ?5 pending or delivering, a range of deliveries_open (the IN term lets SQLite use it);
// with failed, of deliveries_failed. Across configurations, the status's entries sorted by id.
#define WEBHOOKD_OPEN_STATUS " AND status IN ('pending', 'delivering') AND status = ?5"
inline constexpr std::string_view kListOpenDeliveries = WEBHOOKD_LIST_DELIVERIES(
    "(?3 IS NULL OR event_id = ?3)", "(?4 IS NULL OR config_id = ?4)" WEBHOOKD_OPEN_STATUS);
inline constexpr std::string_view kListOpenDeliveriesOfConfig = WEBHOOKD_LIST_DELIVERIES(
    "(?3 IS NULL OR event_id = ?3)", "config_id = ?4" WEBHOOKD_OPEN_STATUS);
#undef WEBHOOKD_OPEN_STATUS
inline constexpr std::string_view kListFailedDeliveries = WEBHOOKD_LIST_DELIVERIES(
    "(?3 IS NULL OR event_id = ?3)", "(?4 IS NULL OR config_id = ?4) AND status = 'failed'");
inline constexpr std::string_view kListFailedDeliveriesOfConfig = WEBHOOKD_LIST_DELIVERIES(
    "(?3 IS NULL OR event_id = ?3)", "config_id = ?4 AND status = 'failed'");

// Due deliveries with their event and configuration: delivery columns, then event columns,
// then configuration columns. Of a FIFO configuration, only its oldest open delivery.
// ?1 due by, ?2 limit, ?3 JSON array of configuration ids to leave pending.
inline constexpr std::string_view kSelectDue =
    "SELECT " WEBHOOKD_DELIVERY_COLUMNS("d.") ", " WEBHOOKD_EVENT_COLUMNS("e.") ", "
    WEBHOOKD_CONFIG_COLUMNS("c.") " FROM deliveries d "
    "JOIN events e ON e.id = d.event_id JOIN webhook_configs c ON c.id = d.config_id "
    "WHERE d.status = 'pending' AND d.next_attempt_at <= ?1 "
    "AND d.config_id NOT IN (SELECT value FROM json_each(?3)) "
    "AND (c.ordering <> 'fifo' OR NOT EXISTS (SELECT 1 FROM deliveries o "
    "WHERE o.config_id = d.config_id AND o.status IN ('pending', 'delivering') AND o.id < d.id)) "
    "ORDER BY d.next_attempt_at, d.id LIMIT ?2";
// The same claim while some configurations are held back (?3 not empty). Walking the due index
// in due order would step over every due delivery of those configurations (one that never
// answers gathers them all: 40 ms a claim behind 100 000 of them), so this one visits the
// configurations that have pending deliveries instead, one seek each (a recursive step over
// deliveries_due_by_config), skips the held-back ones without reading their rows, and takes
// from each of the others its first ?2 due deliveries and, if it is FIFO, its oldest pending
// one (from deliveries_open), whose turn it waits for even when newer ones fall due before it;
// then sorts those. The first ORDER BY names the whole key of the index it means, so that
// no other index gives that order; the IN term lets the oldest pending one be read from
// deliveries_open rather than by walking the configuration's every delivery.
// The configurations with pending deliveries, one seek each in deliveries_due_by_config (and a
// last row of NULL).
#define WEBHOOKD_PENDING_CONFIGS                                                            \
  "WITH RECURSIVE pending_configs(id) AS ("                                                 \
  "SELECT (SELECT config_id FROM deliveries WHERE status = 'pending' "                      \
  "ORDER BY config_id, next_attempt_at, id LIMIT 1) UNION ALL "                             \
  "SELECT (SELECT config_id FROM deliveries WHERE status = 'pending' AND config_id > p.id " \
  "ORDER BY config_id, next_attempt_at, id LIMIT 1) "                                       \
  "FROM pending_configs p WHERE p.id IS NOT NULL) "
inline constexpr std::string_view kSelectDueSkippingConfigs =
    WEBHOOKD_PENDING_CONFIGS
    "SELECT " WEBHOOKD_DELIVERY_COLUMNS("d.") ", " WEBHOOKD_EVENT_COLUMNS("e.") ", "
    WEBHOOKD_CONFIG_COLUMNS("c.") " FROM pending_configs p "
    "JOIN deliveries d ON d.id IN (SELECT id FROM (SELECT x.id FROM deliveries x "
    "WHERE x.status = 'pending' AND x.config_id = p.id AND x.next_attempt_at <= ?1 "
    "ORDER BY x.next_attempt_at, x.id LIMIT ?2) UNION ALL "
    "SELECT id FROM (SELECT o.id FROM deliveries o WHERE o.status IN ('pending', 'delivering') "
    "AND o.status = 'pending' AND o.config_id = p.id AND EXISTS (SELECT 1 FROM webhook_configs f "
    "WHERE f.id = p.id AND f.ordering = 'fifo') ORDER BY o.id LIMIT 1)) "
    "JOIN events e ON e.id = d.event_id JOIN webhook_configs c ON c.id = d.config_id "
    "WHERE p.id IS NOT NULL AND p.id NOT IN (SELECT value FROM json_each(?3)) "
    "AND d.next_attempt_at <= ?1 "
    "AND (c.ordering <> 'fifo' OR NOT EXISTS (SELECT 1 FROM deliveries o "
    "WHERE o.config_id = d.config_id AND o.status IN ('pending', 'delivering') AND o.id < d.id)) "
    "ORDER BY d.next_attempt_at, d.id LIMIT ?2";
inline constexpr std::string_view kLeaseDelivery =
    "UPDATE deliveries SET status = 'delivering', lease_until = ?2, updated_at = ?3 WHERE id = ?1";
// A deleted or inactive configuration's line, failed at once: ?1 the configuration, ?2 the reason,
// ?3 due by, ?4 now. Every due delivery, and the FIFO ones waiting for their turn (each would
// fall due as the one before it failed). One seek range in deliveries_due_by_config.
inline constexpr std::string_view kFailUndeliverableLine =
    "UPDATE deliveries SET status = 'failed', last_error = ?2, manual_pending = 0, "
    "updated_at = ?4 WHERE status = 'pending' AND config_id = ?1 "
    "AND (next_attempt_at <= ?3 OR next_attempt_at = " WEBHOOKD_WAITING_FOR_TURN ")";
inline constexpr std::string_view kNextDueAt =
    "SELECT MIN(next_attempt_at) FROM deliveries WHERE status = 'pending' "
    "AND next_attempt_at < " WEBHOOKD_WAITING_FOR_TURN;
// A FIFO configuration's next turn: its oldest pending delivery, if it waits for its turn and
// none of the configuration's is being delivered, is due now. CONFIG names the configuration;
// each term is one seek in deliveries_open.
#define WEBHOOKD_TURN_TO_START(CONFIG)                                                         \
  "SELECT (SELECT MIN(o.id) FROM deliveries o WHERE o.status IN ('pending', 'delivering') "    \
  "AND o.status = 'pending' AND o.config_id = " CONFIG                                         \
  ") WHERE NOT EXISTS (SELECT 1 "                                                              \
  "FROM deliveries r WHERE r.status IN ('pending', 'delivering') AND r.status = 'delivering' " \
  "AND r.config_id = " CONFIG ")"
#define WEBHOOKD_START_TURN(NOW)                                       \
  "UPDATE deliveries SET next_attempt_at = " NOW ", updated_at = " NOW \
  " "                                                                  \
  "WHERE status = 'pending' AND next_attempt_at = " WEBHOOKD_WAITING_FOR_TURN " AND id IN "
// ?1 the configuration whose turn ended, ?2 now.
inline constexpr std::string_view kStartNextTurn =
    WEBHOOKD_START_TURN("?2") "(" WEBHOOKD_TURN_TO_START("?1") ")";
// The delivery kStartNextTurn would start (?1 the configuration), as kSelectDue reads it, for
// the dispatcher to take at once (kLeaseNextTurn).
inline constexpr std::string_view kSelectNextTurn =
    "SELECT " WEBHOOKD_DELIVERY_COLUMNS("d.") ", " WEBHOOKD_EVENT_COLUMNS("e.") ", "
    WEBHOOKD_CONFIG_COLUMNS("c.") " FROM deliveries d "
    "JOIN events e ON e.id = d.event_id JOIN webhook_configs c ON c.id = d.config_id "
    "WHERE d.id IN (" WEBHOOKD_TURN_TO_START("?1") ") AND d.status = 'pending' "
    "AND d.next_attempt_at = " WEBHOOKD_WAITING_FOR_TURN;
// ?1 the delivery kSelectNextTurn read, ?2 its lease, ?3 now: its turn starts, in flight.
inline constexpr std::string_view kLeaseNextTurn =
    "UPDATE deliveries SET status = 'delivering', lease_until = ?2, next_attempt_at = ?3, "
    "updated_at = ?3 WHERE id = ?1";
// The same for every configuration with pending deliveries (?1 now), from the lease sweep: a
// safety net, for a turn whose end did not start the next one.
inline constexpr std::string_view kStartStrandedTurns =
    WEBHOOKD_PENDING_CONFIGS WEBHOOKD_START_TURN("?1") "(SELECT (" WEBHOOKD_TURN_TO_START(
        "p.id") ") FROM pending_configs p WHERE p.id IS NOT NULL)";
#undef WEBHOOKD_START_TURN
#undef WEBHOOKD_TURN_TO_START
#undef WEBHOOKD_PENDING_CONFIGS
// ?1 a configuration that no longer delivers in order, ?2 now: none of its deliveries waits.
inline constexpr std::string_view kEndWaitingForTurns =
    "UPDATE deliveries SET next_attempt_at = ?2, updated_at = ?2 WHERE status = 'pending' "
    "AND config_id = ?1 AND next_attempt_at = " WEBHOOKD_WAITING_FOR_TURN;
// ?1 leases ending before this are released, ?2 the clock's now (they become due then). The
// IN term lets SQLite read the delivering ones from the partial index deliveries_open.
inline constexpr std::string_view kReleaseExpiredLeases =
    "UPDATE deliveries SET status = 'pending', next_attempt_at = ?2, lease_until = 0, "
    "updated_at = ?2 WHERE status IN ('pending', 'delivering') AND status = 'delivering' "
    "AND lease_until < ?1";
// ?2 new status, ?3 status code, ?4 error, ?5 next_attempt_at (kept unless pending), ?6 now.
inline constexpr std::string_view kRecordDeliveryOutcome =
    "UPDATE deliveries SET status = ?2, attempt_count = attempt_count + 1, "
    "last_status_code = ?3, last_error = ?4, "
    "next_attempt_at = CASE WHEN ?2 = 'pending' THEN ?5 ELSE next_attempt_at END, "
    "manual_pending = 0, lease_until = 0, updated_at = ?6 WHERE id = ?1";
inline constexpr std::string_view kRetryDelivery =
    "UPDATE deliveries SET status = 'pending', next_attempt_at = ?2, manual_pending = 1, "
    "lease_until = 0, updated_at = ?2 WHERE id = ?1 AND status <> 'delivering'";
// ?1 configuration, ?2 since, ?3 now. A range of deliveries_failed; each one's event is looked
// up by its id (an IN list would read every event to build the list first).
inline constexpr std::string_view kRecoverConfig =
    "UPDATE deliveries SET status = 'pending', next_attempt_at = ?3, manual_pending = 1, "
    "updated_at = ?3 WHERE config_id = ?1 AND status = 'failed' AND created_at >= ?2 "
    "AND EXISTS (SELECT 1 FROM events e WHERE e.id = deliveries.event_id "
    "AND e.payload_erased_at = 0)";
inline constexpr std::string_view kCountDeliveries =
    "SELECT status, COUNT(*) FROM deliveries GROUP BY status";
// From the partial indexes deliveries_open and deliveries_failed only: never a scan of the
// deliveries, whose succeeded ones are most of the table.
inline constexpr std::string_view kCountBacklog =
    "SELECT status, COUNT(*) FROM deliveries WHERE status IN ('pending', 'delivering') "
    "GROUP BY status UNION ALL SELECT 'failed', COUNT(*) FROM deliveries WHERE status = 'failed'";

// ---- Statistics ----
// The window's deliveries are a range of the primary key: ?1 the window's lowest id
// (SortableIdLowerBound), ?2 scope, ?3 the window's start.
#define WEBHOOKD_STATS_WINDOW(D) \
  D "id >= ?1 AND (?2 IS NULL OR " D "organization_id = ?2) AND " D "created_at >= ?3"
// ?4 bucket length.
inline constexpr std::string_view kStatsBuckets =
    "SELECT (created_at - ?3) / ?4, status, COUNT(*) FROM deliveries "
    "WHERE " WEBHOOKD_STATS_WINDOW("") " GROUP BY 1, 2 ORDER BY 1";
// The window's succeeded deliveries by latency, fastest first: one pass gives every percentile
// (a query per percentile, ORDER BY latency OFFSET rank, sorted the window each time).
inline constexpr std::string_view kStatsLatencies =
    "SELECT updated_at - created_at AS latency, COUNT(*) FROM deliveries "
    "WHERE " WEBHOOKD_STATS_WINDOW(
        "") " AND status = 'succeeded' GROUP BY latency ORDER BY latency";
// ?4 how many configurations. Every row counted is a failure, so COUNT(*) = failed + retrying.
// The unary + keeps SQLite from grouping along deliveries_by_config, which reads that whole
// index, instead of the window's range of the primary key.
inline constexpr std::string_view kStatsTopFailing =
    "SELECT d.config_id, c.name, COUNT(*) FILTER (WHERE d.status = 'failed') AS failed, "
    "COUNT(*) FILTER (WHERE d.status = 'pending') AS retrying "
    "FROM deliveries d JOIN webhook_configs c ON c.id = d.config_id "
    "WHERE " WEBHOOKD_STATS_WINDOW("d.") " AND (d.status = 'failed' OR "
    "(d.status = 'pending' AND d.attempt_count > 0)) "
    "GROUP BY +d.config_id, c.name ORDER BY COUNT(*) DESC, d.config_id LIMIT ?4";
#undef WEBHOOKD_STATS_WINDOW
// ?1 scope. The IN term lets SQLite read them from the partial index deliveries_open.
inline constexpr std::string_view kStatsOpen =
    "SELECT status, COUNT(*) FROM deliveries WHERE status IN ('pending', 'delivering') "
    "AND (?1 IS NULL OR organization_id = ?1) GROUP BY status";
// ?1 scope. Configurations are few (a tenant limit caps them), so this reads their table.
inline constexpr std::string_view kStatsDisabled =
    "SELECT id, name, disabled_reason, updated_at FROM webhook_configs "
    "WHERE disabled_reason <> '' AND active = 0 AND is_deleted = 0 "
    "AND (?1 IS NULL OR organization_id = ?1) ORDER BY updated_at DESC, id LIMIT 50";

// ---- Attempts ----
inline constexpr std::string_view kInsertAttempt =
    "INSERT INTO attempts (delivery_id, attempted_at, duration_ms, request_headers_json, "
    "status_code, response_headers_json, response_body, error, manual) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
inline constexpr std::string_view kListAttempts =
    "SELECT " WEBHOOKD_ATTEMPT_COLUMNS " FROM attempts WHERE delivery_id = ?1 ORDER BY id";

// ---- Retention ----
// The first event at or after rowid ?1: its rowid and created_at (LastEventCreatedBefore).
inline constexpr std::string_view kEventFromRowid =
    "SELECT rowid, created_at FROM events WHERE rowid >= ?1 ORDER BY rowid LIMIT 1";
inline constexpr std::string_view kLastEventRowid = "SELECT COALESCE(MAX(rowid), 0) FROM events";
// Which organizations a retention batch covers (?3): that one organization, or, when NULL,
// every organization without its own period in the settings column `column`.
#define WEBHOOKD_RETENTION_SCOPE(column)                                  \
  "(e.organization_id = ?3 OR (?3 IS NULL AND NOT EXISTS (SELECT 1 FROM " \
  "organization_settings s WHERE s.organization_id = e.organization_id AND s." column " > 0)))"
#define WEBHOOKD_NONE_TO_SEND                                                    \
  "NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id AND d.status " \
  "IN ('pending', 'delivering'))"
// The events PurgeBefore removes: ?1 cutoff (created before it), ?2 at most this many, oldest
// first, ?3 the scope, none with a delivery still to be sent. Every purge statement selects
// the same ones. ?5 is LastEventCreatedBefore(?1) (retention_selection.hpp): the oldest are read
// as a range of rowids (migration 14) rather than from an index on created_at.
#define WEBHOOKD_PURGEABLE_EVENTS                                               \
  "SELECT e.id FROM events e WHERE e.rowid <= ?5 AND e.created_at < ?1 "        \
  "AND " WEBHOOKD_RETENTION_SCOPE("retention_ms") " AND " WEBHOOKD_NONE_TO_SEND \
                                                  " ORDER BY e.rowid LIMIT ?2"
inline constexpr std::string_view kPurgeAttempts =
    "DELETE FROM attempts WHERE delivery_id IN (SELECT id FROM deliveries WHERE event_id IN "
    "(" WEBHOOKD_PURGEABLE_EVENTS "))";
inline constexpr std::string_view kPurgeDeliveries =
    "DELETE FROM deliveries WHERE event_id IN (" WEBHOOKD_PURGEABLE_EVENTS ")";
inline constexpr std::string_view kPurgeEvents =
    "DELETE FROM events WHERE id IN (" WEBHOOKD_PURGEABLE_EVENTS ")";

// The events ErasePayloadsBefore erases, chosen as the purge chooses them (?1, ?2, ?3, ?5)
// among those not erased yet. The attempts first: erasing the events changes the selection.
#define WEBHOOKD_ERASABLE_EVENTS                                             \
  "SELECT e.id FROM events e WHERE e.rowid <= ?5 AND e.created_at < ?1 AND " \
  "e.payload_erased_at = 0 AND " WEBHOOKD_RETENTION_SCOPE(                   \
      "payload_retention_ms") " AND " WEBHOOKD_NONE_TO_SEND " ORDER BY e.rowid LIMIT ?2"
inline constexpr std::string_view kEraseAttemptData =
    "UPDATE attempts SET request_headers_json = '{}', response_headers_json = '{}', "
    "response_body = X'' WHERE delivery_id IN (SELECT id FROM deliveries WHERE event_id IN "
    "(" WEBHOOKD_ERASABLE_EVENTS "))";
// ?4 now.
inline constexpr std::string_view kErasePayloads =
    "UPDATE events SET payload = 'null', payload_erased_at = ?4 WHERE id IN "
    "(" WEBHOOKD_ERASABLE_EVENTS ")";

// ---- Organization settings ----
inline constexpr std::string_view kGetOrganizationSettings =
    "SELECT " WEBHOOKD_SETTINGS_COLUMNS " FROM organization_settings WHERE organization_id = ?1";
// ?1 organization, ?2 retention_ms, ?3 payload_retention_ms, ?4 now.
inline constexpr std::string_view kPutOrganizationSettings =
    "INSERT INTO organization_settings (organization_id, retention_ms, payload_retention_ms, "
    "updated_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (organization_id) DO UPDATE SET "
    "retention_ms = excluded.retention_ms, payload_retention_ms = excluded.payload_retention_ms, "
    "updated_at = excluded.updated_at";
inline constexpr std::string_view kListOrganizationOverrides =
    "SELECT " WEBHOOKD_SETTINGS_COLUMNS
    " FROM organization_settings "
    "WHERE retention_ms > 0 OR payload_retention_ms > 0 ORDER BY organization_id";

// ---- Audit log ----
inline constexpr std::string_view kInsertAuditEntry =
    "INSERT INTO audit_log (at, key_id, key_name, organization_id, method, route, object_id, "
    "address, status) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
// ?1 after id, ?2 organization filter, ?3 key, ?4 object, ?5 since, ?6 before, ?7 scope,
// ?8 limit.
inline constexpr std::string_view kListAuditEntries =
    "SELECT " WEBHOOKD_AUDIT_COLUMNS
    " FROM audit_log WHERE id > ?1 "
    "AND (?2 IS NULL OR organization_id = ?2) AND (?3 IS NULL OR key_id = ?3) "
    "AND (?4 IS NULL OR object_id = ?4) AND (?5 IS NULL OR at >= ?5) "
    "AND (?6 IS NULL OR at < ?6) AND (?7 IS NULL OR organization_id = ?7) ORDER BY id LIMIT ?8";
// ?1 cutoff, ?2 at most this many, oldest first.
inline constexpr std::string_view kPurgeAuditEntries =
    "DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE at < ?1 ORDER BY at, id "
    "LIMIT ?2)";

#undef WEBHOOKD_ERASABLE_EVENTS
#undef WEBHOOKD_NONE_TO_SEND
#undef WEBHOOKD_RETENTION_SCOPE
#undef WEBHOOKD_PURGEABLE_EVENTS
#undef WEBHOOKD_LIST_DELIVERIES

}  // namespace webhookd::sqlite
