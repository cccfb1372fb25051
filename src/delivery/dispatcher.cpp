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
#include "delivery/origin.hpp"

namespace webhookd::delivery {
namespace {

using SteadyClock = std::chrono::steady_clock;

// When the store says something is due but a claim just found nothing, look again after this
// long at the latest (a commit in between calls Wake() anyway): never spin on the store.
constexpr std::int64_t kRecheckDueMs = 1'000;
// A configuration with every slot busy and a round waiting that answers nothing for this long
// is treated as stalled: no more of its deliveries are claimed until it answers.
constexpr std::int64_t kStalledAfterMs = 1'000;
// A rate-limited configuration holds at most this many seconds of its rate in memory; the rest
// stays pending in the store (a backlog at 1/s must not fill the held set, nor outlive leases).
constexpr std::int64_t kRateLimitedHoldSeconds = 2;
// How long a configuration's prepared form outlives its last send (Dispatcher::Prepared).
constexpr std::int64_t kPreparedKeptMs = 60'000;

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

// Where HttpClient callbacks leave their responses, the claimer its results and ingestion its
// deliveries; each arrival posts one iteration of the dispatcher to its loop (one at a time:
// arrivals before it runs share it). Shared with the callbacks, so that a response arriving
// after the dispatcher is gone lands here harmlessly: the loop's last iteration clears `owner`.
struct Dispatcher::Inbox : std::enable_shared_from_this<Dispatcher::Inbox> {
  std::mutex mutex;
  std::vector<Completion> completions;    // guarded by mutex
  std::optional<ClaimResult> claimed;     // guarded by mutex
  std::vector<SweepResult> swept;         // guarded by mutex
  std::vector<DeliveryJob> handed_off;    // guarded by mutex
  UnixMillis handed_off_lease_until = 0;  // guarded by mutex; the earliest of their leases
  bool wake = false;                      // guarded by mutex
  bool stopping = false;                  // guarded by mutex
  Dispatcher* owner = nullptr;            // guarded by mutex; set while the loop runs it
  EventLoop* loop = nullptr;              // guarded by mutex
  bool iteration_posted = false;          // guarded by mutex
  bool let_go = false;                    // guarded by mutex; owner cleared for good
  std::condition_variable let_go_changed;

  void Push(Completion completion) {
    std::lock_guard lock(mutex);
    completions.push_back(std::move(completion));
    PostIteration();
  }

  void PushClaimed(ClaimResult result) {
    std::lock_guard lock(mutex);
    claimed = std::move(result);
    PostIteration();
  }

  void PushSwept(SweepResult result) {
    std::lock_guard lock(mutex);
    swept.push_back(result);
    PostIteration();
  }

  void PushHandedOff(std::vector<DeliveryJob> jobs, UnixMillis lease_until) {
    std::lock_guard lock(mutex);
    handed_off_lease_until =
        handed_off.empty() ? lease_until : std::min(handed_off_lease_until, lease_until);
    std::move(jobs.begin(), jobs.end(), std::back_inserter(handed_off));
    PostIteration();
  }

  void Notify() {
    std::lock_guard lock(mutex);
    PostIteration();
  }

  // With mutex held.
  void PostIteration() {
    if (owner == nullptr || iteration_posted) return;
    iteration_posted = true;
    loop->Post([inbox = shared_from_this()] { inbox->RunIteration(); });
  }

  // On the loop's thread, the only one that clears `owner`, so it cannot go while it runs.
  void RunIteration() {
    Dispatcher* dispatcher = nullptr;
    {
      std::lock_guard lock(mutex);
      iteration_posted = false;
      dispatcher = owner;
    }
    if (dispatcher != nullptr) dispatcher->Iterate();
  }
};

// The store's end of the hand-off (see Store::SetDeliveryHandoff). The dispatcher's loop opens
// and closes it; the store's writer asks it inside ingest transactions, so asking takes no lock
// unless some configuration is held back. Closed for good once the dispatcher stops. FIFO and
// rate-limited configurations are never taken at ingestion: the claim knows which of a FIFO
// one's deliveries is next (and so does the end of its turn, LeaseForNextTurn), and which node
// holds a rate-limited one's queue (PostgreSQL).
class Dispatcher::Handoff final : public DeliveryHandoff {
 public:
  Handoff(std::shared_ptr<Inbox> inbox, std::int64_t lease_ms)
      : inbox_(std::move(inbox)), lease_ms_(lease_ms) {}

  std::optional<UnixMillis> LeaseFor(const WebhookConfig& config, UnixMillis now) override {
    if (!open_.load(std::memory_order_acquire)) return std::nullopt;
    if (config.ordering == DeliveryOrdering::kFifo || config.rate_limit > 0) return std::nullopt;
    if (HoldsBack(config)) return std::nullopt;
    return now + lease_ms_;
  }

  // The turn before it has ended, so order is kept; a rate-limited queue is still claimed (its
  // tokens, and on PostgreSQL its queue lease, live in the claim). Not HoldsBack: the held-back
  // set may still name the configuration for the turn that has just ended (the dispatcher's
  // loop updates it after handing that turn's outcome to the recorder), and a FIFO turn's
  // stall ended with its answer.
  std::optional<UnixMillis> LeaseForNextTurn(const WebhookConfig& config, UnixMillis now) override {
    if (!open_.load(std::memory_order_acquire) || config.rate_limit > 0) return std::nullopt;
    return now + lease_ms_;
  }

  bool HoldsBack(const WebhookConfig& config) override {
    if (!any_held_back_.load(std::memory_order_acquire)) return false;
    std::lock_guard lock(mutex_);
    return std::binary_search(held_back_.begin(), held_back_.end(), config.id);
  }

  void Take(std::vector<DeliveryJob> jobs, UnixMillis lease_until) override {
    inbox_->PushHandedOff(std::move(jobs), lease_until);
  }

  // The dispatcher's loop only (the only writer of held_back_, so it may read it unlocked).
  // `held_back_config_ids` ascending. Returns the configurations that left the held-back set.
  std::vector<std::int64_t> Set(bool open, const std::vector<std::int64_t>& held_back_config_ids) {
    std::vector<std::int64_t> left;
    if (held_back_config_ids != held_back_) {
      std::set_difference(held_back_.begin(), held_back_.end(), held_back_config_ids.begin(),
                          held_back_config_ids.end(), std::back_inserter(left));
      std::lock_guard lock(mutex_);
      held_back_ = held_back_config_ids;
      any_held_back_.store(!held_back_.empty(), std::memory_order_release);
    }
    open_.store(open, std::memory_order_release);
    return left;
  }

 private:
  const std::shared_ptr<Inbox> inbox_;
  const std::int64_t lease_ms_;
  std::atomic<bool> open_{false};
  std::atomic<bool> any_held_back_{false};
  std::mutex mutex_;
  std::vector<std::int64_t> held_back_;  // sorted; written under mutex_ by the dispatcher's loop
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
      claimer_(
          store_, clock_, lease_ms_,
          [inbox = inbox_](ClaimResult result) { inbox->PushClaimed(std::move(result)); },
          [inbox = inbox_](SweepResult result) { inbox->PushSwept(result); }) {
  if (lease_ms_ != options_.lease_ms && options_.lease_ms != 0) {
    spdlog::warn("delivery lease raised from {} ms to {} ms: it must outlast the longest request",
                 options_.lease_ms, lease_ms_);
  }
}

Dispatcher::~Dispatcher() { Stop(); }

void Dispatcher::Start() {
  std::lock_guard lock(lifecycle_mutex_);
  if (started_) return;
  started_ = true;
  loop_ = client_.loop();
  if (loop_ == nullptr) {
    own_loop_ = std::make_unique<ThreadEventLoop>("dispatcher");
    loop_ = own_loop_.get();
  }
  recorder_.Start();
  claimer_.Start();
  std::lock_guard inbox_lock(inbox_->mutex);
  inbox_->loop = loop_;
  inbox_->owner = this;
  inbox_->PostIteration();
}

void Dispatcher::Stop() {
  std::lock_guard lock(lifecycle_mutex_);
  if (!started_ || stopped_) return;
  stopped_ = true;
  {
    std::lock_guard inbox_lock(inbox_->mutex);
    inbox_->stopping = true;
    inbox_->PostIteration();
  }
  // The loop lets go of the dispatcher once its requests are answered or the grace period is
  // over; what is left to do blocks, so it is done here rather than on the loop's thread.
  {
    std::unique_lock inbox_lock(inbox_->mutex);
    inbox_->let_go_changed.wait(inbox_lock, [this] { return inbox_->let_go; });
  }
  claimer_.Stop();
  recorder_.Finish(stop_deadline_.value_or(SteadyClock::now()));
  UpdateGauges();
  own_loop_.reset();
}

std::shared_ptr<DeliveryHandoff> Dispatcher::handoff() const { return handoff_; }

void Dispatcher::Wake() {
  std::lock_guard lock(inbox_->mutex);
  inbox_->wake = true;
  inbox_->PostIteration();
}

// One iteration turns completions into outcomes (handed to the recorder) and, from memory, into
// the next requests of the same configurations; the store is never waited for here (claims and
// lease sweeps run on the claimer's thread, outcomes are recorded on the recorder's). Then it
// sets a timer for the next thing it must do unasked.
void Dispatcher::Iterate() {
  if (armed_ && SteadyClock::now() >= armed_until_) armed_ = false;
  Taken taken = TakeInbox();
  UnixMillis now = clock_.Now();
  for (const SweepResult& swept : taken.swept) AfterSweep(swept, now);
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

  if (taken.stopping) {
    if (!stop_deadline_) {
      handoff_->Set(/*open=*/false, {});
      stop_deadline_ = SteadyClock::now() + std::chrono::milliseconds(options_.shutdown_grace_ms);
      DropWaiting();
    }
    if (in_flight_.empty() || SteadyClock::now() >= *stop_deadline_) {
      LetGo();
      return;
    }
    ArmWake(*stop_deadline_);
    return;
  }
  SweepLeasesIfDue(now);
  Pump(now);
  HeldBack held_back = FindHeldBack(now);
  // Ingestion hands new deliveries over only while the held set is below the claims'
  // low-water mark (a backlog waits in the store, pending, not in memory), and never a
  // held-back configuration's. A configuration no longer held back may have deliveries
  // pending in the store that woke nobody when they were stored (DeliveryHandoff::HoldsBack);
  // not a FIFO one: the end of its turn, in the store, starts the next.
  const bool open = released_interrupted_ && BelowLowWater(held_back);
  for (std::int64_t config_id : handoff_->Set(open, held_back.config_ids)) {
    if (!std::binary_search(held_for_turns_.begin(), held_for_turns_.end(), config_id)) {
      maybe_due_ = true;
    }
  }
  held_for_turns_ = std::move(held_back.turn_ids);
  RequestClaimIfUseful(now, held_back);
  const std::int64_t wait_ms = std::max<std::int64_t>(0, NextWakeAt(now) - clock_.Now());
  ArmWake(SteadyClock::now() + std::chrono::milliseconds(wait_ms));
}

// Timers are not cancelled: one set for a later time than an armed one is not needed, and one
// that fires when nothing is due costs an iteration that finds nothing to do.
void Dispatcher::ArmWake(SteadyClock::time_point when) {
  if (armed_ && when >= armed_until_) return;
  armed_ = true;
  armed_until_ = when;
  loop_->PostAt(when, [inbox = inbox_] { inbox->Notify(); });
}

// The loop's last iteration: after it, nothing the loop runs reaches the dispatcher.
void Dispatcher::LetGo() {
  if (!in_flight_.empty()) {
    spdlog::info("dispatcher stopped with {} requests unanswered; they will be sent again",
                 in_flight_.size());
  }
  std::lock_guard lock(inbox_->mutex);
  inbox_->owner = nullptr;
  inbox_->let_go = true;
  // Under the lock: Stop() may destroy the dispatcher as soon as it is released (the inbox, and
  // so the mutex, live on: RunIteration holds them).
  inbox_->let_go_changed.notify_all();
}

Dispatcher::Taken Dispatcher::TakeInbox() {
  Taken taken;
  std::lock_guard lock(inbox_->mutex);
  taken.completions.swap(inbox_->completions);
  taken.claimed = std::exchange(inbox_->claimed, std::nullopt);
  taken.swept.swap(inbox_->swept);
  taken.handed_off.swap(inbox_->handed_off);
  taken.handed_off_lease_until = inbox_->handed_off_lease_until;
  taken.woken = std::exchange(inbox_->wake, false);
  taken.stopping = inbox_->stopping;
  return taken;
}

// Released deliveries are due now. A failed sweep is asked for again after store_retry_ms; a
// failed start-up release is not repeated (its leases end and the sweeps take them then).
void Dispatcher::AfterSweep(const SweepResult& swept, UnixMillis now) {
  if (swept.released > 0) maybe_due_ = true;
  if (swept.startup) {
    released_interrupted_ = true;
    next_sweep_at_ = now + (swept.ok ? options_.fallback_wakeup_ms : options_.store_retry_ms);
  } else if (!swept.ok) {
    next_sweep_at_ = std::min(next_sweep_at_, now + options_.store_retry_ms);
  }
}

void Dispatcher::SweepLeasesIfDue(UnixMillis now) {
  if (now < next_sweep_at_) return;
  claimer_.RequestSweep();
  next_sweep_at_ = now + options_.fallback_wakeup_ms;
}

// Frees each finished request's slots at once and hands its decided outcome to the recorder;
// the delivery stays leased (kDelivering) until the outcome is committed.
void Dispatcher::Complete(std::vector<Completion> completions, UnixMillis now) {
  std::vector<OutcomeToRecord> decided;
  decided.reserve(completions.size());
  for (Completion& completion : completions) {
    auto node = in_flight_.extract(completion.id);
    if (node.empty()) continue;
    InFlight& done = node.mapped();
    ConfigQueue& queue = queues_[done.job.config.id];
    --queue.in_flight;
    // A timeout is no answer: counted as one, it let a black hole out of its stall after each
    // round of timeouts, for kStalledAfterMs in which claims brought its backlog in ahead of
    // everyone's due deliveries.
    queue.last_timed_out = completion.response.timed_out;
    if (!queue.last_timed_out) queue.progress_at = now;
    --origins_[done.origin].in_flight;
    --held_count_;
    const HttpResponse& response = completion.response;
    if (response.cancelled) continue;  // says nothing about the receiver; sent again later
    metrics_.attempts_by_class[static_cast<int>(ClassOf(response))].fetch_add(
        1, std::memory_order_relaxed);
    metrics_.ObserveDuration(response.duration_ms);
    AttemptOutcome outcome = decider_.Decide(done.job, IsInference(done.job.event.event_type_id),
                                             done.sent, response, now);
    outcome.ends_fifo_turn = done.job.config.ordering == DeliveryOrdering::kFifo &&
                             outcome.new_status != DeliveryStatus::kPending;
    decided.push_back(OutcomeToRecord{std::move(outcome), done.lease_until});
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
    ConfigQueue& queue = QueueFor(job.config, now);
    queue.waiting.push_back(Held{std::move(job), lease_until});
    ++held_count_;
  }
}

// The configuration's queue, its settings brought up to date with `config` (the newest row
// seen: a changed URL or rate limit applies from the next send).
Dispatcher::ConfigQueue& Dispatcher::QueueFor(const WebhookConfig& config, UnixMillis now) {
  auto [it, created] = queues_.try_emplace(config.id);
  ConfigQueue& queue = it->second;
  if (created) {
    queue.progress_at = now;
    if (auto unanswered = unanswered_since_.extract(config.id)) {
      queue.progress_at = unanswered.mapped();
    }
  }
  if (created || queue.url != config.url) {
    queue.url = config.url;
    queue.origin = OriginOf(config.url);
  }
  queue.ordering = config.ordering;
  if (config.rate_limit <= 0) {
    queue.rate.reset();
  } else if (!queue.rate) {
    queue.rate.emplace(config.rate_limit, now);
  } else if (queue.rate->rate() != config.rate_limit) {
    queue.rate->SetRate(config.rate_limit, now);
  }
  return queue;
}

Dispatcher::HeldBack Dispatcher::FindHeldBack(UnixMillis now) const {
  HeldBack held_back;
  for (const auto& [config_id, queue] : queues_) {
    const bool held_for_rate_or_stall = IsStalled(queue, now) || HoldsEnoughForRate(queue);
    if (!held_for_rate_or_stall && !FifoTurnInFlight(queue)) continue;
    if (!held_for_rate_or_stall) held_back.turn_ids.push_back(config_id);
    held_back.config_ids.push_back(config_id);
    held_back.held += queue.in_flight + static_cast<int>(queue.waiting.size());
  }
  return held_back;
}

// Fewer than half of max_held_deliveries are held, not counting held-back configurations'.
bool Dispatcher::BelowLowWater(const HeldBack& held_back) const {
  return held_count_ - held_back.held < std::max(1, options_.max_held_deliveries / 2);
}

// Claims run on the claimer thread, one at a time. They are asked for only when the held set
// is below half of max_held_deliveries or a queue with a free slot has nothing waiting, so
// that a backlog in memory is sent without a commit per refill. Held-back configurations'
// deliveries do not count towards that half, and are left pending in the store: a slow or dead
// receiver, or a low rate limit, can neither fill the held set nor starve the others' claims.
void Dispatcher::RequestClaimIfUseful(UnixMillis now, const HeldBack& held_back) {
  if (claim_outstanding_ > 0 || now < claim_retry_at_) return;
  if (!maybe_due_) {
    if (now < due_check_at_) return;
    maybe_due_ = true;
  }
  int room = std::min(options_.claim_batch_size, options_.max_held_deliveries - held_count_);
  if (room <= 0) return;
  if (!BelowLowWater(held_back) && !HasStarvedQueue()) return;
  claim_outstanding_ = room;
  wakes_at_claim_ = wakes_seen_;
  claimer_.Request(room, held_back.config_ids);
}

// Every slot busy, a full round waiting, and not one answer for kStalledAfterMs.
bool Dispatcher::IsStalled(const ConfigQueue& queue, UnixMillis now) const {
  return queue.in_flight >= queue.cap && static_cast<int>(queue.waiting.size()) >= queue.cap &&
         now - queue.progress_at >= kStalledAfterMs;
}

bool Dispatcher::HoldsEnoughForRate(const ConfigQueue& queue) const {
  if (!queue.rate) return false;
  const std::int64_t enough =
      std::max<std::int64_t>(1, queue.rate->rate() * kRateLimitedHoldSeconds);
  return static_cast<std::int64_t>(queue.waiting.size()) >= enough;
}

// Nothing more of a FIFO configuration can be claimed while its turn is in flight; claims that
// leave it aside never step over its backlog, one due delivery after another, to find that
// (docs/store.md, "A claim that skips held-back configurations").
bool Dispatcher::FifoTurnInFlight(const ConfigQueue& queue) {
  return queue.ordering == DeliveryOrdering::kFifo && queue.in_flight > 0;
}

bool Dispatcher::HasStarvedQueue() const {
  if (static_cast<int>(in_flight_.size()) >= options_.global_in_flight_cap) return false;
  return std::any_of(queues_.begin(), queues_.end(), [](const auto& entry) {
    const ConfigQueue& queue = entry.second;
    return queue.waiting.empty() && queue.in_flight < queue.cap;
  });
}

// Gives each queue its slots: per_config_cap (FIFO: one), and at most origin cap / (n + 1) while
// n queues are busy at its origin. The "+ 1" keeps room for a configuration that has work there
// next: queues already at their cap (a receiver that never answers) keep their requests until
// they time out, so shares shrinking later would come too late for it.
void Dispatcher::Share() {
  for (auto& [name, origin] : origins_) origin.busy_queues = 0;
  for (auto& [config_id, queue] : queues_) {
    if (!queue.waiting.empty() || queue.in_flight > 0) ++origins_[queue.origin].busy_queues;
  }
  for (auto& [config_id, queue] : queues_) {
    const int busy = origins_[queue.origin].busy_queues;
    const int own = queue.ordering == DeliveryOrdering::kFifo ? 1 : options_.per_config_cap;
    queue.cap = std::max(1, std::min(own, options_.per_origin_cap / (busy + 1)));
  }
}

// Sends waiting deliveries, one per queue per round so that configurations share the global
// and origin caps fairly, until every queue is at its cap, empty or out of tokens, or the
// global cap is reached.
void Dispatcher::Pump(UnixMillis now) {
  Share();
  bool progress = true;
  while (progress) {
    progress = false;
    for (auto& [config_id, queue] : queues_) {
      DropUnsendable(queue, now);
      if (!MaySendNext(queue, now)) continue;
      Held held = std::move(queue.waiting.front());
      queue.waiting.pop_front();
      Send(std::move(held), queue, now);
      progress = true;
    }
  }
  ForgetIdle(now);
  UpdateGauges();
}

// Deliveries whose lease would end before their request could finish are left to the lease
// sweep.
void Dispatcher::DropUnsendable(ConfigQueue& queue, UnixMillis now) {
  while (!queue.waiting.empty() && !CanStillSend(queue.waiting.front(), now)) {
    next_sweep_at_ = std::min(next_sweep_at_, queue.waiting.front().lease_until + 1);
    queue.waiting.pop_front();
    --held_count_;
  }
}

// The rate limit's token is taken last: only when everything else lets the delivery go.
bool Dispatcher::MaySendNext(ConfigQueue& queue, UnixMillis now) {
  if (queue.waiting.empty() || queue.in_flight >= queue.cap) return false;
  if (static_cast<int>(in_flight_.size()) >= options_.global_in_flight_cap) return false;
  if (origins_[queue.origin].in_flight >= options_.per_origin_cap) return false;
  return !queue.rate || queue.rate->TryTake(now);
}

// Queues with nothing held are forgotten, except a rate limit's bucket that is not yet full
// again (a new one would start full and let a burst through early).
void Dispatcher::ForgetIdle(UnixMillis now) {
  std::erase_if(queues_, [this, now](const auto& entry) {
    const ConfigQueue& queue = entry.second;
    if (!queue.waiting.empty() || queue.in_flight > 0 || (queue.rate && !queue.rate->Full(now))) {
      return false;
    }
    if (queue.last_timed_out) unanswered_since_[entry.first] = queue.progress_at;
    return true;
  });
  std::erase_if(origins_, [](const auto& entry) {
    return entry.second.in_flight == 0 && entry.second.busy_queues == 0;
  });
  ForgetUnusedPrepared(now);
}

bool Dispatcher::CanStillSend(const Held& held, UnixMillis now) const {
  return now + TimeoutFor(held.job.config) + options_.lease_margin_ms / 2 <= held.lease_until;
}

void Dispatcher::Send(Held held, ConfigQueue& queue, UnixMillis now) {
  std::uint64_t id = next_request_id_++;
  ++queue.in_flight;
  ++origins_[queue.origin].in_flight;
  const DeliveryJob& job = held.job;
  Prepared& prepared = PreparedFor(job.config, now);
  Result<HttpRequest> request = BuildDeliveryRequest(
      prepared.config,
      MessageFor(job.event.id, job.event.event_type_id, job.event.payload_json, now));
  InFlight record{std::move(held.job), held.lease_until, queue.origin, SentRequest{now, "{}"}};
  if (!request.ok()) {
    in_flight_.emplace(id, std::move(record));
    HttpResponse unsent;
    unsent.error = request.error().message;
    inbox_->Push(Completion{id, std::move(unsent)});
    return;
  }
  record.sent.request_headers_json = prepared.recorded_headers.Render(request->headers);
  in_flight_.emplace(id, std::move(record));
  client_.Send(std::move(*request), [inbox = inbox_, id](HttpResponse response) {
    inbox->Push(Completion{id, std::move(response)});
  });
}

// On shutdown, deliveries still waiting in their queue are not sent: they stay leased and
// return to pending when the lease ends or at the next start.
void Dispatcher::DropWaiting() {
  for (auto& [config_id, queue] : queues_) {
    held_count_ -= static_cast<int>(queue.waiting.size());
    queue.waiting.clear();
  }
  UpdateGauges();
}

// A claim in progress and completions wake the loop themselves; otherwise it sleeps until the
// next lease sweep, the next due time, a rate-limited queue's next token, or the retry of a
// failed claim.
UnixMillis Dispatcher::NextWakeAt(UnixMillis now) const {
  UnixMillis wake_at = std::min(now + options_.fallback_wakeup_ms, next_sweep_at_);
  for (const auto& [config_id, queue] : queues_) {
    // A rate-limited queue waiting only for its next token.
    if (!queue.rate || queue.waiting.empty() || queue.in_flight >= queue.cap) continue;
    const UnixMillis token_at = queue.rate->NextTokenAt(now);
    if (token_at > now) wake_at = std::min(wake_at, token_at);
  }
  if (claim_outstanding_ > 0) return wake_at;
  if (now < claim_retry_at_) return std::min(wake_at, claim_retry_at_);
  if (!maybe_due_) return std::min(wake_at, due_check_at_);
  return wake_at;
}

std::int64_t Dispatcher::TimeoutFor(const WebhookConfig& config) const {
  if (config.timeout_ms <= 0) return options_.request_timeout_ms;
  return std::min(config.timeout_ms, options_.max_request_timeout_ms);
}

RequestSettings Dispatcher::SettingsFor(const WebhookConfig& config) const {
  return {options_.user_agent, options_.connect_timeout_ms, TimeoutFor(config)};
}

// The configuration's prepared form when `config` (the row this delivery was claimed with) is
// the one it was prepared from, else a new one from `config`: a changed secret, header or URL
// applies from the next send.
Dispatcher::Prepared& Dispatcher::PreparedFor(const WebhookConfig& config, UnixMillis now) {
  RequestSettings settings = SettingsFor(config);
  auto it = prepared_.find(config.id);
  if (it == prepared_.end()) {
    it = prepared_.try_emplace(config.id, config, settings).first;
  } else if (!it->second.config.IsFor(config, settings)) {
    prepared_.erase(it);
    it = prepared_.try_emplace(config.id, config, settings).first;
  }
  it->second.used_at = now;
  return it->second;
}

void Dispatcher::ForgetUnusedPrepared(UnixMillis now) {
  if (now - prepared_pruned_at_ < kPreparedKeptMs) return;
  prepared_pruned_at_ = now;
  std::erase_if(prepared_,
                [now](const auto& entry) { return now - entry.second.used_at >= kPreparedKeptMs; });
  std::erase_if(unanswered_since_,
                [this](const auto& entry) { return !prepared_.contains(entry.first); });
}

MessageToSend Dispatcher::MessageFor(std::string_view event_id, int event_type_id,
                                     std::string_view payload_json, UnixMillis now) const {
  const EventType* type = catalog_.Find(event_type_id);
  return {event_id, type != nullptr ? std::string_view(type->name) : "", payload_json, now};
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
  Result<HttpRequest> request = BuildDeliveryRequest(
      config, MessageFor(event_id, type.id, payload_json, now), SettingsFor(config));
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
