// Every SQL statement the PostgreSQL store runs, by name (each is prepared once per connection
// under that name). Handlers pass parameters; they never assemble SQL. Column lists follow
// store/common/row_mapping.hpp, which reads them by position. Parameters carry explicit casts
// so that their types never depend on how a statement happens to use them.
#pragma once

#include "store/common/columns.hpp"
#include "store/postgres/connection.hpp"

namespace webhookd::postgres {

// ---- Transactions, migrations, notifications ----
inline constexpr std::string_view kBegin = "BEGIN";
inline constexpr std::string_view kCommit = "COMMIT";
inline constexpr std::string_view kRollback = "ROLLBACK";
// COMMIT as a statement, so that it can end a pipeline of writes (Connection::Write).
inline constexpr Statement kCommitWrites{"commit", kCommit, Planning::kEachCall};
inline constexpr std::string_view kSavepoint = "SAVEPOINT job";
inline constexpr std::string_view kReleaseSavepoint = "RELEASE SAVEPOINT job";
inline constexpr std::string_view kRollbackToSavepoint = "ROLLBACK TO SAVEPOINT job";

// Advisory lock keys: (kLockClass, 0) serialises migrations between nodes starting together;
// (kLockClass, hash of organization:key) serialises ingestion of one idempotency key.
#define WEBHOOKD_PG_LOCK_CLASS "2003395428"
inline constexpr Statement kPing{"ping", "SELECT 1"};
inline constexpr Statement kCurrentSchema{"current_schema", "SELECT current_schema()"};
inline constexpr Statement kLockMigrations{
    "lock_migrations", "SELECT pg_advisory_xact_lock(" WEBHOOKD_PG_LOCK_CLASS ", 0)"};
inline constexpr std::string_view kCreateMigrationsTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)";
inline constexpr Statement kMaxMigrationVersion{
    "max_migration_version", "SELECT COALESCE(MAX(version), 0) FROM schema_migrations"};
inline constexpr Statement kInsertMigration{
    "insert_migration",
    "INSERT INTO schema_migrations (version, name, applied_at) "
    "VALUES ($1::integer, $2::text, $3::bigint)"};
// $1: the payload, the sending store's instance id (a store ignores its own notifications).
inline constexpr std::string_view kWorkChannel = "webhookd_work";
inline constexpr Statement kNotifyWork{"notify_work",
                                       "SELECT pg_notify('webhookd_work', $1::text)"};
inline constexpr std::string_view kListenWork = "LISTEN webhookd_work";

// ---- Event types (the stored catalog) ----
// Columns as store_common::ReadStoredEventType reads them. A few rows per type: read whole.
inline constexpr Statement kListEventTypes{
    "list_event_types",
    "SELECT t.id, t.name, t.is_inference, t.archived_at, v.version, v.description, v.schema, "
    "v.sample, v.sample_headers, v.created_at FROM event_types t "
    "JOIN event_type_versions v ON v.type_id = t.id ORDER BY t.id, v.version"};
// The id a new type gets when it names none: above every stored one and the built-in 1..12.
inline constexpr Statement kNextEventTypeId{
    "next_event_type_id", "SELECT GREATEST(COALESCE(MAX(id), 0), 12) + 1 FROM event_types"};
inline constexpr Statement kInsertEventType{
    "insert_event_type",
    "INSERT INTO event_types (id, name, is_inference, archived_at, created_at) "
    "VALUES ($1::integer, $2::text, $3::boolean, 0, $4::bigint)"};
// A built-in type gets its row with its first stored version.
inline constexpr Statement kInsertEventTypeIfMissing{
    "insert_event_type_if_missing",
    "INSERT INTO event_types (id, name, is_inference, archived_at, created_at) "
    "VALUES ($1::integer, $2::text, $3::boolean, 0, $4::bigint) ON CONFLICT (id) DO NOTHING"};
inline constexpr Statement kInsertEventTypeVersion{
    "insert_event_type_version",
    "INSERT INTO event_type_versions (type_id, version, description, schema, sample, "
    "sample_headers, created_at) VALUES ($1::integer, $2::integer, $3::text, $4::text, "
    "$5::text, $6::text, $7::bigint)"};
inline constexpr Statement kArchiveEventType{
    "archive_event_type",
    "UPDATE event_types SET archived_at = $2::bigint WHERE id = $1::integer AND archived_at = 0"};
// One row: what a node polls to learn whether the stored catalog moved.
inline constexpr Statement kCatalogVersion{"catalog_version",
                                           "SELECT version FROM catalog_version WHERE id = 1"};
inline constexpr Statement kBumpCatalogVersion{
    "bump_catalog_version", "UPDATE catalog_version SET version = version + 1 WHERE id = 1"};

// ---- Webhook configurations ----
// $1..$21: every field but id, in WEBHOOKD_CONFIG_COLUMNS order (see BindConfigFields).
inline constexpr Statement kInsertConfig{
    "insert_config",
    "INSERT INTO webhook_configs (organization_id, name, url, event_type_id, attributes_json, "
    "headers_json, active, send_organization_code, version, secret, previous_secret, "
    "previous_secret_expires_at, is_deleted, created_at, updated_at, disabled_reason, "
    "timeout_ms, retry_schedule_json, failing_since, rate_limit, ordering) "
    "VALUES ($1::bigint, $2::text, $3::text, $4::integer, $5::text, $6::text, $7::boolean, "
    "$8::boolean, $9::bigint, $10::text, $11::text, $12::bigint, $13::boolean, $14::bigint, "
    "$15::bigint, $16::text, $17::bigint, $18::text, $19::bigint, $20::bigint, $21::text) "
    "RETURNING id"};
// $1 id, $2 name, $3 url, $4 event type, $5 attributes, $6 headers, $7 active,
// $8 send_organization_code, $9 version, $10 secret, $11 previous secret, $12 its expiry,
// $13 updated_at, $14 disabled_reason, $15 timeout_ms, $16 retry schedule, $17 failing_since,
// $18 rate_limit, $19 ordering, $20 the scope. Keeps organization_id, created_at and is_deleted;
// reactivation (active false -> true) clears failing_since and disabled_reason.
inline constexpr Statement kUpdateConfig{
    "update_config",
    "UPDATE webhook_configs SET name = $2::text, url = $3::text, event_type_id = $4::integer, "
    "attributes_json = $5::text, headers_json = $6::text, active = $7::boolean, "
    "send_organization_code = $8::boolean, version = $9::bigint, secret = $10::text, "
    "previous_secret = $11::text, previous_secret_expires_at = $12::bigint, "
    "updated_at = $13::bigint, "
    "disabled_reason = CASE WHEN NOT active AND $7::boolean THEN '' ELSE $14::text END, "
    "timeout_ms = $15::bigint, retry_schedule_json = $16::text, "
    "failing_since = CASE WHEN NOT active AND $7::boolean THEN 0 ELSE $17::bigint END, "
    "rate_limit = $18::bigint, ordering = $19::text "
    "WHERE id = $1::bigint AND NOT is_deleted "
    "AND ($20::bigint IS NULL OR organization_id = $20::bigint)"};
inline constexpr Statement kGetConfig{
    "get_config", "SELECT " WEBHOOKD_CONFIG_COLUMNS("") " FROM webhook_configs "
    "WHERE id = $1::bigint AND ($2::bigint IS NULL OR organization_id = $2::bigint)"};
// $1 after_id, $2 organization, $3 event type, $4 active, $5 include deleted, $6 limit,
// $7 searched text ('': any). lower() under COLLATE "C" folds ASCII letters only, as SQLite's
// does. Configurations are few per organization (a tenant limit), so this walks them.
#define WEBHOOKD_PG_CONTAINS(COLUMN) \
  "strpos(lower(" COLUMN " COLLATE \"C\"), lower($7::text COLLATE \"C\")) > 0"
inline constexpr Statement kListConfigs{
    "list_configs", "SELECT " WEBHOOKD_CONFIG_COLUMNS("") " FROM webhook_configs "
    "WHERE id > $1::bigint AND ($2::bigint IS NULL OR organization_id = $2::bigint) "
    "AND ($3::integer IS NULL OR event_type_id = $3::integer) "
    "AND ($4::boolean IS NULL OR active = $4::boolean) AND ($5::boolean OR NOT is_deleted) "
    "AND ($7::text = '' OR " WEBHOOKD_PG_CONTAINS("name") " OR " WEBHOOKD_PG_CONTAINS("url") ") "
    "ORDER BY id LIMIT $6::bigint"};
#undef WEBHOOKD_PG_CONTAINS
// Held until the transaction ends, so that concurrent creates in one organization (on any node)
// count one after another. The key's text cannot equal an idempotency key's ("org:key").
inline constexpr Statement kLockOrganizationConfigs{
    "lock_organization_configs",
    "SELECT pg_advisory_xact_lock(" WEBHOOKD_PG_LOCK_CLASS ", hashtext('configs:' || $1::bigint))"};
// A statement of its own after the lock: under READ COMMITTED it sees what the lock waited for.
// Served by webhook_configs_by_org; an organization has at most --max-configs-per-org rows.
inline constexpr Statement kCountLiveConfigs{
    "count_live_configs",
    "SELECT COUNT(*) FROM webhook_configs WHERE organization_id = $1::bigint AND NOT is_deleted"};
inline constexpr Statement kDeleteConfig{
    "delete_config",
    "UPDATE webhook_configs SET is_deleted = true, active = false, updated_at = $3::bigint "
    "WHERE id = $1::bigint AND NOT is_deleted "
    "AND ($2::bigint IS NULL OR organization_id = $2::bigint)"};
// The version of the fan-out of an organization and event type (migration 9): 0 until one of
// their configurations is written.
#define WEBHOOKD_PG_FAN_OUT_VERSION(ORGANIZATION, EVENT_TYPE)                            \
  "COALESCE((SELECT version FROM fan_out_versions WHERE organization_id = " ORGANIZATION \
  "::bigint AND event_type_id = " EVENT_TYPE "::integer), 0)"
// The active configurations of $1's event type $2, each row ending with the fan-out's version;
// one row of NULL configuration columns (and the version) when there are none.
inline constexpr Statement kFanOutConfigs{
    "fan_out_configs",
    "SELECT " WEBHOOKD_CONFIG_COLUMNS("c.") ", v.version FROM (SELECT "
    WEBHOOKD_PG_FAN_OUT_VERSION("$1", "$2") " AS version) v LEFT JOIN webhook_configs c "
    "ON c.organization_id = $1::bigint AND c.event_type_id = $2::integer AND c.active "
    "AND NOT c.is_deleted ORDER BY c.id"};
inline constexpr Statement kConfigInScope{
    "config_in_scope",
    "SELECT 1 FROM webhook_configs WHERE id = $1::bigint "
    "AND ($2::bigint IS NULL OR organization_id = $2::bigint)"};
inline constexpr Statement kMarkConfigHealthy{
    "mark_config_healthy",
    "UPDATE webhook_configs SET failing_since = 0 WHERE id = $1::bigint AND failing_since <> 0"};
inline constexpr Statement kMarkConfigFailing{
    "mark_config_failing",
    "UPDATE webhook_configs SET failing_since = $2::bigint "
    "WHERE id = $1::bigint AND failing_since = 0"};
inline constexpr Statement kDisableConfig{
    "disable_config",
    "UPDATE webhook_configs SET active = false, disabled_reason = $2::text, "
    "updated_at = $3::bigint WHERE id = $1::bigint"};

// ---- API keys ----
inline constexpr Statement kInsertApiKey{
    "insert_api_key",
    "INSERT INTO api_keys (organization_id, name, hash, prefix, created_at, revoked_at) "
    "VALUES ($1::bigint, $2::text, $3::text, $4::text, $5::bigint, $6::bigint) RETURNING id"};
inline constexpr Statement kFindApiKeyByHash{
    "find_api_key_by_hash",
    "SELECT " WEBHOOKD_API_KEY_COLUMNS " FROM api_keys WHERE hash = $1::text AND revoked_at = 0"};
inline constexpr Statement kListApiKeys{
    "list_api_keys", "SELECT " WEBHOOKD_API_KEY_COLUMNS
                     " FROM api_keys WHERE revoked_at = 0 "
                     "AND ($1::bigint IS NULL OR organization_id = $1::bigint) ORDER BY id"};
inline constexpr Statement kRevokeApiKey{
    "revoke_api_key",
    "UPDATE api_keys SET revoked_at = $3::bigint WHERE id = $1::bigint AND revoked_at = 0 "
    "AND ($2::bigint IS NULL OR organization_id = $2::bigint)"};
inline constexpr Statement kCountApiKeys{"count_api_keys", "SELECT COUNT(*) FROM api_keys"};
// Taken before kIsLastAdminKey: two nodes revoking the last two admin keys at once would each
// see the other's key still live.
inline constexpr Statement kLockAdminKeys{"lock_admin_keys",
                                          "SELECT pg_advisory_xact_lock(" WEBHOOKD_PG_LOCK_CLASS
                                          ", hashtext('admin-keys'))"};
// 1 when key $1 is the only live admin key (no organization): revoking it would leave none.
inline constexpr Statement kIsLastAdminKey{
    "is_last_admin_key",
    "SELECT (EXISTS (SELECT 1 FROM api_keys WHERE id = $1::bigint AND revoked_at = 0 "
    "AND organization_id IS NULL) AND NOT EXISTS (SELECT 1 FROM api_keys WHERE id <> $1::bigint "
    "AND revoked_at = 0 AND organization_id IS NULL))::int"};

// ---- Events ----
// $1: "organization:key". Held until the transaction ends, so that two nodes cannot both miss
// and insert the same key.
inline constexpr Statement kLockIdempotencyKey{
    "lock_idempotency_key",
    "SELECT pg_advisory_xact_lock(" WEBHOOKD_PG_LOCK_CLASS ", hashtext($1::text))"};
// $3: the oldest created_at that still counts (now - 24 h).
inline constexpr Statement kFindIdempotentEvent{
    "find_idempotent_event", "SELECT " WEBHOOKD_EVENT_COLUMNS("") " FROM events "
    "WHERE organization_id = $1::bigint AND idempotency_key = $2::text "
    "AND created_at >= $3::bigint ORDER BY created_at DESC LIMIT 1"};
inline constexpr Statement kGetEvent{
    "get_event", "SELECT " WEBHOOKD_EVENT_COLUMNS("") " FROM events "
    "WHERE id = $1::text AND ($2::bigint IS NULL OR organization_id = $2::bigint)"};

// ---- Deliveries ----
// Events and all their deliveries in one statement (EventBatch; one event alone too): $1-$7 the
// events' id, organization, event type, payload, idempotency key ('' for none), created_at and
// event type version, $8 the fan-out version each event's configurations were read
// at (-1: read by this transaction, unchecked); $9 delivery ids, $10 their events, $11
// configurations, $12 organizations, $13 statuses, $14 created_at, $15 lease_until (arrays of
// the same length); $16 this node, the lease owner of those delivering. Inserts all of it, or
// nothing if any event's fan-out moved. kInsertEvents then answers false (one row, true if it
// inserted); kInsertEventsUnlessChanged, sent without waiting for its answer, fails instead
// with SQLSTATE kFanOutChangedState (migration 13), which stops what follows it.
#define WEBHOOKD_PG_FAN_OUT_CHANGED "WH001"
inline constexpr std::string_view kFanOutChangedState = WEBHOOKD_PG_FAN_OUT_CHANGED;
#define WEBHOOKD_PG_INSERT_EVENTS(NAME, WHEN_CHANGED)                                              \
  Statement {                                                                                      \
    NAME,                                                                                          \
        "WITH e AS (SELECT * FROM unnest($1::text[], $2::bigint[], $3::integer[], $4::text[], "    \
        "$5::text[], $6::bigint[], $7::integer[], $8::bigint[]) AS e (id, organization_id, "       \
        "event_type_id, payload, idempotency_key, created_at, event_type_version, read_at)), "     \
        "unchanged AS (SELECT CASE WHEN bool_and(e.read_at < 0 OR e.read_at "                      \
        "= " WEBHOOKD_PG_FAN_OUT_VERSION(                                                          \
            "e.organization_id",                                                                   \
            "e.event_type_id") ") THEN true ELSE " WHEN_CHANGED                                    \
                               " END AS ok FROM e), "                                              \
                               "new_events AS (INSERT INTO events (id, organization_id, "          \
                               "event_type_id, payload, "                                          \
                               "idempotency_key, created_at, event_type_version) SELECT e.id, "    \
                               "e.organization_id, "                                               \
                               "e.event_type_id, e.payload, NULLIF(e.idempotency_key, ''), "       \
                               "e.created_at, "                                                    \
                               "e.event_type_version FROM e, unchanged WHERE unchanged.ok), "      \
                               "new_deliveries AS (INSERT INTO deliveries (id, event_id, "         \
                               "config_id, organization_id, status, "                              \
                               "attempt_count, next_attempt_at, last_status_code, last_error, "    \
                               "manual_pending, lease_owner, "                                     \
                               "lease_until, created_at, updated_at) "                             \
                               "SELECT n.id, n.event_id, n.config_id, n.organization_id, "         \
                               "n.status, 0, n.created_at, 0, '', "                                \
                               "false, CASE WHEN n.status = 'delivering' THEN $16::text ELSE '' "  \
                               "END, "                                                             \
                               "CASE WHEN n.status = 'delivering' THEN n.lease_until ELSE 0 END, " \
                               "n.created_at, n.created_at "                                       \
                               "FROM unnest($9::text[], $10::text[], $11::bigint[], "              \
                               "$12::bigint[], $13::text[], "                                      \
                               "$14::bigint[], $15::bigint[]) AS n (id, event_id, config_id, "     \
                               "organization_id, status, "                                         \
                               "created_at, lease_until), unchanged WHERE unchanged.ok) "          \
                               "SELECT ok FROM unchanged"                                          \
  }
inline constexpr Statement kInsertEvents = WEBHOOKD_PG_INSERT_EVENTS("insert_events", "false");
inline constexpr Statement kInsertEventsUnlessChanged = WEBHOOKD_PG_INSERT_EVENTS(
    "insert_events_unless_changed", "webhookd_fail('" WEBHOOKD_PG_FAN_OUT_CHANGED
                                    "', 'the configurations "
                                    "of a held event changed before it was sent')");
#undef WEBHOOKD_PG_FAN_OUT_CHANGED
#undef WEBHOOKD_PG_INSERT_EVENTS
#undef WEBHOOKD_PG_FAN_OUT_VERSION
inline constexpr Statement kDeliveriesOfEvent{
    "deliveries_of_event", "SELECT " WEBHOOKD_DELIVERY_COLUMNS("") " FROM deliveries "
    "WHERE event_id = $1::text ORDER BY id"};
inline constexpr Statement kGetDelivery{
    "get_delivery", "SELECT " WEBHOOKD_DELIVERY_COLUMNS("") " FROM deliveries "
    "WHERE id = $1::text AND ($2::bigint IS NULL OR organization_id = $2::bigint)"};
// Three variants of one listing so that each can use the event or configuration index:
// $1 ids above, $2 organization, $3 event, $4 configuration, $5 status, $6 created since,
// $7 limit, $8 ids below, $9 created before, $10 event type. $1 and $8 bound the walk
// (store_common::IdRangeOf); the event's type is read through the events' primary key, a
// subquery per row rather than a join the planner could turn into a scan of the events.
#define WEBHOOKD_PG_LIST_DELIVERIES(EVENT, CONFIG) \
  "SELECT " WEBHOOKD_DELIVERY_COLUMNS("") " FROM deliveries "                                 \
  "WHERE id > $1::text AND id < $8::text "                                                    \
  "AND ($2::bigint IS NULL OR organization_id = $2::bigint) AND " EVENT " AND " CONFIG        \
  " AND ($5::text IS NULL OR status = $5::text) "                                             \
  "AND ($6::bigint IS NULL OR created_at >= $6::bigint) "                                     \
  "AND ($9::bigint IS NULL OR created_at < $9::bigint) AND ($10::integer IS NULL OR "         \
  "(SELECT e.event_type_id FROM events e WHERE e.id = deliveries.event_id) = $10::integer) "  \
  "ORDER BY id LIMIT $7::bigint"
inline constexpr Statement kListDeliveries{
    "list_deliveries",
    WEBHOOKD_PG_LIST_DELIVERIES("($3::text IS NULL OR event_id = $3::text)",
                                "($4::bigint IS NULL OR config_id = $4::bigint)")};
inline constexpr Statement kListDeliveriesOfEvent{
    "list_deliveries_of_event",
    WEBHOOKD_PG_LIST_DELIVERIES("event_id = $3::text",
                                "($4::bigint IS NULL OR config_id = $4::bigint)")};
inline constexpr Statement kListDeliveriesOfConfig{
    "list_deliveries_of_config",
    WEBHOOKD_PG_LIST_DELIVERIES("($3::text IS NULL OR event_id = $3::text)",
                                "config_id = $4::bigint")};
// With $5 pending or delivering, a range of deliveries_open (the IN term matches its
// predicate, so that a generic plan may use it); with failed, of deliveries_failed.
#define WEBHOOKD_PG_OPEN_STATUS " AND status IN ('pending', 'delivering') AND status = $5::text"
inline constexpr Statement kListOpenDeliveries{
    "list_open_deliveries",
    WEBHOOKD_PG_LIST_DELIVERIES(
        "($3::text IS NULL OR event_id = $3::text)",
        "($4::bigint IS NULL OR config_id = $4::bigint)" WEBHOOKD_PG_OPEN_STATUS)};
inline constexpr Statement kListOpenDeliveriesOfConfig{
    "list_open_deliveries_of_config",
    WEBHOOKD_PG_LIST_DELIVERIES("($3::text IS NULL OR event_id = $3::text)",
                                "config_id = $4::bigint" WEBHOOKD_PG_OPEN_STATUS)};
#undef WEBHOOKD_PG_OPEN_STATUS
inline constexpr Statement kListFailedDeliveries{
    "list_failed_deliveries",
    WEBHOOKD_PG_LIST_DELIVERIES("($3::text IS NULL OR event_id = $3::text)",
                                "($4::bigint IS NULL OR config_id = $4::bigint) "
                                "AND status = 'failed'")};
inline constexpr Statement kListFailedDeliveriesOfConfig{
    "list_failed_deliveries_of_config",
    WEBHOOKD_PG_LIST_DELIVERIES("($3::text IS NULL OR event_id = $3::text)",
                                "config_id = $4::bigint AND status = 'failed'")};

// Due deliveries with their event and configuration (delivery columns, then event columns,
// then configuration columns), locked: a row another node is claiming right now is skipped,
// so each due delivery goes to exactly one node. Of a FIFO configuration, only its oldest open
// delivery; of a rate-limited one, none while another node holds its queue's lease.
// $1 due by, $2 limit, $3 configuration ids to leave pending, $4 this node, $5 now.
inline constexpr Statement kSelectDue{
    "select_due",
    "SELECT " WEBHOOKD_DELIVERY_COLUMNS("d.") ", " WEBHOOKD_EVENT_COLUMNS("e.") ", "
    WEBHOOKD_CONFIG_COLUMNS("c.") " FROM deliveries d "
    "JOIN events e ON e.id = d.event_id JOIN webhook_configs c ON c.id = d.config_id "
    "WHERE d.status = 'pending' AND d.next_attempt_at <= $1::bigint "
    "AND d.config_id <> ALL($3::bigint[]) "
    "AND (c.ordering <> 'fifo' OR NOT EXISTS (SELECT 1 FROM deliveries o "
    "WHERE o.config_id = d.config_id AND o.status IN ('pending', 'delivering') AND o.id < d.id)) "
    "AND (c.rate_limit = 0 OR NOT EXISTS (SELECT 1 FROM config_queue_leases l "
    "WHERE l.config_id = d.config_id AND l.owner <> $4::text AND l.lease_until >= $5::bigint)) "
    "ORDER BY d.next_attempt_at, d.id LIMIT $2::bigint FOR UPDATE OF d SKIP LOCKED"};
// The same claim while some configurations are held back ($3 not empty), as SQLite's
// kSelectDueSkippingConfigs: the configurations with pending deliveries are visited one index
// seek each (deliveries_due_by_config), the held-back ones without reading their rows, and each
// other one gives its first $2 due deliveries and, if it is FIFO, its oldest pending one (its
// next turn, even when newer ones fall due before it; from deliveries_open). Each ORDER BY
// names the whole key of the index it means: with statistics, the planner would rather find a
// MIN by walking the primary key or deliveries_by_config, row after row, past every delivery
// of the configurations before it (the FIFO head: WEBHOOKD_PG_OLDEST_PENDING). Those few are read
// by primary key and sorted: each "+ 0" keeps the planner from walking deliveries_due, for the
// order or the due time, instead; that would step over every due delivery of the held-back
// configurations (before a table's first ANALYZE it did, 9 ms behind 30 000 of them).
// The configurations with pending deliveries, one seek each in deliveries_due_by_config (and a
// last row of NULL).
#define WEBHOOKD_PG_PENDING_CONFIGS                                                         \
  "WITH RECURSIVE pending_configs(id) AS ("                                                 \
  "(SELECT config_id FROM deliveries WHERE status = 'pending' "                             \
  "ORDER BY config_id, next_attempt_at, id LIMIT 1) UNION ALL "                             \
  "SELECT (SELECT config_id FROM deliveries WHERE status = 'pending' AND config_id > p.id " \
  "ORDER BY config_id, next_attempt_at, id LIMIT 1) "                                       \
  "FROM pending_configs p WHERE p.id IS NOT NULL) "
// The id of configuration CONFIG's oldest pending delivery, from deliveries_open (A its alias).
// Status and configuration are bounded by ranges, not equalities: an equality makes the ORDER
// BY's first two columns redundant, and with statistics the planner then reads the id order
// from the primary key (or deliveries_by_config), walking past every delivery before the one it
// wants; only deliveries_open gives the order (status, config_id, id).
#define WEBHOOKD_PG_OLDEST_PENDING(A, CONFIG)                                                  \
  "SELECT " A ".id FROM deliveries " A " WHERE " A                                             \
  ".status IN ('pending', 'delivering') "                                                      \
  "AND " A ".status >= 'pending' AND " A ".status <= 'pending' AND " A ".config_id >= " CONFIG \
  " AND " A ".config_id <= " CONFIG " ORDER BY " A ".status, " A ".config_id, " A ".id LIMIT 1"
inline constexpr Statement kSelectDueSkippingConfigs{
    "select_due_skipping_configs",
    WEBHOOKD_PG_PENDING_CONFIGS
    "SELECT " WEBHOOKD_DELIVERY_COLUMNS("d.") ", " WEBHOOKD_EVENT_COLUMNS("e.") ", "
    WEBHOOKD_CONFIG_COLUMNS("c.") " FROM deliveries d "
    "JOIN events e ON e.id = d.event_id JOIN webhook_configs c ON c.id = d.config_id "
    "WHERE d.id = ANY(ARRAY(SELECT due.id FROM pending_configs p CROSS JOIN LATERAL ("
    "(SELECT x.id FROM deliveries x WHERE x.status = 'pending' AND x.config_id = p.id "
    "AND x.next_attempt_at <= $1::bigint ORDER BY x.next_attempt_at, x.id LIMIT $2::bigint) "
    "UNION (SELECT (" WEBHOOKD_PG_OLDEST_PENDING("o", "p.id") ") WHERE EXISTS (SELECT 1 "
    "FROM webhook_configs f WHERE f.id = p.id AND f.ordering = 'fifo'))) due "
    "WHERE p.id IS NOT NULL AND p.id <> ALL($3::bigint[]))) "
    "AND d.status = 'pending' AND d.next_attempt_at + 0 <= $1::bigint "
    "AND (c.ordering <> 'fifo' OR NOT EXISTS (SELECT 1 FROM deliveries o "
    "WHERE o.config_id = d.config_id AND o.status IN ('pending', 'delivering') AND o.id < d.id)) "
    "AND (c.rate_limit = 0 OR NOT EXISTS (SELECT 1 FROM config_queue_leases l "
    "WHERE l.config_id = d.config_id AND l.owner <> $4::text AND l.lease_until >= $5::bigint)) "
    "ORDER BY d.next_attempt_at + 0, d.id LIMIT $2::bigint FOR UPDATE OF d SKIP LOCKED"};
// Takes or renews the queue leases of rate-limited configurations for this node; returns the
// ids it holds now. One held by another node, still running, is neither taken nor returned.
// $1 configuration ids, $2 owner (this node), $3 lease_until, $4 now.
inline constexpr Statement kLeaseConfigQueues{
    "lease_config_queues",
    "INSERT INTO config_queue_leases (config_id, owner, lease_until) "
    "SELECT unnest($1::bigint[]), $2::text, $3::bigint "
    "ON CONFLICT (config_id) DO UPDATE SET owner = EXCLUDED.owner, "
    "lease_until = EXCLUDED.lease_until WHERE config_queue_leases.owner = EXCLUDED.owner "
    "OR config_queue_leases.lease_until < $4::bigint RETURNING config_id"};
// $1 ids, $2 owner (this node), $3 lease_until, $4 now.
inline constexpr Statement kLeaseDeliveries{
    "lease_deliveries",
    "UPDATE deliveries SET status = 'delivering', lease_owner = $2::text, "
    "lease_until = $3::bigint, updated_at = $4::bigint WHERE id = ANY($1::text[])"};
// A deleted or inactive configuration's line, failed at once, as SQLite's: $1 the
// configuration, $2 the reason, $3 due by, $4 now. Every due delivery, and the FIFO ones waiting
// for their turn, from deliveries_due_by_config. Rows another node's claim holds are skipped,
// not waited for: that claim fails them too, and two claims waiting for each other's rows
// would deadlock.
inline constexpr Statement kFailUndeliverableLine{
    "fail_undeliverable_line",
    "WITH line AS (SELECT id FROM deliveries WHERE status = 'pending' AND config_id = $1::bigint "
    "AND (next_attempt_at <= $3::bigint OR next_attempt_at = " WEBHOOKD_WAITING_FOR_TURN
    ") FOR UPDATE SKIP LOCKED) "
    "UPDATE deliveries d SET status = 'failed', last_error = $2::text, manual_pending = false, "
    "updated_at = $4::bigint FROM line WHERE d.id = line.id"};
inline constexpr Statement kNextDueAt{
    "next_due_at",
    "SELECT MIN(next_attempt_at) FROM deliveries WHERE status = 'pending' "
    "AND next_attempt_at < " WEBHOOKD_WAITING_FOR_TURN};
// $1 ids of new pending deliveries of FIFO configurations: each one behind an earlier open one
// of its configuration waits for its turn (kWaitingForTurn). After the insert, in its
// transaction, so that it sees the earlier ones of the same batch. The earlier open one it
// waits behind is locked (FOR SHARE) so that another node cannot end that turn unseen: if that
// node's transaction already changed it, this one waits for its commit and finds it ended (and
// waits for nothing); if not, that node's end of the turn waits for this commit, and the
// statement after it (kStartNextTurn) sees this delivery waiting and starts its turn.
inline constexpr Statement kParkWaitingDeliveries{
    "park_waiting_deliveries",
    "UPDATE deliveries d SET next_attempt_at = " WEBHOOKD_WAITING_FOR_TURN
    " "
    "WHERE d.id = ANY($1::text[]) AND d.status = 'pending' AND EXISTS (SELECT 1 FROM deliveries o "
    "WHERE o.status IN ('pending', 'delivering') AND o.config_id = d.config_id AND o.id < d.id "
    "FOR SHARE OF o)"};
// A FIFO configuration's next turn, as SQLite's: its oldest pending delivery, if it waits for
// its turn and none of the configuration's is being delivered, is due now. The oldest pending
// one is WEBHOOKD_PG_OLDEST_PENDING; the rows to change are found by primary key (= ANY(ARRAY),
// and "+ 0" so that deliveries_due is no way to them): the planner otherwise read every waiting
// delivery, by deliveries_due before the table's first ANALYZE and by a scan to hash them after.
#define WEBHOOKD_PG_TURN_TO_START(CONFIG) \
  "SELECT (" WEBHOOKD_PG_OLDEST_PENDING("o", CONFIG) ") WHERE NOT EXISTS (SELECT 1 "       \
  "FROM deliveries r WHERE r.status = 'delivering' AND r.config_id = " CONFIG ")"
#define WEBHOOKD_PG_START_TURN(NOW)                                    \
  "UPDATE deliveries SET next_attempt_at = " NOW ", updated_at = " NOW \
  " "                                                                  \
  "WHERE status = 'pending' AND next_attempt_at + 0 = " WEBHOOKD_WAITING_FOR_TURN " AND id = ANY"
// $1 the configuration whose turn ended, $2 now.
inline constexpr Statement kStartNextTurn{
    "start_next_turn",
    WEBHOOKD_PG_START_TURN("$2::bigint") "(ARRAY(" WEBHOOKD_PG_TURN_TO_START("$1::bigint") "))"};
// The delivery kStartNextTurn would start ($1 the configuration), as kSelectDue reads it and
// locked as a claim locks it, for the dispatcher to take at once (kLeaseNextTurn).
inline constexpr Statement kSelectNextTurn{
    "select_next_turn",
    "SELECT " WEBHOOKD_DELIVERY_COLUMNS("d.") ", " WEBHOOKD_EVENT_COLUMNS("e.") ", "
    WEBHOOKD_CONFIG_COLUMNS("c.") " FROM deliveries d "
    "JOIN events e ON e.id = d.event_id JOIN webhook_configs c ON c.id = d.config_id "
    "WHERE d.id = ANY(ARRAY(" WEBHOOKD_PG_TURN_TO_START("$1::bigint") ")) "
    "AND d.status = 'pending' AND d.next_attempt_at + 0 = " WEBHOOKD_WAITING_FOR_TURN
    " FOR UPDATE OF d"};
// $1 the delivery kSelectNextTurn read, $2 owner (this node), $3 its lease, $4 now: its turn
// starts, in flight.
inline constexpr Statement kLeaseNextTurn{
    "lease_next_turn",
    "UPDATE deliveries SET status = 'delivering', lease_owner = $2::text, "
    "lease_until = $3::bigint, next_attempt_at = $4::bigint, updated_at = $4::bigint "
    "WHERE id = $1::text"};
// The same for every configuration with pending deliveries ($1 now), from the lease sweep: a
// safety net, for a turn whose end did not start the next one.
inline constexpr Statement kStartStrandedTurns{
    "start_stranded_turns",
    WEBHOOKD_PG_PENDING_CONFIGS
        WEBHOOKD_PG_START_TURN("$1::bigint") "(ARRAY(SELECT (" WEBHOOKD_PG_TURN_TO_START(
            "p.id") ") FROM pending_configs p WHERE p.id IS NOT NULL))"};
#undef WEBHOOKD_PG_START_TURN
#undef WEBHOOKD_PG_TURN_TO_START
#undef WEBHOOKD_PG_OLDEST_PENDING
#undef WEBHOOKD_PG_PENDING_CONFIGS
// $1 a configuration that no longer delivers in order, $2 now: none of its deliveries waits.
inline constexpr Statement kEndWaitingForTurns{
    "end_waiting_for_turns",
    "UPDATE deliveries SET next_attempt_at = $2::bigint, updated_at = $2::bigint "
    "WHERE status = 'pending' AND config_id = $1::bigint "
    "AND next_attempt_at = " WEBHOOKD_WAITING_FOR_TURN};
// $1 now (leases ending before it are released; due at it), $2 updated_at.
inline constexpr Statement kReleaseExpiredLeases{
    "release_expired_leases",
    "UPDATE deliveries SET status = 'pending', next_attempt_at = $2::bigint, lease_owner = '', "
    "lease_until = 0, updated_at = $2::bigint "
    "WHERE status = 'delivering' AND lease_until < $1::bigint"};
inline constexpr Statement kReleaseLeasesOf{
    "release_leases_of",
    "UPDATE deliveries SET status = 'pending', next_attempt_at = $2::bigint, lease_owner = '', "
    "lease_until = 0, updated_at = $2::bigint "
    "WHERE status = 'delivering' AND lease_owner = $1::text"};
// Every outcome of one RecordAttempts call: $1 ids, $2 new statuses, $3 status codes, $4 errors,
// $5 next_attempt_at (kept unless pending); $6 now. kRecordDeliveryOutcomes returns the ids it
// updated; kRecordDeliveryOutcomesUnlessMissing, sent without waiting for its answer, fails
// with SQLSTATE kDeliveryMissingState (migration 13) if one of them does not exist. The UPDATE
// is a function of migration 14, whose plan is made once per connection and finds each delivery
// through the primary key however large the table has grown since.
#define WEBHOOKD_PG_DELIVERY_MISSING "WH002"
inline constexpr std::string_view kDeliveryMissingState = WEBHOOKD_PG_DELIVERY_MISSING;
#define WEBHOOKD_PG_RECORD_DELIVERY_OUTCOMES                                              \
  "webhookd_record_delivery_outcomes($1::text[], $2::text[], $3::integer[], $4::text[], " \
  "$5::bigint[], $6::bigint)"
inline constexpr Statement kRecordDeliveryOutcomes{
    "record_delivery_outcomes", "SELECT id FROM " WEBHOOKD_PG_RECORD_DELIVERY_OUTCOMES " AS id"};
inline constexpr Statement kRecordDeliveryOutcomesUnlessMissing{
    "record_delivery_outcomes_unless_missing",
    "SELECT CASE WHEN (SELECT count(*) FROM " WEBHOOKD_PG_RECORD_DELIVERY_OUTCOMES
    ") = (SELECT count(DISTINCT id) FROM unnest($1::text[]) id) "
    "THEN true ELSE webhookd_fail('" WEBHOOKD_PG_DELIVERY_MISSING
    "', 'a delivery whose attempt "
    "was recorded does not exist') END"};
#undef WEBHOOKD_PG_RECORD_DELIVERY_OUTCOMES
#undef WEBHOOKD_PG_DELIVERY_MISSING
inline constexpr Statement kRetryDelivery{
    "retry_delivery",
    "UPDATE deliveries SET status = 'pending', next_attempt_at = $2::bigint, "
    "manual_pending = true, lease_owner = '', lease_until = 0, updated_at = $2::bigint "
    "WHERE id = $1::text AND status <> 'delivering'"};
// $1 configuration, $2 since, $3 now.
inline constexpr Statement kRecoverConfig{
    "recover_config",
    "UPDATE deliveries SET status = 'pending', next_attempt_at = $3::bigint, "
    "manual_pending = true, updated_at = $3::bigint "
    "WHERE config_id = $1::bigint AND status = 'failed' AND created_at >= $2::bigint "
    "AND event_id IN (SELECT id FROM events WHERE payload_erased_at = 0)"};
inline constexpr Statement kCountDeliveries{
    "count_deliveries", "SELECT status, COUNT(*) FROM deliveries GROUP BY status"};
// From the partial indexes deliveries_open and deliveries_failed only: never a scan of the
// deliveries, whose succeeded ones are most of the table.
inline constexpr Statement kCountBacklog{
    "count_backlog",
    "SELECT status, COUNT(*) FROM deliveries WHERE status IN ('pending', 'delivering') "
    "GROUP BY status UNION ALL SELECT 'failed', COUNT(*) FROM deliveries WHERE status = 'failed'"};

// ---- Statistics ----
// The window's deliveries are a range of the primary key: $1 the window's lowest id
// (SortableIdLowerBound), $2 scope, $3 the window's start.
#define WEBHOOKD_PG_STATS_WINDOW(D)                \
  D "id >= $1::text AND ($2::bigint IS NULL OR " D \
    "organization_id = $2::bigint) "               \
    "AND " D "created_at >= $3::bigint"
// $4 bucket length.
inline constexpr Statement kStatsBuckets{
    "stats_buckets",
    "SELECT (created_at - $3::bigint) / $4::bigint, status, COUNT(*) FROM deliveries "
    "WHERE " WEBHOOKD_PG_STATS_WINDOW("") " GROUP BY 1, 2 ORDER BY 1"};
// The window's succeeded deliveries by latency, fastest first: one pass gives every percentile
// (a query per percentile, ORDER BY latency OFFSET rank, sorted the window each time).
inline constexpr Statement kStatsLatencies{
    "stats_latencies",
    "SELECT updated_at - created_at AS latency, COUNT(*) FROM deliveries "
    "WHERE " WEBHOOKD_PG_STATS_WINDOW("") " AND status = 'succeeded' "
    "GROUP BY latency ORDER BY latency"};
// $4 how many configurations. Every row counted is a failure, so COUNT(*) = failed + retrying.
inline constexpr Statement kStatsTopFailing{
    "stats_top_failing",
    "SELECT d.config_id, c.name, COUNT(*) FILTER (WHERE d.status = 'failed') AS failed, "
    "COUNT(*) FILTER (WHERE d.status = 'pending') AS retrying "
    "FROM deliveries d JOIN webhook_configs c ON c.id = d.config_id "
    "WHERE " WEBHOOKD_PG_STATS_WINDOW("d.") " AND (d.status = 'failed' OR "
    "(d.status = 'pending' AND d.attempt_count > 0)) "
    "GROUP BY d.config_id, c.name ORDER BY COUNT(*) DESC, d.config_id LIMIT $4::bigint"};
#undef WEBHOOKD_PG_STATS_WINDOW
// $1 scope.
inline constexpr Statement kStatsOpen{
    "stats_open",
    "SELECT status, COUNT(*) FROM deliveries WHERE status IN ('pending', 'delivering') "
    "AND ($1::bigint IS NULL OR organization_id = $1::bigint) GROUP BY status"};
// $1 scope. Configurations are few (a tenant limit caps them), so this reads their table.
inline constexpr Statement kStatsDisabled{
    "stats_disabled",
    "SELECT id, name, disabled_reason, updated_at FROM webhook_configs "
    "WHERE disabled_reason <> '' AND NOT active AND NOT is_deleted "
    "AND ($1::bigint IS NULL OR organization_id = $1::bigint) ORDER BY updated_at DESC, id "
    "LIMIT 50"};

// ---- Attempts ----
// Every attempt of one RecordAttempts call, in input order (ids follow it).
inline constexpr Statement kInsertAttempts{
    "insert_attempts",
    "INSERT INTO attempts (delivery_id, attempted_at, duration_ms, request_headers_json, "
    "status_code, response_headers_json, response_body, error, manual) "
    "SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::integer[], "
    "$6::text[], $7::bytea[], $8::text[], $9::boolean[])"};
inline constexpr Statement kListAttempts{"list_attempts",
                                         "SELECT " WEBHOOKD_ATTEMPT_COLUMNS
                                         " FROM attempts WHERE delivery_id = $1::text ORDER BY id"};

// ---- Retention ----
// Which organizations a retention batch covers ($3): that one organization, or, when NULL,
// every organization without its own period in the settings column `column`.
#define WEBHOOKD_PG_RETENTION_SCOPE(column)                                               \
  "(e.organization_id = $3::bigint OR ($3::bigint IS NULL AND NOT EXISTS (SELECT 1 FROM " \
  "organization_settings s WHERE s.organization_id = e.organization_id AND s." column " > 0)))"
#define WEBHOOKD_PG_NONE_TO_SEND                                                    \
  "NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id AND d.status IN " \
  "('pending', 'delivering'))"
// Up to $2 events of the scope $3 created before $1, oldest first, none with a delivery still
// to be sent, locked; an event another node is purging right now is skipped.
inline constexpr Statement kSelectPurgeableEvents{
    "select_purgeable_events",
    "SELECT e.id FROM events e WHERE e.created_at < $1::bigint AND " WEBHOOKD_PG_RETENTION_SCOPE(
        "retention_ms") " AND " WEBHOOKD_PG_NONE_TO_SEND
                        " ORDER BY e.created_at, e.id LIMIT $2::bigint FOR UPDATE OF e SKIP "
                        "LOCKED"};
// Every delivery of the events $1, locked, with its current status.
inline constexpr Statement kLockDeliveriesOfEvents{
    "lock_deliveries_of_events",
    "SELECT event_id, status FROM deliveries WHERE event_id = ANY($1::text[]) FOR UPDATE"};
// The events $1, with their deliveries and attempts (children first, for the foreign keys).
inline constexpr Statement kPurgeAttempts{
    "purge_attempts",
    "DELETE FROM attempts WHERE delivery_id IN "
    "(SELECT id FROM deliveries WHERE event_id = ANY($1::text[]))"};
inline constexpr Statement kPurgeDeliveries{
    "purge_deliveries", "DELETE FROM deliveries WHERE event_id = ANY($1::text[])"};
inline constexpr Statement kPurgeEvents{"purge_events",
                                        "DELETE FROM events WHERE id = ANY($1::text[])"};

// Payload retention: up to $2 events of the scope $3 created before $1 and not erased yet,
// chosen and locked as the purge chooses them.
inline constexpr Statement kSelectErasableEvents{
    "select_erasable_events",
    "SELECT e.id FROM events e WHERE e.created_at < $1::bigint AND e.payload_erased_at = 0 "
    "AND " WEBHOOKD_PG_RETENTION_SCOPE(
        "payload_retention_ms") " AND " WEBHOOKD_PG_NONE_TO_SEND
                                " ORDER BY e.created_at, e.id LIMIT $2::bigint FOR UPDATE OF e "
                                "SKIP LOCKED"};
// The attempts of the events $1 keep their times, statuses and codes, not what they carried.
inline constexpr Statement kEraseAttemptData{
    "erase_attempt_data",
    "UPDATE attempts SET request_headers_json = '{}', response_headers_json = '{}', "
    "response_body = ''::bytea WHERE delivery_id IN "
    "(SELECT id FROM deliveries WHERE event_id = ANY($1::text[]))"};
// $2 now.
inline constexpr Statement kErasePayloads{
    "erase_payloads",
    "UPDATE events SET payload = 'null', payload_erased_at = $2::bigint "
    "WHERE id = ANY($1::text[])"};

// ---- Organization settings ----
inline constexpr Statement kGetOrganizationSettings{
    "get_organization_settings", "SELECT " WEBHOOKD_SETTINGS_COLUMNS
                                 " FROM organization_settings WHERE organization_id = $1::bigint"};
// $1 organization, $2 retention_ms, $3 payload_retention_ms, $4 now.
inline constexpr Statement kPutOrganizationSettings{
    "put_organization_settings",
    "INSERT INTO organization_settings (organization_id, retention_ms, payload_retention_ms, "
    "updated_at) VALUES ($1::bigint, $2::bigint, $3::bigint, $4::bigint) "
    "ON CONFLICT (organization_id) DO UPDATE SET retention_ms = excluded.retention_ms, "
    "payload_retention_ms = excluded.payload_retention_ms, updated_at = excluded.updated_at"};
inline constexpr Statement kListOrganizationOverrides{
    "list_organization_overrides",
    "SELECT " WEBHOOKD_SETTINGS_COLUMNS
    " FROM organization_settings "
    "WHERE retention_ms > 0 OR payload_retention_ms > 0 ORDER BY organization_id"};

// ---- Audit log ----
inline constexpr Statement kInsertAuditEntry{
    "insert_audit_entry",
    "INSERT INTO audit_log (at, key_id, key_name, organization_id, method, route, object_id, "
    "address, status) VALUES ($1::bigint, $2::bigint, $3::text, $4::bigint, $5::text, $6::text, "
    "$7::text, $8::text, $9::integer)"};
// $1 after id, $2 organization filter, $3 key, $4 object, $5 since, $6 before, $7 scope,
// $8 limit.
inline constexpr Statement kListAuditEntries{
    "list_audit_entries",
    "SELECT " WEBHOOKD_AUDIT_COLUMNS
    " FROM audit_log WHERE id > $1::bigint "
    "AND ($2::bigint IS NULL OR organization_id = $2::bigint) "
    "AND ($3::bigint IS NULL OR key_id = $3::bigint) "
    "AND ($4::text IS NULL OR object_id = $4::text) AND ($5::bigint IS NULL OR at >= $5::bigint) "
    "AND ($6::bigint IS NULL OR at < $6::bigint) "
    "AND ($7::bigint IS NULL OR organization_id = $7::bigint) ORDER BY id LIMIT $8::bigint"};
// $1 cutoff, $2 at most this many, oldest first.
inline constexpr Statement kPurgeAuditEntries{
    "purge_audit_entries",
    "DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE at < $1::bigint "
    "ORDER BY at, id LIMIT $2::bigint)"};

#undef WEBHOOKD_PG_NONE_TO_SEND
#undef WEBHOOKD_PG_RETENTION_SCOPE
#undef WEBHOOKD_PG_LIST_DELIVERIES
#undef WEBHOOKD_PG_LOCK_CLASS

}  // namespace webhookd::postgres
