// A Store that keeps patient data and secrets encrypted at rest (docs/security.md): it seals
// values on their way into the store it wraps and opens them on their way out, so that neither
// backend ever sees them in the clear and every caller sees only plain values.
//
// Sealed: event payloads (and so idempotent replays); attempts' response headers and bodies (the
// inference results); configurations' attributes (apiKey, organizationCode), headers, secret
// and previous secret. Ids, times, statuses and codes stay clear, so that queries work.
//
// Each value is bound to its table, column and row (SealedContext): an event's payload to the
// event id, an attempt's to its delivery id, a configuration's to its organization (its id is
// assigned by the insert, after the values are sealed).
//
// A value that does not open (altered, moved to another row, or under a key the key file
// lacks) fails only its own read with kUnreadable: GET answers problem+json naming the row,
// and a delivery whose event or configuration does not open fails with an attempt saying so.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/clock.hpp"
#include "crypto/field_cipher.hpp"
#include "store/store.hpp"

namespace webhookd {

// The associated data of one sealed value: "table.column/row".
std::string SealedContext(std::string_view table, std::string_view column, std::string_view row);
std::string ConfigContext(std::string_view column, std::int64_t organization_id);

struct EncryptionOptions {
  // Values stored before encryption was turned on (an upgraded database that `webhookd
  // encryption rewrap` has not finished) are read as they are; otherwise a value that is not
  // sealed is kUnreadable, so that nobody can slip a plain value in.
  bool accept_plain = false;
};

class EncryptingStore final : public Store {
 public:
  // `inner` and `clock` must outlive this store.
  EncryptingStore(Store& inner, std::shared_ptr<const crypto::FieldCipher> cipher,
                  const Clock& clock, EncryptionOptions options);

  Status Ping() override { return inner_.Ping(); }
  Result<WebhookConfig> CreateConfig(const WebhookConfig& config, std::int64_t max_per_organization,
                                     const AuditEntry* audit = nullptr) override;
  Result<WebhookConfig> GetConfig(std::int64_t id, OrgScope scope) override;
  Result<Page<WebhookConfig>> ListConfigs(const ConfigFilter& filter, OrgScope scope) override;
  Result<WebhookConfig> UpdateConfig(const WebhookConfig& config, OrgScope scope,
                                     const AuditEntry* audit = nullptr) override;
  Status DeleteConfig(std::int64_t id, OrgScope scope, const AuditEntry* audit = nullptr) override {
    return inner_.DeleteConfig(id, scope, audit);
  }

  Result<ApiKey> CreateApiKey(const ApiKey& key, const AuditEntry* audit = nullptr) override {
    return inner_.CreateApiKey(key, audit);
  }
  Result<ApiKey> FindApiKeyByHash(const std::string& hash) override {
    return inner_.FindApiKeyByHash(hash);
  }
  Result<std::vector<ApiKey>> ListApiKeys(OrgScope scope) override {
    return inner_.ListApiKeys(scope);
  }
  Status RevokeApiKey(std::int64_t id, OrgScope scope, const AuditEntry* audit = nullptr) override {
    return inner_.RevokeApiKey(id, scope, audit);
  }
  Result<std::int64_t> CountApiKeys() override { return inner_.CountApiKeys(); }

  void IngestEventsAsync(std::vector<NewEvent> events, IngestLimits limits,
                         IngestDone done) override;
  Result<Event> GetEvent(const std::string& id, OrgScope scope) override;
  Result<std::vector<Delivery>> DeliveriesOfEvent(const std::string& event_id,
                                                  OrgScope scope) override {
    return inner_.DeliveriesOfEvent(event_id, scope);
  }

  Result<Delivery> GetDelivery(const std::string& id, OrgScope scope) override {
    return inner_.GetDelivery(id, scope);
  }
  Result<Page<Delivery>> ListDeliveries(const DeliveryFilter& filter, OrgScope scope) override {
    return inner_.ListDeliveries(filter, scope);
  }
  Result<std::vector<Attempt>> ListAttempts(const std::string& delivery_id,
                                            OrgScope scope) override;
  Result<std::vector<DeliveryJob>> ClaimDue(
      UnixMillis now, int limit, UnixMillis lease_until,
      const std::vector<std::int64_t>& skip_config_ids) override;
  Result<std::optional<UnixMillis>> NextDueAt() override { return inner_.NextDueAt(); }
  Result<std::int64_t> ReleaseExpiredLeases(UnixMillis now) override {
    return inner_.ReleaseExpiredLeases(now);
  }
  Result<std::int64_t> ReleaseOwnLeases() override { return inner_.ReleaseOwnLeases(); }
  Status RecordAttempts(const std::vector<AttemptOutcome>& outcomes) override;
  Result<Delivery> RetryDelivery(const std::string& id, OrgScope scope,
                                 const AuditEntry* audit = nullptr) override {
    return inner_.RetryDelivery(id, scope, audit);
  }
  Result<std::int64_t> RecoverConfig(std::int64_t config_id, UnixMillis since, OrgScope scope,
                                     const AuditEntry* audit = nullptr) override {
    return inner_.RecoverConfig(config_id, since, scope, audit);
  }
  Result<DeliveryCounts> CountDeliveries() override { return inner_.CountDeliveries(); }
  WriterStats GetWriterStats() const override { return inner_.GetWriterStats(); }
  Result<DeliveryStats> Stats(const StatsQuery& query, OrgScope scope) override {
    return inner_.Stats(query, scope);
  }
  Result<std::int64_t> PurgeBefore(UnixMillis cutoff, int max_events,
                                   RetentionScope scope) override {
    return inner_.PurgeBefore(cutoff, max_events, scope);
  }
  Result<std::int64_t> ErasePayloadsBefore(UnixMillis cutoff, int max_events,
                                           RetentionScope scope) override {
    return inner_.ErasePayloadsBefore(cutoff, max_events, scope);
  }
  Result<OrganizationSettings> GetOrganizationSettings(std::int64_t organization_id) override {
    return inner_.GetOrganizationSettings(organization_id);
  }
  Result<OrganizationSettings> PutOrganizationSettings(const OrganizationSettings& settings,
                                                       const AuditEntry* audit = nullptr) override {
    return inner_.PutOrganizationSettings(settings, audit);
  }
  Result<std::vector<OrganizationSettings>> ListOrganizationOverrides() override {
    return inner_.ListOrganizationOverrides();
  }
  // Audit entries name who did what to which object; they hold no patient data.
  void AppendAuditAsync(AuditEntry entry, std::function<void(Status)> done) override {
    inner_.AppendAuditAsync(std::move(entry), std::move(done));
  }
  Result<Page<AuditEntry>> ListAudit(const AuditFilter& filter, OrgScope scope) override {
    return inner_.ListAudit(filter, scope);
  }
  Result<std::int64_t> PurgeAuditBefore(UnixMillis cutoff, int max_entries) override {
    return inner_.PurgeAuditBefore(cutoff, max_entries);
  }
  // The catalog (schemas and samples) is the platform's, not patient data.
  Result<std::vector<StoredEventType>> ListEventTypes() override { return inner_.ListEventTypes(); }
  Result<StoredEventType> CreateEventType(const StoredEventType& type,
                                          const AuditEntry* audit = nullptr) override {
    return inner_.CreateEventType(type, audit);
  }
  Result<StoredEventType> AddEventTypeVersion(const StoredEventType& version,
                                              const AuditEntry* audit = nullptr) override {
    return inner_.AddEventTypeVersion(version, audit);
  }
  Status ArchiveEventType(int id, const AuditEntry* audit = nullptr) override {
    return inner_.ArchiveEventType(id, audit);
  }
  Result<std::int64_t> CatalogVersion() override { return inner_.CatalogVersion(); }
  void SetWorkListener(std::function<void()> listener) override {
    inner_.SetWorkListener(std::move(listener));
  }
  void SetDeliveryHandoff(std::shared_ptr<DeliveryHandoff> handoff) override;

 private:
  class OpeningHandoff;

  std::string Seal(std::string_view plain, const std::string& context) const;
  // `erased`: the plain value payload retention leaves in place of this one, if it may have.
  Result<std::string> Open(std::string_view stored, const std::string& context,
                           std::optional<std::string_view> erased = std::nullopt) const;
  WebhookConfig SealConfig(WebhookConfig config) const;
  Result<WebhookConfig> OpenConfig(WebhookConfig config) const;
  Status OpenJob(DeliveryJob& job) const;
  struct OpenedJobs {
    std::vector<DeliveryJob> readable;
    std::vector<AttemptOutcome> unreadable;  // failing each job that does not open, saying why
  };
  OpenedJobs OpenJobs(std::vector<DeliveryJob> jobs) const;

  Store& inner_;
  const std::shared_ptr<const crypto::FieldCipher> cipher_;
  const Clock& clock_;
  const EncryptionOptions options_;
};

}  // namespace webhookd
