#include "delivery/dispatcher.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <iterator>
#include <limits>
#include <utility>

#include "core/ids.hpp"
#include "core/thread_name.hpp"
#include "delivery/endpoint.hpp"

namespace webhookd::delivery {
namespace {

using SteadyClock = std::chrono::steady_clock;

// When the store says something is due but a claim just found nothing, look again after this
// long at the latest (a commit in between calls Wake() anyway): never spin on the store.
constexpr std::int64_t kRecheckDueMs = 1'000;
// An endpoint with every slot busy and a round waiting that answers nothing for this long is
// treated as stalled: no more of its deliveries are claimed until it answers.
constexpr std::int64_t kStalledAfterMs = 1'000;

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

// Where HttpClient callbacks leave their responses and the claimer its results. Shared with
// the callbacks so that a response arriving after the dispatcher is gone lands here harmlessly.
struct Dispatcher::Inbox {
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<Completion> completions;    // guarded by mutex
  std::optional<ClaimResult> claimed;     // guarded by mutex
  std::vector<DeliveryJob> handed_off;    // guarded by mutex
  UnixMillis handed_off_lease_until = 0;  // guarded by mutex; the earliest of their leases
  bool wake = false;                      // guarded by mutex
  bool stopping = false;                  // guarded by mutex

  void Push(Completion completion) {
    {
      std::lock_guard lock(mutex);
      completions.push_back(std::move(completion));
    }
    changed.notify_one();
  }

  void PushClaimed(ClaimResult result) {
    {
      std::lock_guard lock(mutex);
      claimed = std::move(result);
    }
    changed.notify_one();
  }

  void PushHandedOff(std::vector<DeliveryJob> jobs, UnixMillis lease_until) {
    {
      std::lock_guard lock(mutex);
      handed_off_lease_until =
          handed_off.empty() ? lease_until : std::min(handed_off_lease_until, lease_until);
      std::move(jobs.begin(), jobs.end(), std::back_inserter(handed_off));
    }
    changed.notify_one();
  }
};

// The store's end of the hand-off (see Store::SetDeliveryHandoff). The dispatcher thread opens
// and closes it; the store's writer asks it inside ingest transactions, so asking takes no lock
// unless some endpoint is stalled. Closed for good once the dispatcher stops.
class Dispatcher::Handoff final : public DeliveryHandoff {
 public:
  Handoff(std::shared_ptr<Inbox> inbox, std::int64_t lease_ms)
      : inbox_(std::move(inbox)), lease_ms_(lease_ms) {}

  std::optional<UnixMillis> LeaseFor(std::int64_t config_id, UnixMillis now) override {
    if (!open_.load(std::memory_order_acquire)) return std::nullopt;
    if (any_stalled_.load(std::memory_order_acquire)) {
      std::lock_guard lock(mutex_);
      if (std::binary_search(stalled_.begin(), stalled_.end(), config_id)) return std::nullopt;
    }
    return now + lease_ms_;
  }

  void Take(std::vector<DeliveryJob> jobs, UnixMillis lease_until) override {
    inbox_->PushHandedOff(std::move(jobs), lease_until);
  }

  // Dispatcher thread only (the only writer of stalled_, so it may read it unlocked).
  void Set(bool open, std::vector<std::int64_t> stalled_config_ids) {
    std::sort(stalled_config_ids.begin(), stalled_config_ids.end());
    if (stalled_config_ids != stalled_) {
      std::lock_guard lock(mutex_);
      stalled_ = std::move(stalled_config_ids);
      any_stalled_.store(!stalled_.empty(), std::memory_order_release);
    }
    open_.store(open, std::memory_order_release);
  }

 private:
  const std::shared_ptr<Inbox> inbox_;
  const std::int64_t lease_ms_;
  std::atomic<bool> open_{false};
  std::atomic<bool> any_stalled_{false};
  std::mutex mutex_;
  std::vector<std::int64_t> stalled_;  // sorted; written under mutex_ by the dispatcher thread
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
      inbox_(std::make_shared<Inbox>()),
      handoff_(std::make_shared<Handoff>(inbox_, lease_ms_)),
      recorder_(store_, clock_, metrics_, options_.store_retry_ms),
      claimer_(store_, clock_, lease_ms_,
               [inbox = inbox_](ClaimResult result) { inbox->PushClaimed(std::move(result)); }) {
  if (lease_ms_ != options_.lease_ms && options_.lease_ms != 0) {
    spdlog::warn("delivery lease raised from {} ms to {} ms: it must outlast the longest request",
                 options_.lease_ms, lease_ms_);
  }
}

Dispatcher::~Dispatcher() { Stop(); }

void Dispatcher::Start() {
  std::lock_guard lock(lifecycle_mutex_);
  if (thread_.joinable()) return;
  recorder_.Start();
  claimer_.Start();
  thread_ = NamedThread("dispatcher", [this] { Run(); });
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

std::shared_ptr<DeliveryHandoff> Dispatcher::handoff() const { return handoff_; }

void Dispatcher::Wake() {
  {
    std::lock_guard lock(inbox_->mutex);
    inbox_->wake = true;
  }
  inbox_->changed.notify_one();
}

// Each iteration turns completions into outcomes (handed to the recorder) and, from memory,
// into the next requests of the same endpoints; the store is never waited for here except for
// the lease sweep, every fallback_wakeup_ms.
void Dispatcher::Run() {
  ReleaseInterrupted();
  std::optional<SteadyClock::time_point> stop_deadline;
  for (;;) {
    Taken taken = TakeInbox();
    UnixMillis now = clock_.Now();
    Complete(std::move(taken.completions), now);
    // Claimed while stopping: not sent; they stay leased and are sent again later.
    if (taken.claimed && !taken.stopping) AcceptClaimed(std::move(*taken.claimed), now);
    if (!taken.handed_off.empty() && !taken.stopping) {
      Hold(std::move(taken.handed_off), taken.handed_off_lease_until, now);
    }
    if (taken.woken) {
      ++wakes_seen_;
      maybe_due_ = true;
    }

    if (taken.stopping && !stop_deadline) {
      handoff_->Set(/*open=*/false, {});
      stop_deadline = SteadyClock::now() + std::chrono::milliseconds(options_.shutdown_grace_ms);
      DropWaiting();
    }
    if (taken.stopping) {
      if (in_flight_.empty() || SteadyClock::now() >= *stop_deadline) break;
    } else {
      SweepLeasesIfDue(now);
      Pump(now);
      const Stalled stalled = FindStalled(now);
      // Ingestion hands new deliveries over only while the held set is below the claims'
      // low-water mark (a backlog waits in the store, pending, not in memory), and never a
      // stalled endpoint's.
      handoff_->Set(BelowLowWater(stalled), stalled.config_ids);
      RequestClaimIfUseful(now, stalled);
    }
    WaitForWork(taken.stopping, now, stop_deadline);
  }
  if (!in_flight_.empty()) {
    spdlog::info("dispatcher stopped with {} requests unanswered; they will be sent again",
                 in_flight_.size());
  }
  claimer_.Stop();
  recorder_.Finish(stop_deadline.value_or(SteadyClock::now()));
  UpdateGauges();
}

Dispatcher::Taken Dispatcher::TakeInbox() {
  Taken taken;
  std::lock_guard lock(inbox_->mutex);
  taken.completions.swap(inbox_->completions);
  taken.claimed = std::exchange(inbox_->claimed, std::nullopt);
  taken.handed_off.swap(inbox_->handed_off);
  taken.handed_off_lease_until = inbox_->handed_off_lease_until;
  taken.woken = std::exchange(inbox_->wake, false);
  taken.stopping = inbox_->stopping;
  return taken;
}

void Dispatcher::WaitForWork(bool stopping, UnixMillis now,
                             std::optional<SteadyClock::time_point> stop_deadline) {
  UnixMillis wake_at = stopping ? now : NextWakeAt(now);
  std::unique_lock lock(inbox_->mutex);
  auto ready = [&] {
    return !inbox_->completions.empty() || inbox_->claimed || !inbox_->handed_off.empty() ||
           inbox_->wake || inbox_->stopping != stopping;
  };
  if (stopping) {
    inbox_->changed.wait_until(lock, *stop_deadline, ready);
  } else {
    std::int64_t wait_ms = std::max<std::int64_t>(0, wake_at - clock_.Now());
    inbox_->changed.wait_for(lock, std::chrono::milliseconds(wait_ms), ready);
  }
}

// This node's leases at start-up are a previous run's, interrupted (a crash, a kill -9) before
// it recorded them, whatever lease length that run used. Other nodes' ended leases go too.
void Dispatcher::ReleaseInterrupted() {
  UnixMillis now = clock_.Now();
  Result<std::int64_t> released = store_.ReleaseOwnLeases();
  if (released.ok()) {
    if (*released > 0) spdlog::info("{} interrupted deliveries returned to pending", *released);
    released = store_.ReleaseExpiredLeases(now);
  }
  if (!released.ok()) {
    spdlog::error("releasing interrupted deliveries failed: {}", released.error().message);
    next_sweep_at_ = now + options_.store_retry_ms;
    return;
  }
  if (*released > 0) spdlog::info("{} deliveries with ended leases returned to pending", *released);
  next_sweep_at_ = now + options_.fallback_wakeup_ms;
}

void Dispatcher::SweepLeasesIfDue(UnixMillis now) {
  if (now < next_sweep_at_) return;
  Result<std::int64_t> released = store_.ReleaseExpiredLeases(now);
  if (!released.ok()) {
    spdlog::error("releasing ended leases failed: {}", released.error().message);
    next_sweep_at_ = now + options_.store_retry_ms;
    return;
  }
  if (*released > 0) spdlog::info("{} deliveries with ended leases returned to pending", *released);
  next_sweep_at_ = now + options_.fallback_wakeup_ms;
}

// Frees each finished request's endpoint slot at once and hands its decided outcome to the
// recorder; the delivery stays leased (kDelivering) until the outcome is committed.
void Dispatcher::Complete(std::vector<Completion> completions, UnixMillis now) {
  std::vector<OutcomeToRecord> decided;
  decided.reserve(completions.size());
  for (Completion& completion : completions) {
    auto node = in_flight_.extract(completion.id);
    if (node.empty()) continue;
    InFlight& done = node.mapped();
    Endpoint& endpoint = endpoints_[done.endpoint];
    --endpoint.in_flight;
    endpoint.progress_at = now;
    --held_count_;
    const HttpResponse& response = completion.response;
    if (response.cancelled) continue;  // says nothing about the receiver; sent again later
    metrics_.attempts_by_class[static_cast<int>(ClassOf(response))].fetch_add(
        1, std::memory_order_relaxed);
    metrics_.ObserveDuration(response.duration_ms);
    decided.push_back(
        OutcomeToRecord{decider_.Decide(done.job, IsInference(done.job.event.event_type_id),
                                        done.sent, response, now),
                        done.lease_until});
  }
  recorder_.Add(std::move(decided));
}

void Dispatcher::AcceptClaimed(ClaimResult claimed, UnixMillis now) {
  claim_outstanding_ = 0;
  if (!claimed.jobs.ok()) {
    claim_retry_at_ = now + options_.store_retry_ms;
    return;
  }
  const int count = static_cast<int>(claimed.jobs->size());
  Hold(std::move(*claimed.jobs), claimed.lease_until, now);
  bool short_claim = count < claimed.asked;
  if (!short_claim || wakes_seen_ != wakes_at_claim_) return;
  // Nothing more is due now: sleep until the next due time; a commit wakes us before.
  maybe_due_ = false;
  if (!claimed.next_due_at) {
    due_check_at_ = now + options_.store_retry_ms;
  } else if (!claimed.next_due_at->has_value()) {
    due_check_at_ = std::numeric_limits<UnixMillis>::max();
  } else {
    UnixMillis due_at = **claimed.next_due_at;
    due_check_at_ = due_at > now ? due_at : now + kRecheckDueMs;
  }
}

void Dispatcher::Hold(std::vector<DeliveryJob> jobs, UnixMillis lease_until, UnixMillis now) {
  for (DeliveryJob& job : jobs) {
    Endpoint& endpoint = endpoints_[EndpointOf(job.config.url)];
    if (endpoint.config_ids.empty()) endpoint.progress_at = now;
    endpoint.config_ids.insert(job.config.id);
    endpoint.waiting.push_back(Held{std::move(job), lease_until});
    ++held_count_;
  }
}

Dispatcher::Stalled Dispatcher::FindStalled(UnixMillis now) const {
  Stalled stalled;
  for (const auto& [name, endpoint] : endpoints_) {
    if (!IsStalled(endpoint, now)) continue;
    stalled.config_ids.insert(stalled.config_ids.end(), endpoint.config_ids.begin(),
                              endpoint.config_ids.end());
    stalled.held += endpoint.in_flight + static_cast<int>(endpoint.waiting.size());
  }
  return stalled;
}

// Fewer than half of max_held_deliveries are held, not counting stalled endpoints' deliveries.
bool Dispatcher::BelowLowWater(const Stalled& stalled) const {
  return held_count_ - stalled.held < std::max(1, options_.max_held_deliveries / 2);
}

// Claims run on the claimer thread, one at a time. They are asked for only when the held set
// is below half of max_held_deliveries or an endpoint with a free slot has nothing waiting,
// so that a backlog in memory is sent without a commit per refill. Stalled endpoints' held
// deliveries do not count towards that half, and their configurations are left pending in the
// store: a slow or dead receiver can neither fill the held set nor starve the others' claims.
void Dispatcher::RequestClaimIfUseful(UnixMillis now, const Stalled& stalled) {
  if (claim_outstanding_ > 0 || now < claim_retry_at_) return;
  if (!maybe_due_) {
    if (now < due_check_at_) return;
    maybe_due_ = true;
  }
  int room = std::min(options_.claim_batch_size, options_.max_held_deliveries - held_count_);
  if (room <= 0) return;
  if (!BelowLowWater(stalled) && !HasStarvedEndpoint()) return;
  claim_outstanding_ = room;
  wakes_at_claim_ = wakes_seen_;
  claimer_.Request(room, stalled.config_ids);
}

// Every slot busy, a full round waiting, and not one answer for kStalledAfterMs.
bool Dispatcher::IsStalled(const Endpoint& endpoint, UnixMillis now) const {
  return endpoint.in_flight >= options_.per_endpoint_cap &&
         static_cast<int>(endpoint.waiting.size()) >= options_.per_endpoint_cap &&
         now - endpoint.progress_at >= kStalledAfterMs;
}

bool Dispatcher::HasStarvedEndpoint() const {
  if (static_cast<int>(in_flight_.size()) >= options_.global_in_flight_cap) return false;
  return std::any_of(endpoints_.begin(), endpoints_.end(), [&](const auto& entry) {
    const Endpoint& endpoint = entry.second;
    return endpoint.waiting.empty() && endpoint.in_flight < options_.per_endpoint_cap;
  });
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

// On shutdown, deliveries still waiting for their endpoint are not sent: they stay leased and
// return to pending when the lease ends or at the next start.
void Dispatcher::DropWaiting() {
  for (auto& [name, endpoint] : endpoints_) {
    held_count_ -= static_cast<int>(endpoint.waiting.size());
    endpoint.waiting.clear();
  }
  UpdateGauges();
}

// A claim in progress and completions wake the loop themselves; otherwise it sleeps until the
// next lease sweep, the next due time, or the retry of a failed claim.
UnixMillis Dispatcher::NextWakeAt(UnixMillis now) const {
  UnixMillis wake_at = std::min(now + options_.fallback_wakeup_ms, next_sweep_at_);
  if (claim_outstanding_ > 0) return wake_at;
  if (now < claim_retry_at_) return std::min(wake_at, claim_retry_at_);
  if (!maybe_due_) return std::min(wake_at, due_check_at_);
  return wake_at;
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
