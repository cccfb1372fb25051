// A Store that passes every call to another one: the base of a Store that changes a few calls
// of the one it wraps (EncryptingStore; tests that observe or disturb a real store), so that each
// names only what it changes.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "store/store.hpp"

namespace webhookd {

class ForwardingStore : public Store {
 public:
  explicit ForwardingStore(Store& inner) : inner_(inner) {}

  Status Ping() override { return inner_.Ping(); }
  Result<WebhookConfig> CreateConfig(const WebhookConfig& config, std::int64_t max_per_organization,
                                     const AuditEntry* audit = nullptr) override {
    return inner_.CreateConfig(config, max_per_organization, audit);
  }
  Result<WebhookConfig> GetConfig(std::int64_t id, OrgScope scope) override {
    return inner_.GetConfig(id, scope);
  }
  Result<Page<WebhookConfig>> ListConfigs(const ConfigFilter& filter, OrgScope scope) override {
    return inner_.ListConfigs(filter, scope);
  }
  Result<WebhookConfig> UpdateConfig(const WebhookConfig& config, OrgScope scope,
                                     const AuditEntry* audit = nullptr) override {
    return inner_.UpdateConfig(config, scope, audit);
  }
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
  void IngestEventsAsync(std::vector<NewEvent> events, IngestLimits limits,
                         IngestDone done) override {
    inner_.IngestEventsAsync(std::move(events), limits, std::move(done));
  }
  Result<Event> GetEvent(const std::string& id, OrgScope scope) override {
    return inner_.GetEvent(id, scope);
  }
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
                                            OrgScope scope) override {
    return inner_.ListAttempts(delivery_id, scope);
  }
  Result<std::vector<DeliveryJob>> ClaimDue(
      UnixMillis now, int limit, UnixMillis lease_until,
      const std::vector<std::int64_t>& skip_config_ids) override {
    return inner_.ClaimDue(now, limit, lease_until, skip_config_ids);
  }
  Result<std::optional<UnixMillis>> NextDueAt() override { return inner_.NextDueAt(); }
  Result<std::int64_t> ReleaseExpiredLeases(UnixMillis now) override {
    return inner_.ReleaseExpiredLeases(now);
  }
  Result<std::int64_t> ReleaseOwnLeases() override { return inner_.ReleaseOwnLeases(); }
  Status RecordAttempts(const std::vector<AttemptOutcome>& outcomes) override {
    return inner_.RecordAttempts(outcomes);
  }
  Result<Delivery> RetryDelivery(const std::string& id, OrgScope scope,
                                 const AuditEntry* audit = nullptr) override {
    return inner_.RetryDelivery(id, scope, audit);
  }
  Result<std::int64_t> RecoverConfig(std::int64_t config_id, UnixMillis since, OrgScope scope,
                                     const AuditEntry* audit = nullptr) override {
    return inner_.RecoverConfig(config_id, since, scope, audit);
  }
  Result<DeliveryCounts> CountDeliveries() override { return inner_.CountDeliveries(); }
  Result<DeliveryBacklog> CountBacklog() override { return inner_.CountBacklog(); }
  Result<DeliveryStats> Stats(const StatsQuery& query, OrgScope scope) override {
    return inner_.Stats(query, scope);
  }
  WriterStats GetWriterStats() const override { return inner_.GetWriterStats(); }
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
  void AppendAuditAsync(AuditEntry entry, std::function<void(Status)> done) override {
    inner_.AppendAuditAsync(std::move(entry), std::move(done));
  }
  Result<Page<AuditEntry>> ListAudit(const AuditFilter& filter, OrgScope scope) override {
    return inner_.ListAudit(filter, scope);
  }
  Result<std::int64_t> PurgeAuditBefore(UnixMillis cutoff, int max_entries) override {
    return inner_.PurgeAuditBefore(cutoff, max_entries);
  }
  void SetWorkListener(std::function<void()> listener) override {
    inner_.SetWorkListener(std::move(listener));
  }
  void SetDeliveryHandoff(std::shared_ptr<DeliveryHandoff> handoff) override {
    inner_.SetDeliveryHandoff(std::move(handoff));
  }

 protected:
  Store& inner_;
};

}  // namespace webhookd
