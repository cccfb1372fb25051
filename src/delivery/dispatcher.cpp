#include "delivery/dispatcher.hpp"

#include <limits>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <future>

#include "core/ids.hpp"
#include "delivery/endpoint.hpp"

namespace webhookd::delivery {
namespace {

using SteadyClock = std::chrono::steady_clock;

// After a store error, the loop waits this long before asking the store again.
constexpr std::int64_t kStoreRetryMs = 1'000;
// When the store says something is due but a claim just found nothing, look again after this
// long at the latest (a commit in between calls Wake() anyway): never spin on the store.
constexpr std::int64_t kRecheckDueMs = 1'000;

std::int64_t ElapsedMs(SteadyClock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - start).count();
}

std::int64_t LeaseFor(const DispatcherOptions& options) {
  std::int64_t longest_request =
      std::max(options.request_timeout_ms, options.max_request_timeout_ms);
  return std::max(options.lease_ms, longest_request + options.lease_margin_ms);
}

OutcomeSettings WithRandom(OutcomeSettings settings) {
  if (!settings.random) settings.random = DefaultUniformRandom();
  return settings;
}

}  // namespace

// Where HttpClient callbacks leave their responses. Shared with the callbacks so that a
// response arriving after the dispatcher is gone lands here harmlessly.
struct Dispatcher::Inbox {
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<Completion> completions;  // guarded by mutex
  bool wake = false;                    // guarded by mutex
  bool stopping = false;                // guarded by mutex

  void Push(Completion completion) {
    {
      std::lock_guard lock(mutex);
      completions.push_back(std::move(completion));
    }
    changed.notify_one();
  }
};

Dispatcher::Dispatcher(Store& store, HttpClient& client, const Clock& clock, const Catalog& catalog,
                       DispatcherOptions options)
    : store_(store),
      client_(client),
      clock_(clock),
      catalog_(catalog),
      options_(std::move(options)),
      lease_ms_(LeaseFor(options_)),
      decider_(WithRandom(options_.outcome)),
      inbox_(std::make_shared<Inbox>()) {
  if (lease_ms_ != options_.lease_ms && options_.lease_ms != 0) {
    spdlog::warn("delivery lease raised from {} ms to {} ms: it must outlast the longest request",
                 options_.lease_ms, lease_ms_);
  }
}

Dispatcher::~Dispatcher() { Stop(); }

void Dispatcher::Start() {
  std::lock_guard lock(lifecycle_mutex_);
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { Run(); });
}

void Dispatcher::Stop() {
  std::lock_guard lock(lifecycle_mutex_);
  {
    std::lock_guard inbox_lock(inbox_->mutex);
    inbox_->stopping = true;
  }
  inbox_->changed.notify_one();
  if (thread_.joinable()) thread_.join();
}

void Dispatcher::Wake() {
  {
    std::lock_guard lock(inbox_->mutex);
    inbox_->wake = true;
  }
  inbox_->changed.notify_one();
}

void Dispatcher::Run() {
  ReleaseInterrupted();
  std::optional<SteadyClock::time_point> stop_deadline;
  for (;;) {
    std::vector<Completion> completions;
    bool stopping = false;
    {
      std::lock_guard lock(inbox_->mutex);
      completions.swap(inbox_->completions);
      inbox_->wake = false;
      stopping = inbox_->stopping;
    }
    UnixMillis now = clock_.Now();
    Record(std::move(completions), now);

    if (stopping && !stop_deadline) {
      stop_deadline = SteadyClock::now() + std::chrono::milliseconds(options_.shutdown_grace_ms);
      DropWaiting();
    }
    if (stopping) {
      if (in_flight_.empty() || SteadyClock::now() >= *stop_deadline) break;
    } else {
      SweepLeasesIfDue(now);
      ClaimAndSend(now);
    }

    UnixMillis wake_at = stopping ? now : NextWakeAt(now);
    std::unique_lock lock(inbox_->mutex);
    auto ready = [&] {
      return !inbox_->completions.empty() || inbox_->wake || inbox_->stopping != stopping;
    };
    if (stopping) {
      inbox_->changed.wait_until(lock, *stop_deadline, ready);
    } else {
      std::int64_t wait_ms = std::max<std::int64_t>(0, wake_at - clock_.Now());
      inbox_->changed.wait_for(lock, std::chrono::milliseconds(wait_ms), ready);
    }
  }
  if (!in_flight_.empty()) {
    spdlog::info("dispatcher stopped with {} requests unanswered; they will be sent again",
                 in_flight_.size());
  }
  UpdateGauges();
}

// A single node owns every kDelivering row: the previous run was interrupted (a crash, a
// kill -9) before it recorded them. Leases end at most lease_ms after a claim, so releasing
// leases that end before now + lease_ms releases them all.
void Dispatcher::ReleaseInterrupted() {
  UnixMillis now = clock_.Now();
  // A single node owns every lease, so at start all of them are from a run that died, whatever
  // lease length that run used.
  UnixMillis horizon =
      options_.release_all_leases_on_start ? std::numeric_limits<UnixMillis>::max() : now;
  Result<std::int64_t> released = store_.ReleaseExpiredLeases(horizon);
  if (!released.ok()) {
    spdlog::error("releasing interrupted deliveries failed: {}", released.error().message);
    next_sweep_at_ = now + kStoreRetryMs;
    return;
  }
  if (*released > 0) spdlog::info("{} interrupted deliveries returned to pending", *released);
  next_sweep_at_ = now + options_.fallback_wakeup_ms;
}

void Dispatcher::SweepLeasesIfDue(UnixMillis now) {
  if (now < next_sweep_at_) return;
  Result<std::int64_t> released = store_.ReleaseExpiredLeases(now);
  if (!released.ok()) {
    spdlog::error("releasing ended leases failed: {}", released.error().message);
    next_sweep_at_ = now + kStoreRetryMs;
    return;
  }
  if (*released > 0) spdlog::info("{} deliveries with ended leases returned to pending", *released);
  next_sweep_at_ = now + options_.fallback_wakeup_ms;
}

void Dispatcher::ClaimAndSend(UnixMillis now) {
  Pump(now);
  claim_exhausted_ = false;
  if (now < store_retry_at_) return;
  for (;;) {
    int room = std::min({options_.claim_batch_size,
                         options_.global_in_flight_cap - static_cast<int>(in_flight_.size()),
                         options_.max_held_deliveries - held_count_});
    if (room <= 0) return;
    Result<std::vector<DeliveryJob>> claimed = store_.ClaimDue(now, room, now + lease_ms_);
    if (!claimed.ok()) {
      spdlog::error("claiming due deliveries failed: {}", claimed.error().message);
      store_retry_at_ = now + kStoreRetryMs;
      return;
    }
    for (DeliveryJob& job : *claimed) {
      std::string endpoint = EndpointOf(job.config.url);
      endpoints_[endpoint].waiting.push_back(Held{std::move(job), now + lease_ms_});
      ++held_count_;
    }
    Pump(now);
    if (static_cast<int>(claimed->size()) < room) {
      claim_exhausted_ = true;
      return;
    }
  }
}

// Sends waiting deliveries, one per endpoint per round so that endpoints share the global
// cap fairly, until every endpoint is at its cap or empty or the global cap is reached.
void Dispatcher::Pump(UnixMillis now) {
  auto global_room = [&] {
    return static_cast<int>(in_flight_.size()) < options_.global_in_flight_cap;
  };
  bool progress = true;
  while (progress) {
    progress = false;
    for (auto it = endpoints_.begin(); it != endpoints_.end();) {
      Endpoint& endpoint = it->second;
      while (!endpoint.waiting.empty() && !CanStillSend(endpoint.waiting.front(), now)) {
        // Its lease would end before the request could finish: leave it to the lease sweep.
        next_sweep_at_ = std::min(next_sweep_at_, endpoint.waiting.front().lease_until + 1);
        endpoint.waiting.pop_front();
        --held_count_;
      }
      if (!endpoint.waiting.empty() && endpoint.in_flight < options_.per_endpoint_cap &&
          global_room()) {
        Held held = std::move(endpoint.waiting.front());
        endpoint.waiting.pop_front();
        Send(std::move(held), it->first, now);
        progress = true;
      }
      if (endpoint.waiting.empty() && endpoint.in_flight == 0) {
        it = endpoints_.erase(it);
      } else {
        ++it;
      }
    }
  }
  UpdateGauges();
}

bool Dispatcher::CanStillSend(const Held& held, UnixMillis now) const {
  return now + TimeoutFor(held.job.config) + options_.lease_margin_ms / 2 <= held.lease_until;
}

void Dispatcher::Send(Held held, const std::string& endpoint, UnixMillis now) {
  std::uint64_t id = next_request_id_++;
  ++endpoints_[endpoint].in_flight;
  const DeliveryJob& job = held.job;
  Result<HttpRequest> request =
      BuildRequest(job.config, job.event.id, job.event.event_type_id, job.event.payload_json, now);
  InFlight record{std::move(held.job), held.lease_until, endpoint, SentRequest{now, "{}"}};
  if (!request.ok()) {
    in_flight_.emplace(id, std::move(record));
    HttpResponse unsent;
    unsent.error = request.error().message;
    inbox_->Push(Completion{id, std::move(unsent)});
    return;
  }
  record.sent.request_headers_json = HeadersToJson(MaskSecrets(request->headers));
  in_flight_.emplace(id, std::move(record));
  client_.Send(std::move(*request), [inbox = inbox_, id](HttpResponse response) {
    inbox->Push(Completion{id, std::move(response)});
  });
}

// Decides every completion of this loop and records them all in ONE store call.
void Dispatcher::Record(std::vector<Completion> completions, UnixMillis now) {
  std::vector<Unrecorded> batch;
  if (now >= store_retry_at_) {
    for (Unrecorded& pending : unrecorded_) {
      if (pending.lease_until > now) batch.push_back(std::move(pending));
    }
    unrecorded_.clear();
  }
  for (Completion& completion : completions) {
    auto node = in_flight_.extract(completion.id);
    if (node.empty()) continue;
    InFlight& done = node.mapped();
    --endpoints_[done.endpoint].in_flight;
    --held_count_;
    const HttpResponse& response = completion.response;
    if (response.cancelled) continue;  // says nothing about the receiver; sent again later
    metrics_.attempts_by_class[static_cast<int>(ClassOf(response))].fetch_add(
        1, std::memory_order_relaxed);
    metrics_.ObserveDuration(response.duration_ms);
    batch.push_back(Unrecorded{decider_.Decide(done.job, IsInference(done.job.event.event_type_id),
                                               done.sent, response, now),
                               done.lease_until});
  }
  if (batch.empty()) return;
  if (now < store_retry_at_) {
    std::move(batch.begin(), batch.end(), std::back_inserter(unrecorded_));
    return;
  }

  std::vector<AttemptOutcome> outcomes;
  outcomes.reserve(batch.size());
  for (const Unrecorded& pending : batch) outcomes.push_back(pending.outcome);
  auto started = SteadyClock::now();
  Status recorded = store_.RecordAttempts(outcomes);
  metrics_.record_batches.fetch_add(1, std::memory_order_relaxed);
  metrics_.record_latency_sum_ms.fetch_add(ElapsedMs(started), std::memory_order_relaxed);
  if (!recorded.ok()) {
    spdlog::error("recording {} attempts failed: {}", outcomes.size(), recorded.error().message);
    metrics_.record_errors.fetch_add(1, std::memory_order_relaxed);
    unrecorded_ = std::move(batch);
    store_retry_at_ = now + kStoreRetryMs;
    return;
  }
  CountRecorded(outcomes);
}

void Dispatcher::CountRecorded(const std::vector<AttemptOutcome>& outcomes) {
  for (const AttemptOutcome& outcome : outcomes) {
    switch (outcome.new_status) {
      case DeliveryStatus::kSucceeded:
        metrics_.deliveries_succeeded.fetch_add(1, std::memory_order_relaxed);
        break;
      case DeliveryStatus::kPending:
        metrics_.deliveries_retry_scheduled.fetch_add(1, std::memory_order_relaxed);
        break;
      case DeliveryStatus::kFailed:
      case DeliveryStatus::kDelivering:
        metrics_.deliveries_failed.fetch_add(1, std::memory_order_relaxed);
        break;
    }
    if (outcome.config_effect == ConfigEffect::kDisable) {
      spdlog::warn("configuration {} deactivated: {}", outcome.config_id, outcome.disable_reason);
      metrics_.configs_disabled.fetch_add(1, std::memory_order_relaxed);
    }
  }
}

// On shutdown, deliveries still waiting for their endpoint are not sent: they stay leased and
// return to pending when the lease ends or at the next start.
void Dispatcher::DropWaiting() {
  for (auto& [name, endpoint] : endpoints_) {
    held_count_ -= static_cast<int>(endpoint.waiting.size());
    endpoint.waiting.clear();
  }
  UpdateGauges();
}

UnixMillis Dispatcher::NextWakeAt(UnixMillis now) {
  UnixMillis wake_at = std::min(now + options_.fallback_wakeup_ms, next_sweep_at_);
  if (!unrecorded_.empty() || now < store_retry_at_) {
    return std::min(wake_at, std::max(store_retry_at_, now));
  }
  bool can_take_more = static_cast<int>(in_flight_.size()) < options_.global_in_flight_cap &&
                       held_count_ < options_.max_held_deliveries;
  if (!claim_exhausted_ || !can_take_more) return wake_at;  // a completion will wake us
  Result<std::optional<UnixMillis>> due = store_.NextDueAt();
  if (!due.ok()) {
    spdlog::error("reading the next due time failed: {}", due.error().message);
    store_retry_at_ = now + kStoreRetryMs;
    return std::min(wake_at, store_retry_at_);
  }
  if (!due->has_value()) return wake_at;
  UnixMillis due_at = **due > now ? **due : now + kRecheckDueMs;
  return std::min(wake_at, due_at);
}

std::int64_t Dispatcher::TimeoutFor(const WebhookConfig& config) const {
  if (config.timeout_ms <= 0) return options_.request_timeout_ms;
  return std::min(config.timeout_ms, options_.max_request_timeout_ms);
}

Result<HttpRequest> Dispatcher::BuildRequest(const WebhookConfig& config, std::string_view event_id,
                                             int event_type_id, std::string_view payload_json,
                                             UnixMillis now) const {
  const EventType* type = catalog_.Find(event_type_id);
  RequestSettings settings{options_.user_agent, options_.connect_timeout_ms, TimeoutFor(config)};
  MessageToSend message{event_id, type != nullptr ? std::string_view(type->name) : "", payload_json,
                        now};
  return BuildDeliveryRequest(config, message, settings);
}

bool Dispatcher::IsInference(int event_type_id) const {
  const EventType* type = catalog_.Find(event_type_id);
  return type != nullptr && type->is_inference;
}

void Dispatcher::UpdateGauges() {
  auto in_flight = static_cast<std::int64_t>(in_flight_.size());
  metrics_.in_flight.store(in_flight, std::memory_order_relaxed);
  metrics_.queued.store(held_count_ - in_flight, std::memory_order_relaxed);
}

HttpResponse Dispatcher::SendNow(const WebhookConfig& config, const EventType& type,
                                 std::string_view payload_json) {
  UnixMillis now = clock_.Now();
  std::string event_id = NewSortableId("evt", now);
  Result<HttpRequest> request = BuildRequest(config, event_id, type.id, payload_json, now);
  if (!request.ok()) {
    HttpResponse unsent;
    unsent.error = request.error().message;
    return unsent;
  }
  auto promise = std::make_shared<std::promise<HttpResponse>>();
  std::future<HttpResponse> response = promise->get_future();
  client_.Send(std::move(*request),
               [promise](HttpResponse result) { promise->set_value(std::move(result)); });
  return response.get();
}

}  // namespace webhookd::delivery
