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

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/clock.hpp"
#include "crypto/field_cipher.hpp"
#include "store/forwarding_store.hpp"

namespace webhookd {

// The associated data of one sealed value: "table.column/row".
std::string SealedContext(std::string_view table, std::string_view column, std::string_view row);
std::string ConfigContext(std::string_view column, std::int64_t organization_id);

struct EncryptionOptions {
  // Values stored before encryption was turned on (an upgraded database that `webhookd
  // encryption rewrap` has not finished) are read as they are; otherwise a value that is not
  // sealed is kUnreadable, so that nobody can slip a plain value in.
  bool accept_plain = false;
  // How event payloads are sealed: as bytes where the backend stores them as bytes
  // (SealedRows::FormOf).
  crypto::SealedForm payload_form = crypto::SealedForm::kText;
};

class EncryptingStore final : public ForwardingStore {
 public:
  EncryptingStore(Store& inner, std::shared_ptr<const crypto::FieldCipher> cipher,
                  const Clock& clock, EncryptionOptions options);

  // What holds sealed values; every other call passes through (the catalog's schemas and
  // samples, ids, times, statuses and audit entries are not patient data).
  Result<WebhookConfig> CreateConfig(const WebhookConfig& config, std::int64_t max_per_organization,
                                     const AuditEntry* audit = nullptr) override;
  Result<WebhookConfig> GetConfig(std::int64_t id, OrgScope scope) override;
  Result<Page<WebhookConfig>> ListConfigs(const ConfigFilter& filter, OrgScope scope) override;
  Result<WebhookConfig> UpdateConfig(const WebhookConfig& config, OrgScope scope,
                                     const AuditEntry* audit = nullptr) override;
  void IngestEventsAsync(std::vector<NewEvent> events, IngestLimits limits,
                         IngestDone done) override;
  Result<Event> GetEvent(const std::string& id, OrgScope scope) override;
  Result<std::vector<Attempt>> ListAttempts(const std::string& delivery_id,
                                            OrgScope scope) override;
  Result<std::vector<DeliveryJob>> ClaimDue(
      UnixMillis now, int limit, UnixMillis lease_until,
      const std::vector<std::int64_t>& skip_config_ids) override;
  Status RecordAttempts(const std::vector<AttemptOutcome>& outcomes) override;
  void SetDeliveryHandoff(std::shared_ptr<DeliveryHandoff> handoff) override;

 private:
  class OpeningHandoff;

  std::string Seal(std::string_view plain, const std::string& context) const;
  // `erased`: the plain value payload retention leaves in place of this one, if it may have.
  Result<std::string> Open(std::string_view stored, const std::string& context,
                           std::optional<std::string_view> erased = std::nullopt) const;
  AttemptOutcome SealedOutcome(const AttemptOutcome& outcome) const;
  WebhookConfig SealConfig(WebhookConfig config) const;
  Result<WebhookConfig> OpenConfig(WebhookConfig config) const;
  // A configuration opened earlier from the same sealed values: every delivery carries its
  // configuration, which is opened once per change of the row rather than once per delivery.
  struct OpenedConfig {
    WebhookConfig sealed;
    WebhookConfig plain;
    bool OpensFrom(const WebhookConfig& config) const;
  };
  static constexpr std::size_t kOpenedConfigsKept = 4'096;
  bool OpenFromCache(WebhookConfig& config) const;
  void RememberOpened(const WebhookConfig& sealed, const WebhookConfig& plain) const;

  // Whether a job's payload is as stored, or already plain (handed off at ingestion).
  enum class PayloadState { kSealed, kPlain };
  Status OpenJob(DeliveryJob& job, PayloadState payload_state) const;
  struct OpenedJobs {
    std::vector<DeliveryJob> readable;
    std::vector<AttemptOutcome> unreadable;  // failing each job that does not open, saying why
  };
  OpenedJobs OpenJobs(std::vector<DeliveryJob> jobs, PayloadState payload_state) const;

  const std::shared_ptr<const crypto::FieldCipher> cipher_;
  const Clock& clock_;
  const EncryptionOptions options_;
  mutable std::mutex opened_mutex_;
  mutable std::unordered_map<std::int64_t, OpenedConfig> opened_;  // by configuration id
};

}  // namespace webhookd
