// The Store is webhookd's only durable state: configurations, API keys, events, deliveries
// and attempts. The HTTP API writes through it, the dispatcher claims work from it and
// records results in it; nothing else talks to the database.
//
// Contract for every implementation (SQLite and PostgreSQL):
//  - All methods are thread-safe and may block on I/O.
//  - A method that succeeds has committed its writes durably before it returns.
//  - A method that fails has changed nothing.
//  - `scope` is the caller's organization: nullopt for an admin (sees everything), or an
//    organization id, in which case objects of other organizations behave exactly as if
//    they did not exist (Error::NotFound, absent from lists).
//  - `audit`: a method that changes state takes the audit entry of the request that asks for
//    the change (docs/security.md, "Audit log"), or nullptr for none, and appends it in the
//    change's own transaction: both commit or neither does (an entry that cannot be written
//    fails the change). The entry's `at` becomes the store clock's time; an empty `object_id`
//    becomes the id of the row a create made, and an unset `organization_id` the organization
//    of the row a change read, where the method says so.
//  - Errors: kNotFound, kConflict (e.g. duplicate key), kLimitExceeded (a tenant limit the
//    caller passed), kUnavailable (database unreachable or busy beyond its timeout), kInternal
//    (anything else). Input is validated by the caller.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/model.hpp"
#include "core/result.hpp"
#include "store/event_type_store.hpp"

namespace webhookd {

using OrgScope = std::optional<std::int64_t>;

// ---- Ingestion ----
struct NewEvent {
  std::string id;  // caller-assigned, NewSortableId("evt", now)
  std::int64_t organization_id = 0;
  int event_type_id = 0;
  std::string payload_json;
  std::string idempotency_key;  // empty: none
  int event_type_version = 1;   // the version whose schema the payload passed
  // What deliveries handed off at ingestion (DeliveryHandoff) carry as the payload, when that is
  // not what is stored: EncryptingStore stores the sealed payload and hands off the plain one,
  // so that nothing opens again what was sealed a moment before. Empty: `payload_json`.
  std::string handed_off_payload_json;
};

// What one ingestion request (one IngestEventsAsync call) may do.
struct IngestLimits {
  // Deliveries its events may create together. Beyond it, every event of the request fails
  // with kLimitExceeded and nothing of the request is stored.
  std::int64_t max_deliveries = std::numeric_limits<std::int64_t>::max();
};

// What a store's group-commit writer has done since the store opened (for /metrics).
struct WriterStats {
  std::int64_t batches = 0;      // transactions run, each carrying one or more jobs
  std::int64_t jobs = 0;         // writes they carried (an event, a claim, attempt results...)
  std::int64_t busy_micros = 0;  // time the writer threads spent running them
};

// ---- Dispatch ----
// Everything the dispatcher needs to send one delivery, read together when it is claimed.
struct DeliveryJob {
  Delivery delivery;
  Event event;
  WebhookConfig config;
  bool manual = false;  // a manual retry or recovery requested this attempt
};

struct IngestedEvent {
  Event event;
  std::vector<Delivery> deliveries;
  // True when the idempotency key matched an event of the last 24 h: `event` and
  // `deliveries` are that earlier event's, and nothing new was stored.
  bool replayed = false;
  // The deliveries a DeliveryHandoff took (stored kDelivering, leased until lease_until);
  // the store passes them to DeliveryHandoff::Take after the commit.
  std::vector<DeliveryJob> handed_off;
  UnixMillis lease_until = 0;
  // Of the deliveries left kPending, those whose configuration the handoff holds back
  // (DeliveryHandoff::HoldsBack): they are not work a claim would take now.
  int pending_held_back = 0;
};

// Lets the dispatcher take the deliveries of a new event at ingestion: they are stored
// kDelivering, leased, and sent from memory, instead of being stored kPending and claimed by
// a second commit that rewrites every row. A delivery it does not take stays kPending and is
// claimed as usual, so it may refuse at any time (full, stopping, endpoint stalled). Likewise
// the next delivery of a FIFO configuration whose turn a RecordAttempts call ended.
class DeliveryHandoff {
 public:
  virtual ~DeliveryHandoff() = default;
  // On the store's writer thread, inside the ingest transaction; quick, never blocks on I/O.
  // The lease for a new delivery of `config` created at `now`, or nullopt to leave it pending.
  virtual std::optional<UnixMillis> LeaseFor(const WebhookConfig& config, UnixMillis now) = 0;
  // Whether the dispatcher holds `config` back (its receiver stalled, or enough held for its
  // rate limit), asked when LeaseFor refused. Such deliveries are left pending without waking
  // the dispatcher: its claims skip that configuration until it stops holding it back, and a
  // wake per commit would only make it search the store, again and again, past deliveries it
  // skips (docs/benchmarks.md, "A black hole on the same origin").
  virtual bool HoldsBack(const WebhookConfig& /*config*/) { return false; }
  // After the commit, on a store thread; must not block. `lease_until` is the earliest lease
  // among `jobs`.
  virtual void Take(std::vector<DeliveryJob> jobs, UnixMillis lease_until) = 0;

  // Inside a RecordAttempts transaction that ended a turn of FIFO configuration `config`: the
  // lease for its next delivery, or nullopt to leave it due for a claim. Quick, never blocks.
  virtual std::optional<UnixMillis> LeaseForNextTurn(const WebhookConfig& /*config*/,
                                                     UnixMillis /*now*/) {
    return std::nullopt;
  }
  // After that commit, on the recording thread; must not block. As Take, but each job's event
  // is as the store holds it (sealed, with encryption at rest), not as it was posted.
  virtual void TakeNextTurns(std::vector<DeliveryJob> jobs, UnixMillis lease_until) {
    Take(std::move(jobs), lease_until);
  }
};

// What an attempt did to its configuration's health.
enum class ConfigEffect {
  kNone,
  kHealthy,  // success: clear failing_since
  kFailing,  // failure: set failing_since if it is not set
  kDisable,  // deactivate with `disable_reason` (410 Gone, or failing for too long)
};

struct AttemptOutcome {
  Attempt attempt;  // inserted as is (id assigned by the store)
  // kPending (retry at next_attempt_at), kSucceeded or kFailed (dead letter).
  DeliveryStatus new_status = DeliveryStatus::kPending;
  UnixMillis next_attempt_at = 0;
  std::int64_t config_id = 0;
  ConfigEffect config_effect = ConfigEffect::kNone;
  std::string disable_reason;
  // A FIFO configuration's delivery finished (succeeded or failed): the next one of that
  // configuration may be claimed now, so the commit tells the work listener.
  bool ends_fifo_turn = false;
};

struct DeliveryFilter {
  std::optional<std::string> event_id;
  std::optional<std::int64_t> config_id;
  std::optional<int> event_type_id;  // the type of the delivery's event
  std::optional<DeliveryStatus> status;
  std::optional<UnixMillis> since;  // created_at >= since
  // created_at < until. A delivery made while the clock stood behind the time of an earlier id
  // (it stepped back) carries that later time in its id, and counts at that time here.
  std::optional<UnixMillis> until;
  int limit = 50;
  std::string after_id;  // cursor: ids strictly greater than this
};

// Which organizations a retention batch covers: one organization with a period of its own, or
// (kWithoutOwnPeriod) every organization without its own period of that kind.
using RetentionScope = std::optional<std::int64_t>;
inline constexpr RetentionScope kWithoutOwnPeriod = std::nullopt;

struct DeliveryCounts {
  std::int64_t pending = 0, delivering = 0, succeeded = 0, failed = 0;
};

// The deliveries that are not done with: waiting or being sent, and given up (dead letters).
struct DeliveryBacklog {
  std::int64_t pending = 0, delivering = 0, failed = 0;
};

// ---- Statistics (GET /stats) ----
// Every figure but `open` is about the deliveries created at or after `since`: the store reads
// them as a range of the deliveries' primary key (ids sort by creation time), never the whole
// table.
struct StatsQuery {
  UnixMillis since = 0;
  UnixMillis bucket_ms = 60'000;
  int top_failing = 5;  // how many of the configurations with the most failures
};

struct StatsBucket {
  UnixMillis start = 0;   // since + k * bucket_ms
  DeliveryCounts counts;  // the bucket's deliveries by their current status
};

struct ConfigFailures {
  std::int64_t config_id = 0;
  std::string name;
  std::int64_t failed = 0;    // given up (kFailed)
  std::int64_t retrying = 0;  // kPending after at least one failed attempt
};

struct DisabledConfig {
  std::int64_t config_id = 0;
  std::string name;
  std::string reason;
  UnixMillis disabled_at = 0;  // its last change
};

struct DeliveryStats {
  std::vector<StatsBucket> buckets;  // only buckets with deliveries, oldest first
  DeliveryCounts open;               // pending and delivering now, whenever created
  // Acceptance (created_at) to the recorded success, over the window's succeeded deliveries.
  std::int64_t latency_samples = 0;
  std::optional<std::int64_t> latency_p50_ms, latency_p99_ms;
  std::vector<ConfigFailures> top_failing;  // most failed + retrying first
  std::vector<DisabledConfig> disabled;     // inactive, with a reason the platform gave
};

class Store : public EventTypeStore {
 public:
  ~Store() override = default;

  // Cheap round trip to the database, for /readyz.
  virtual Status Ping() = 0;

  // ---- Webhook configurations ----
  // Stores `config` (its id, created_at and updated_at are assigned) and returns the stored row.
  // kLimitExceeded, storing nothing, when its organization already has `max_per_organization`
  // configurations that are not deleted; concurrent creates (on any node) cannot pass it.
  // `audit`: its object id is the new configuration's.
  virtual Result<WebhookConfig> CreateConfig(const WebhookConfig& config,
                                             std::int64_t max_per_organization,
                                             const AuditEntry* audit = nullptr) = 0;
  // Deleted configurations are returned too (is_deleted = true).
  virtual Result<WebhookConfig> GetConfig(std::int64_t id, OrgScope scope) = 0;
  // Ordered by id. `filter.organization_id` is ANDed with scope.
  virtual Result<Page<WebhookConfig>> ListConfigs(const ConfigFilter& filter, OrgScope scope) = 0;
  // Replaces every stored field of the row `config.id` (except id, organization_id and
  // created_at) and sets updated_at. NotFound if it does not exist in scope or is deleted.
  virtual Result<WebhookConfig> UpdateConfig(const WebhookConfig& config, OrgScope scope,
                                             const AuditEntry* audit = nullptr) = 0;
  // Soft delete: is_deleted = true, active = false. NotFound if absent or already deleted.
  virtual Status DeleteConfig(std::int64_t id, OrgScope scope,
                              const AuditEntry* audit = nullptr) = 0;

  // ---- API keys ----
  // `audit`: its object id is the new key's.
  virtual Result<ApiKey> CreateApiKey(const ApiKey& key, const AuditEntry* audit = nullptr) = 0;
  // NotFound for unknown or revoked keys. May answer from a cache: a key revoked by another
  // store (process or node) may still be found for up to 5 s; one revoked here is not.
  virtual Result<ApiKey> FindApiKeyByHash(const std::string& hash) = 0;
  // Active keys only, ordered by id; an organization scope sees only its own keys.
  virtual Result<std::vector<ApiKey>> ListApiKeys(OrgScope scope) = 0;
  virtual Status RevokeApiKey(std::int64_t id, OrgScope scope,
                              const AuditEntry* audit = nullptr) = 0;
  // Every key ever created, revoked ones included: 0 means a brand-new database.
  virtual Result<std::int64_t> CountApiKeys() = 0;

  // ---- Events ----
  // Stores each event and, in the same transaction, one kPending delivery (next_attempt_at =
  // now) per active, non-deleted configuration of its organization and event type, or a
  // kDelivering one when the DeliveryHandoff takes it.
  // Implementations group concurrent calls into one commit. Results are in input order;
  // one failing item does not fail the others, except that when the call's events would create
  // more deliveries than `limits.max_deliveries` (an idempotent replay creates none), every
  // item fails with kLimitExceeded and nothing is stored.
  using IngestDone = std::function<void(std::vector<Result<IngestedEvent>>)>;
  // Returns at once; `done` gets the results after the commit, on a store thread, where it must
  // not block. An HTTP handler waits this way without holding a thread, so every request in
  // flight can share one commit.
  virtual void IngestEventsAsync(std::vector<NewEvent> events, IngestLimits limits,
                                 IngestDone done) = 0;
  // IngestEventsAsync, waiting for the results.
  std::vector<Result<IngestedEvent>> IngestEvents(std::vector<NewEvent> events,
                                                  IngestLimits limits = {});
  virtual Result<Event> GetEvent(const std::string& id, OrgScope scope) = 0;
  virtual Result<std::vector<Delivery>> DeliveriesOfEvent(const std::string& event_id,
                                                          OrgScope scope) = 0;

  // ---- Deliveries and attempts ----
  virtual Result<Delivery> GetDelivery(const std::string& id, OrgScope scope) = 0;
  // Ordered by id. The walk reads the primary key between the ids `since` and `until` allow
  // (ids sort by creation time), checking the other filters on each row: a page costs the
  // deliveries passed over to fill it, however large the table.
  virtual Result<Page<Delivery>> ListDeliveries(const DeliveryFilter& filter, OrgScope scope) = 0;
  // Oldest first.
  virtual Result<std::vector<Attempt>> ListAttempts(const std::string& delivery_id,
                                                    OrgScope scope) = 0;

  // Marks up to `limit` due deliveries (kPending, next_attempt_at <= now) kDelivering with a
  // lease until `lease_until`, and returns them, oldest next_attempt_at first. Deliveries whose
  // configuration is deleted or inactive are not returned: they become kFailed with the reason.
  // Deliveries of the configurations in `skip_config_ids` are left pending for a later claim
  // (the dispatcher holds enough for their endpoint already).
  virtual Result<std::vector<DeliveryJob>> ClaimDue(
      UnixMillis now, int limit, UnixMillis lease_until,
      const std::vector<std::int64_t>& skip_config_ids) = 0;
  // Earliest next_attempt_at of a kPending delivery, or nullopt if none is pending.
  virtual Result<std::optional<UnixMillis>> NextDueAt() = 0;
  // kDelivering deliveries whose lease ended before `now` return to kPending (due now).
  // Returns how many were released.
  virtual Result<std::int64_t> ReleaseExpiredLeases(UnixMillis now) = 0;
  // kDelivering deliveries leased by this store's node, whatever their lease, return to
  // kPending (due now): at start-up they can only be a previous run's, interrupted. SQLite (one
  // node): every kDelivering delivery. PostgreSQL: those whose lease names this node's id, so a
  // node restarted with the same --node-id sends them again at once. Returns how many.
  virtual Result<std::int64_t> ReleaseOwnLeases() = 0;
  // Records attempts and their effects on deliveries and configurations, in one transaction.
  // An outcome that ends a FIFO turn (ends_fifo_turn) starts the next: leased and handed to the
  // DeliveryHandoff after the commit (TakeNextTurns) if it takes it, otherwise due now.
  virtual Status RecordAttempts(const std::vector<AttemptOutcome>& outcomes) = 0;
  // Manual retry: the delivery (any status but kDelivering) becomes kPending, due now, and its
  // next attempt is recorded as manual. Conflict while it is being delivered. `audit`: its
  // organization is the delivery's.
  virtual Result<Delivery> RetryDelivery(const std::string& id, OrgScope scope,
                                         const AuditEntry* audit = nullptr) = 0;
  // Re-queues every kFailed delivery of the configuration created at or after `since`, as
  // manual retries. Returns how many.
  virtual Result<std::int64_t> RecoverConfig(std::int64_t config_id, UnixMillis since,
                                             OrgScope scope, const AuditEntry* audit = nullptr) = 0;
  // Every delivery by status: a scan of the whole table, for tests and checks, never for a
  // request path.
  virtual Result<DeliveryCounts> CountDeliveries() = 0;
  // The backlog (GET /metrics), from partial indexes: its cost follows the deliveries pending,
  // delivering and failed, not the succeeded ones that make up most of the table.
  virtual Result<DeliveryBacklog> CountBacklog() = 0;
  // What the console's overview shows (see StatsQuery), in `scope`.
  virtual Result<DeliveryStats> Stats(const StatsQuery& query, OrgScope scope) = 0;
  virtual WriterStats GetWriterStats() const = 0;

  // ---- Retention ----
  // Deletes up to `max_events` events of `scope` created before `cutoff` (oldest first)
  // together with their deliveries and attempts, in one short transaction. An event with a
  // delivery that is kPending or kDelivering is kept, however old. Returns how many events it
  // deleted: fewer than `max_events` means nothing more is purgeable now. `max_events` <= 0
  // deletes nothing.
  virtual Result<std::int64_t> PurgeBefore(UnixMillis cutoff, int max_events,
                                           RetentionScope scope) = 0;
  // Payload retention: like PurgeBefore, but the events, deliveries and attempts stay; up to
  // `max_events` events not erased yet get payload "null" and payload_erased_at = now, and their
  // attempts' request headers, response headers and response bodies are emptied. A manual retry
  // or recovery no longer requeues their deliveries. Returns how many events it erased.
  virtual Result<std::int64_t> ErasePayloadsBefore(UnixMillis cutoff, int max_events,
                                                   RetentionScope scope) = 0;
  // The organization's own periods; zeros (server defaults) when it has none stored.
  virtual Result<OrganizationSettings> GetOrganizationSettings(std::int64_t organization_id) = 0;
  // Stores every field of `settings` (a zero period goes back to the server's default).
  virtual Result<OrganizationSettings> PutOrganizationSettings(
      const OrganizationSettings& settings, const AuditEntry* audit = nullptr) = 0;
  // The organizations with a period of their own, of either kind, by id.
  virtual Result<std::vector<OrganizationSettings>> ListOrganizationOverrides() = 0;

  // ---- Audit log (append-only) ----
  // Appends `entry` (its id assigned, `at` kept as given) in the writer's next batch, together
  // with whatever else commits then: the entry of a request that changed nothing (refused, or
  // a read of patient data); a change passes its entry to the method that makes it. Returns at
  // once; `done` gets the outcome after the commit, on a store thread, where it must not block.
  virtual void AppendAuditAsync(AuditEntry entry, std::function<void(Status)> done) = 0;
  // AppendAuditAsync, waiting for the commit.
  Status AppendAudit(AuditEntry entry);
  // Ordered by id. `filter.organization_id` is ANDed with scope: an organization sees only
  // entries about itself.
  virtual Result<Page<AuditEntry>> ListAudit(const AuditFilter& filter, OrgScope scope) = 0;
  // Deletes up to `max_entries` entries older than `cutoff`, oldest first; returns how many.
  virtual Result<std::int64_t> PurgeAuditBefore(UnixMillis cutoff, int max_entries) = 0;

  // Called (on the committing thread) after a commit that made a delivery due, so that an
  // idle dispatcher wakes up without polling. Set once, before serving.
  virtual void SetWorkListener(std::function<void()> listener) = 0;
  // Lets `handoff` take new events' deliveries (see DeliveryHandoff); nullptr stops it. The
  // store keeps it alive while an ingestion that saw it runs. Deliveries it takes are leased as
  // a ClaimDue of this store would lease them (PostgreSQL: in this node's name).
  virtual void SetDeliveryHandoff(std::shared_ptr<DeliveryHandoff> handoff) = 0;
};

}  // namespace webhookd
