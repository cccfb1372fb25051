#include "store/encrypting_store.hpp"

#include <spdlog/spdlog.h>

#include <tuple>
#include <utility>

namespace webhookd {
namespace {

constexpr std::string_view kEventPayload = "payload";
constexpr std::string_view kResponseHeaders = "response_headers_json";
constexpr std::string_view kResponseBody = "response_body";

std::string EventContext(const std::string& event_id) {
  return SealedContext("events", kEventPayload, event_id);
}

std::string AttemptContext(std::string_view column, const std::string& delivery_id) {
  return SealedContext("attempts", column, delivery_id);
}

// What failing a job needs of its configuration, kept before opening moves the configuration
// away; the job's delivery id and `manual` are read from the job itself, which opening leaves.
struct ConfigIdentity {
  std::int64_t id = 0;
  DeliveryOrdering ordering = DeliveryOrdering::kNone;
};

// A delivery whose event or configuration does not open cannot be sent; retrying would not help.
AttemptOutcome UnreadableOutcome(const DeliveryJob& job, ConfigIdentity config, const Error& error,
                                 UnixMillis now) {
  AttemptOutcome outcome;
  outcome.attempt.delivery_id = job.delivery.id;
  outcome.attempt.attempted_at = now;
  outcome.attempt.error = "not sent: " + error.message;
  outcome.attempt.manual = job.manual;
  outcome.new_status = DeliveryStatus::kFailed;
  outcome.config_id = config.id;
  outcome.ends_fifo_turn = config.ordering == DeliveryOrdering::kFifo;
  return outcome;
}

// Payload retention (docs/security.md#retention) writes a plain "null" over an erased payload.
std::optional<std::string_view> ErasedPayload(const Event& event) {
  if (event.payload_erased_at == 0) return std::nullopt;
  return "null";
}

}  // namespace

std::string SealedContext(std::string_view table, std::string_view column, std::string_view row) {
  std::string out;
  out.reserve(table.size() + column.size() + row.size() + 2);
  out.append(table).append(1, '.').append(column).append(1, '/').append(row);
  return out;
}

std::string ConfigContext(std::string_view column, std::int64_t organization_id) {
  return SealedContext("webhook_configs", column,
                       "organization-" + std::to_string(organization_id));
}

// Opens the jobs a DeliveryHandoff takes (at ingestion, or at a FIFO turn's end) before they
// reach the dispatcher.
class EncryptingStore::OpeningHandoff final : public DeliveryHandoff {
 public:
  OpeningHandoff(EncryptingStore& store, std::shared_ptr<DeliveryHandoff> inner)
      : store_(store), inner_(std::move(inner)) {}

  // Reads only ids, limits and ordering, which are never sealed.
  std::optional<UnixMillis> LeaseFor(const WebhookConfig& config, UnixMillis now) override {
    return inner_->LeaseFor(config, now);
  }
  bool HoldsBack(const WebhookConfig& config) override { return inner_->HoldsBack(config); }
  // The jobs carry the plain payload already (NewEvent::handed_off_payload_json): only their
  // configurations are opened. Take runs on a store thread, where recording an attempt could
  // wait for that very thread: a job that does not open is left leased, and fails at its claim
  // once the lease has run out.
  void Take(std::vector<DeliveryJob> jobs, UnixMillis lease_until) override {
    OpenedJobs opened = store_.OpenJobs(std::move(jobs), PayloadState::kPlain);
    if (!opened.readable.empty()) inner_->Take(std::move(opened.readable), lease_until);
  }
  std::optional<UnixMillis> LeaseForNextTurn(const WebhookConfig& config, UnixMillis now) override {
    return inner_->LeaseForNextTurn(config, now);
  }
  // Read from the store, payload and all; one that does not open is left leased, as above.
  void TakeNextTurns(std::vector<DeliveryJob> jobs, UnixMillis lease_until) override {
    OpenedJobs opened = store_.OpenJobs(std::move(jobs), PayloadState::kSealed);
    if (!opened.readable.empty()) inner_->TakeNextTurns(std::move(opened.readable), lease_until);
  }

 private:
  EncryptingStore& store_;
  const std::shared_ptr<DeliveryHandoff> inner_;
};

EncryptingStore::EncryptingStore(Store& inner, std::shared_ptr<const crypto::FieldCipher> cipher,
                                 const Clock& clock, EncryptionOptions options)
    : ForwardingStore(inner), cipher_(std::move(cipher)), clock_(clock), options_(options) {}

std::string EncryptingStore::Seal(std::string_view plain, const std::string& context) const {
  return cipher_->Seal(plain, context);
}

Result<std::string> EncryptingStore::Open(std::string_view stored, const std::string& context,
                                          std::optional<std::string_view> erased) const {
  if (crypto::FieldCipher::IsSealed(stored)) return cipher_->Open(stored, context);
  if (options_.accept_plain || stored == erased) return std::string(stored);
  return Error::Unreadable(context +
                           " is stored unencrypted in a database whose values are all encrypted");
}

WebhookConfig EncryptingStore::SealConfig(WebhookConfig c) const {
  c.attributes_json = Seal(c.attributes_json, ConfigContext("attributes_json", c.organization_id));
  c.headers_json = Seal(c.headers_json, ConfigContext("headers_json", c.organization_id));
  c.secret = Seal(c.secret, ConfigContext("secret", c.organization_id));
  c.previous_secret = Seal(c.previous_secret, ConfigContext("previous_secret", c.organization_id));
  return c;
}

Result<WebhookConfig> EncryptingStore::OpenConfig(WebhookConfig c) const {
  if (OpenFromCache(c)) return c;
  const WebhookConfig sealed = c;
  const std::string row = "configuration " + std::to_string(c.id) + ": ";
  for (auto [column, field] :
       {std::pair{"attributes_json", &c.attributes_json},
        std::pair{"headers_json", &c.headers_json}, std::pair{"secret", &c.secret},
        std::pair{"previous_secret", &c.previous_secret}}) {
    Result<std::string> plain = Open(*field, ConfigContext(column, c.organization_id));
    if (!plain.ok()) return Error::Unreadable(row + plain.error().message);
    *field = std::move(*plain);
  }
  RememberOpened(sealed, c);
  return c;
}

bool EncryptingStore::OpenFromCache(WebhookConfig& config) const {
  std::lock_guard lock(opened_mutex_);
  auto it = opened_.find(config.id);
  if (it == opened_.end() || !it->second.OpensFrom(config)) return false;
  config.attributes_json = it->second.plain.attributes_json;
  config.headers_json = it->second.plain.headers_json;
  config.secret = it->second.plain.secret;
  config.previous_secret = it->second.plain.previous_secret;
  return true;
}

void EncryptingStore::RememberOpened(const WebhookConfig& sealed,
                                     const WebhookConfig& plain) const {
  std::lock_guard lock(opened_mutex_);
  if (opened_.size() >= kOpenedConfigsKept && !opened_.contains(sealed.id)) opened_.clear();
  opened_.insert_or_assign(sealed.id, OpenedConfig{sealed, plain});
}

bool EncryptingStore::OpenedConfig::OpensFrom(const WebhookConfig& c) const {
  return c.organization_id == sealed.organization_id && c.secret == sealed.secret &&
         c.previous_secret == sealed.previous_secret &&
         c.attributes_json == sealed.attributes_json && c.headers_json == sealed.headers_json;
}

Result<WebhookConfig> EncryptingStore::CreateConfig(const WebhookConfig& config,
                                                    std::int64_t max_per_organization,
                                                    const AuditEntry* audit) {
  Result<WebhookConfig> stored =
      inner_.CreateConfig(SealConfig(config), max_per_organization, audit);
  if (!stored.ok()) return stored;
  return OpenConfig(std::move(*stored));
}

Result<WebhookConfig> EncryptingStore::GetConfig(std::int64_t id, OrgScope scope) {
  Result<WebhookConfig> stored = inner_.GetConfig(id, scope);
  if (!stored.ok()) return stored;
  return OpenConfig(std::move(*stored));
}

Result<Page<WebhookConfig>> EncryptingStore::ListConfigs(const ConfigFilter& filter,
                                                         OrgScope scope) {
  Result<Page<WebhookConfig>> page = inner_.ListConfigs(filter, scope);
  if (!page.ok()) return page;
  for (WebhookConfig& config : page->items) {
    Result<WebhookConfig> opened = OpenConfig(std::move(config));
    if (!opened.ok()) return opened.error();
    config = std::move(*opened);
  }
  return page;
}

Result<WebhookConfig> EncryptingStore::UpdateConfig(const WebhookConfig& config, OrgScope scope,
                                                    const AuditEntry* audit) {
  Result<WebhookConfig> stored = inner_.UpdateConfig(SealConfig(config), scope, audit);
  if (!stored.ok()) return stored;
  return OpenConfig(std::move(*stored));
}

void EncryptingStore::IngestEventsAsync(std::vector<NewEvent> events, IngestLimits limits,
                                        IngestDone done) {
  std::vector<std::string> payloads;
  payloads.reserve(events.size());
  for (NewEvent& event : events) {
    std::string sealed =
        cipher_->Seal(event.payload_json, EventContext(event.id), options_.payload_form);
    event.handed_off_payload_json = event.payload_json;
    payloads.push_back(std::exchange(event.payload_json, std::move(sealed)));
  }
  inner_.IngestEventsAsync(
      std::move(events), limits,
      [this, payloads = std::move(payloads),
       done = std::move(done)](std::vector<Result<IngestedEvent>> results) mutable {
        for (std::size_t i = 0; i < results.size(); ++i) {
          if (!results[i].ok()) continue;
          Event& event = results[i]->event;
          if (!results[i]->replayed) {
            event.payload_json = std::move(payloads[i]);
            continue;
          }
          Result<std::string> plain =
              Open(event.payload_json, EventContext(event.id), ErasedPayload(event));
          if (!plain.ok()) {
            results[i] = Error::Unreadable("event " + event.id + ": " + plain.error().message);
            continue;
          }
          event.payload_json = std::move(*plain);
        }
        done(std::move(results));
      });
}

Result<Event> EncryptingStore::GetEvent(const std::string& id, OrgScope scope) {
  Result<Event> event = inner_.GetEvent(id, scope);
  if (!event.ok()) return event;
  Result<std::string> plain =
      Open(event->payload_json, EventContext(event->id), ErasedPayload(*event));
  if (!plain.ok()) return Error::Unreadable("event " + id + ": " + plain.error().message);
  event->payload_json = std::move(*plain);
  return event;
}

Result<std::vector<Attempt>> EncryptingStore::ListAttempts(const std::string& delivery_id,
                                                           OrgScope scope) {
  Result<std::vector<Attempt>> attempts = inner_.ListAttempts(delivery_id, scope);
  if (!attempts.ok()) return attempts;
  for (Attempt& attempt : *attempts) {
    for (auto [column, field, erased] :
         {std::tuple{kResponseHeaders, &attempt.response_headers_json, "{}"},
          std::tuple{kResponseBody, &attempt.response_body, ""}}) {
      Result<std::string> plain =
          Open(*field, AttemptContext(column, delivery_id), std::string_view(erased));
      if (!plain.ok()) {
        return Error::Unreadable("attempt " + std::to_string(attempt.id) + " of delivery " +
                                 delivery_id + ": " + plain.error().message);
      }
      *field = std::move(*plain);
    }
  }
  return attempts;
}

Status EncryptingStore::OpenJob(DeliveryJob& job, PayloadState payload_state) const {
  if (payload_state == PayloadState::kSealed) {
    Result<std::string> payload =
        Open(job.event.payload_json, EventContext(job.event.id), ErasedPayload(job.event));
    if (!payload.ok())
      return Error::Unreadable("event " + job.event.id + ": " + payload.error().message);
    job.event.payload_json = std::move(*payload);
  }
  Result<WebhookConfig> config = OpenConfig(std::move(job.config));
  if (!config.ok()) return config.error();
  job.config = std::move(*config);
  return Status::Ok();
}

EncryptingStore::OpenedJobs EncryptingStore::OpenJobs(std::vector<DeliveryJob> jobs,
                                                      PayloadState payload_state) const {
  OpenedJobs out;
  out.readable.reserve(jobs.size());
  for (DeliveryJob& job : jobs) {
    const ConfigIdentity config{job.config.id, job.config.ordering};
    if (Status s = OpenJob(job, payload_state); !s.ok()) {
      spdlog::error("delivery {} cannot be sent: {}", job.delivery.id, s.error().message);
      out.unreadable.push_back(UnreadableOutcome(job, config, s.error(), clock_.Now()));
      continue;
    }
    out.readable.push_back(std::move(job));
  }
  return out;
}

Result<std::vector<DeliveryJob>> EncryptingStore::ClaimDue(
    UnixMillis now, int limit, UnixMillis lease_until,
    const std::vector<std::int64_t>& skip_config_ids) {
  Result<std::vector<DeliveryJob>> jobs = inner_.ClaimDue(now, limit, lease_until, skip_config_ids);
  if (!jobs.ok()) return jobs;
  OpenedJobs opened = OpenJobs(std::move(*jobs), PayloadState::kSealed);
  // If this fails, the leases run out and a later claim fails them again.
  if (!opened.unreadable.empty()) {
    if (Status s = RecordAttempts(opened.unreadable); !s.ok()) {
      spdlog::error("cannot record unreadable deliveries: {}", s.error().message);
    }
  }
  return std::move(opened.readable);
}

// Built field by field: copying the outcome first would copy a body of up to 64 KiB only to
// replace it.
AttemptOutcome EncryptingStore::SealedOutcome(const AttemptOutcome& outcome) const {
  const Attempt& a = outcome.attempt;
  // An empty body holds nothing to protect, and reads back as the "" that retention leaves.
  std::string body = a.response_body.empty()
                         ? std::string()
                         : Seal(a.response_body, AttemptContext(kResponseBody, a.delivery_id));
  return AttemptOutcome{.attempt = Attempt{.id = a.id,
                                           .delivery_id = a.delivery_id,
                                           .attempted_at = a.attempted_at,
                                           .duration_ms = a.duration_ms,
                                           .request_headers_json = a.request_headers_json,
                                           .status_code = a.status_code,
                                           .response_headers_json = Seal(
                                               a.response_headers_json,
                                               AttemptContext(kResponseHeaders, a.delivery_id)),
                                           .response_body = std::move(body),
                                           .error = a.error,
                                           .manual = a.manual},
                        .new_status = outcome.new_status,
                        .next_attempt_at = outcome.next_attempt_at,
                        .config_id = outcome.config_id,
                        .config_effect = outcome.config_effect,
                        .disable_reason = outcome.disable_reason,
                        .ends_fifo_turn = outcome.ends_fifo_turn};
}

Status EncryptingStore::RecordAttempts(const std::vector<AttemptOutcome>& outcomes) {
  std::vector<AttemptOutcome> sealed;
  sealed.reserve(outcomes.size());
  for (const AttemptOutcome& outcome : outcomes) sealed.push_back(SealedOutcome(outcome));
  return inner_.RecordAttempts(sealed);
}

void EncryptingStore::SetDeliveryHandoff(std::shared_ptr<DeliveryHandoff> handoff) {
  if (!handoff) {
    inner_.SetDeliveryHandoff(nullptr);
    return;
  }
  inner_.SetDeliveryHandoff(std::make_shared<OpeningHandoff>(*this, std::move(handoff)));
}

}  // namespace webhookd
