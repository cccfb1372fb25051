// The dispatcher: claims due deliveries from the Store, sends them through an HttpClient
// and records every attempt back in the Store in batches (group commit).
//
// The configuration is the unit of isolation: each has a queue in memory with its own
// in-flight cap, stall detection, rate limit (token bucket) and ordering (FIFO: one in flight).
// Configurations on one origin (scheme + host + port) share that origin's cap fairly, so one
// slow route on a host cannot take the slots of the host's other routes.
//
// New events' deliveries usually skip the claim: handoff() (given to Store::SetDeliveryHandoff)
// lets ingestion store them leased and pass them straight here after its commit (all of one
// commit's at once, so one wake-up per commit rather than per event), while fewer
// than half of max_held_deliveries are held and their configuration is neither stalled, nor
// holding enough for its rate limit, nor FIFO (whose deliveries go in order through the claim).
//
// Its work runs on an EventLoop, as iterations that each arrival (a response, a claim, handed-off
// deliveries, a Wake()) posts and a timer for the next thing due: on the HTTP client's own thread
// when it lends one (BeastHttpClient::loop()), so that a response, its outcome and the next
// request of that configuration need no hand-off between threads; else on a "dispatcher" thread
// of its own. Two more threads keep the store's waits off that loop:
//  - a DueClaimer thread claims more from the Store when the held set runs low;
//  - an AttemptRecorder thread records the decided outcomes, many per RecordAttempts call.
// The loop's only store calls are the lease releases at start and every fallback_wakeup_ms.
//
// Wiring (src/app):
//   auto client = BeastHttpClient::Create({...}).value();  // or CurlHttpClient
//   Dispatcher dispatcher(*store, *client, clock, Catalog::Builtin(), options);
//   store->SetWorkListener([&dispatcher] { dispatcher.Wake(); });
//   store->SetDeliveryHandoff(dispatcher.handoff());
//   dispatcher.Start();
//   ...serve...
//   dispatcher.Stop();  // then client->Stop() (its loop must outlive the dispatcher's work),
//                       // then destroy the dispatcher, then the store
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "catalog/catalog.hpp"
#include "core/clock.hpp"
#include "delivery/attempt_outcome.hpp"
#include "delivery/attempt_recorder.hpp"
#include "delivery/dispatcher_metrics.hpp"
#include "delivery/due_claimer.hpp"
#include "delivery/event_loop.hpp"
#include "delivery/http_client.hpp"
#include "delivery/prepared_config.hpp"
#include "delivery/request_builder.hpp"
#include "delivery/token_bucket.hpp"
#include "store/store.hpp"

namespace webhookd::delivery {

struct DispatcherOptions {
  int global_in_flight_cap = 256;
  // Requests in flight for one configuration at once (a FIFO configuration: 1). Deliveries
  // beyond it wait in memory in that configuration's queue; others are never held up.
  int per_config_cap = 16;
  // Requests in flight to one origin (scheme + host + port) at once. While n configurations
  // have work there, each may use at most max(1, per_origin_cap / (n + 1)) of it, so that there
  // is always room for one more.
  int per_origin_cap = 64;
  std::int64_t connect_timeout_ms = 5'000;
  std::int64_t request_timeout_ms = 15'000;  // a configuration's timeout_ms replaces it
  // The largest per-configuration timeout_ms honoured; longer ones are cut to it.
  std::int64_t max_request_timeout_ms = 60'000;
  // A claimed delivery is leased for lease_ms. It is raised to at least
  // max(request_timeout_ms, max_request_timeout_ms) + lease_margin_ms, so that a lease never
  // ends while its request may still be running (or the same message is sent twice at once).
  std::int64_t lease_ms = 0;
  std::int64_t lease_margin_ms = 30'000;
  OutcomeSettings outcome;  // retry schedule, jitter, randomness, auto-disable period
  int claim_batch_size = 256;
  // Claimed deliveries held in memory (in flight + waiting in their queue) at most. More are
  // claimed when fewer than half of this are held, or when a queue with a free slot has
  // nothing waiting.
  int max_held_deliveries = 4'096;
  // After a store error (claim, lease sweep, recording), the same call is tried again this
  // much later. Outcomes are retried only while their deliveries' leases last.
  std::int64_t store_retry_ms = 1'000;
  // Safety net: the loop wakes at least this often even when nothing asked it to; it also
  // releases ended leases then (a crashed peer node's, or ones this node let lapse).
  std::int64_t fallback_wakeup_ms = 30'000;
  // Stop() waits this long for in-flight requests and for recording their outcomes; what is
  // left stays leased and is sent again after the lease (or at the next start).
  std::int64_t shutdown_grace_ms = 10'000;
  std::string user_agent = DefaultUserAgent();
};

class Dispatcher {
 public:
  // `store`, `client`, `clock` and `catalog` must outlive the dispatcher. An empty
  // options.outcome.random is replaced by DefaultUniformRandom().
  Dispatcher(Store& store, HttpClient& client, const Clock& clock, const Catalog& catalog,
             DispatcherOptions options);
  ~Dispatcher();  // Stop()s if needed
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // Starts the dispatcher's threads (and its loop: the client's, or one of its own): it first
  // returns interrupted deliveries to pending (this node's leases, whatever their end:
  // Store::ReleaseOwnLeases, and every ended lease), then claims and sends until Stop().
  void Start();
  // Stops claiming, waits up to shutdown_grace_ms for in-flight requests, records every
  // outcome decided by then (each gets at least one try; store failures are retried until the
  // grace period ends), then joins the threads. Idempotent. Responses arriving later are
  // dropped (the deliveries stay leased and are sent again), so the HttpClient may be stopped
  // after this.
  void Stop();
  // Something may have become due (a commit, a manual retry): look now. Thread-safe, cheap,
  // never blocks on I/O; the Store's work listener calls it.
  void Wake();

  // For Store::SetDeliveryHandoff. It takes deliveries only while the dispatcher runs, and may
  // outlive it (it then takes none).
  std::shared_ptr<DeliveryHandoff> handoff() const;

  const DispatcherMetrics& metrics() const { return metrics_; }
  // The lease actually used (see DispatcherOptions::lease_ms).
  std::int64_t lease_ms() const { return lease_ms_; }

  // For "POST /external-events/{id}/test": builds the same signed request a delivery of
  // `payload_json` would get (a fresh webhook-id), sends it now and waits for the response.
  // Nothing is recorded in the store. Blocks for up to the request timeout; call it from an
  // API thread, never from an HttpClient callback. Does not need Start().
  HttpResponse SendNow(const WebhookConfig& config, const EventType& type,
                       std::string_view payload_json);

 private:
  struct Inbox;
  class Handoff;
  struct Held {
    DeliveryJob job;
    UnixMillis lease_until = 0;
  };
  struct InFlight {
    DeliveryJob job;
    UnixMillis lease_until = 0;
    std::string origin;
    SentRequest sent;
  };
  // One configuration's deliveries in memory, with what it was last seen configured as.
  struct ConfigQueue {
    std::string url;
    std::string origin;  // OriginOf(url)
    DeliveryOrdering ordering = DeliveryOrdering::kNone;
    std::optional<TokenBucket> rate;  // nullopt: unlimited
    int in_flight = 0;
    std::deque<Held> waiting;
    // When it was first held or last answered a request (or failed one without a timeout).
    UnixMillis progress_at = 0;
    bool last_timed_out = false;  // its last request ended in a timeout
    // Its slots: per_config_cap (FIFO: 1), within its fair share of the origin (Share()).
    int cap = 1;
  };
  // A configuration as last sent with, prepared (PreparedFor()), with the attempt log's form of
  // its headers. Kept apart from the queue, which is forgotten whenever it is idle (often
  // between two bursts), while preparing again decodes the secret, sets up its HMAC key and
  // parses two JSON documents; forgotten after kPreparedKeptMs unused.
  struct Prepared {
    Prepared(const WebhookConfig& row, const RequestSettings& settings)
        : config(row, settings), recorded_headers(config) {}
    PreparedConfig config;
    RecordedHeadersForm recorded_headers;
    UnixMillis used_at = 0;
  };
  struct Origin {
    int in_flight = 0;
    int busy_queues = 0;  // queues with deliveries waiting or in flight there
  };
  // Configurations that get no more deliveries for now (stalled, holding enough for their rate
  // limit, or FIFO with its turn in flight), and the deliveries they hold.
  struct HeldBack {
    int held = 0;
    std::vector<std::int64_t> config_ids;  // ascending (queues_ is ordered by id)
    std::vector<std::int64_t> turn_ids;    // of those, held only while a FIFO turn is in flight
  };
  struct Completion {
    std::uint64_t id = 0;
    HttpResponse response;
  };
  // What the loop took from the inbox in one go.
  struct Taken {
    std::vector<Completion> completions;
    std::optional<ClaimResult> claimed;
    std::vector<DeliveryJob> handed_off;
    UnixMillis handed_off_lease_until = 0;
    std::vector<SweepResult> swept;
    bool woken = false;
    bool stopping = false;
  };

  using SteadyTime = std::chrono::steady_clock::time_point;

  void Iterate();
  void ArmWake(SteadyTime when);
  void LetGo();
  Taken TakeInbox();
  void AfterSweep(const SweepResult& swept, UnixMillis now);
  void Complete(std::vector<Completion> completions, UnixMillis now);
  void AcceptClaimed(ClaimResult claimed, UnixMillis now);
  void Hold(std::vector<DeliveryJob> jobs, UnixMillis lease_until, UnixMillis now);
  ConfigQueue& QueueFor(const WebhookConfig& config, UnixMillis now);
  HeldBack FindHeldBack(UnixMillis now) const;
  bool BelowLowWater(const HeldBack& held_back) const;
  void RequestClaimIfUseful(UnixMillis now, const HeldBack& held_back);
  bool HasStarvedQueue() const;
  bool IsStalled(const ConfigQueue& queue, UnixMillis now) const;
  bool HoldsEnoughForRate(const ConfigQueue& queue) const;
  static bool FifoTurnInFlight(const ConfigQueue& queue);
  void Share();
  void Pump(UnixMillis now);
  void DropUnsendable(ConfigQueue& queue, UnixMillis now);
  bool MaySendNext(ConfigQueue& queue, UnixMillis now);
  void ForgetIdle(UnixMillis now);
  bool CanStillSend(const Held& held, UnixMillis now) const;
  void Send(Held held, ConfigQueue& queue, UnixMillis now);
  void DropWaiting();
  void SweepLeasesIfDue(UnixMillis now);
  UnixMillis NextWakeAt(UnixMillis now) const;
  std::int64_t TimeoutFor(const WebhookConfig& config) const;
  RequestSettings SettingsFor(const WebhookConfig& config) const;
  Prepared& PreparedFor(const WebhookConfig& config, UnixMillis now);
  void ForgetUnusedPrepared(UnixMillis now);
  MessageToSend MessageFor(std::string_view event_id, int event_type_id,
                           std::string_view payload_json, UnixMillis now) const;
  bool IsInference(int event_type_id) const;
  void UpdateGauges();

  Store& store_;
  HttpClient& client_;
  const Clock& clock_;
  const Catalog& catalog_;
  const DispatcherOptions options_;
  const std::int64_t lease_ms_;
  const OutcomeDecider decider_;
  DispatcherMetrics metrics_;
  std::shared_ptr<Inbox> inbox_;      // shared with HttpClient callbacks, which may outlive us
  std::shared_ptr<Handoff> handoff_;  // shared with the store
  AttemptRecorder recorder_;
  DueClaimer claimer_;
  std::mutex lifecycle_mutex_;  // serialises Start() and Stop()
  bool started_ = false;        // guarded by lifecycle_mutex_
  bool stopped_ = false;        // guarded by lifecycle_mutex_
  EventLoop* loop_ = nullptr;   // client_.loop(), or own_loop_
  std::unique_ptr<ThreadEventLoop> own_loop_;

  // The loop's thread only (and Stop(), once the loop has let go).
  // The claimer has made its start-up release: the hand-off may open.
  bool released_interrupted_ = false;
  std::optional<SteadyTime> stop_deadline_;
  bool armed_ = false;  // a timer is set for armed_until_
  SteadyTime armed_until_;
  std::map<std::int64_t, ConfigQueue> queues_;           // by configuration id
  std::unordered_map<std::int64_t, Prepared> prepared_;  // by configuration id
  // The last answer (ConfigQueue::progress_at) of configurations whose queue was forgotten
  // right after a timeout (a black hole with nothing more waiting): its next queue starts from
  // it, stalled as soon as it is full, rather than from a fresh second in which its backlog
  // would be claimed ahead of everyone's due deliveries. Kept while its prepared form is.
  std::unordered_map<std::int64_t, UnixMillis> unanswered_since_;
  UnixMillis prepared_pruned_at_ = 0;
  std::unordered_map<std::string, Origin> origins_;
  std::unordered_map<std::uint64_t, InFlight> in_flight_;
  std::uint64_t next_request_id_ = 1;
  int held_count_ = 0;         // in flight + waiting
  int claim_outstanding_ = 0;  // asked of the claimer, result not back yet
  // Wake() calls seen; a claim that came back short clears maybe_due_ only if none came since
  // it was asked for (the commit that woke us may have missed the claim).
  std::uint64_t wakes_seen_ = 0;
  std::uint64_t wakes_at_claim_ = 0;
  bool maybe_due_ = true;  // the store may hold due deliveries we have not claimed
  // The last HeldBack::turn_ids: one that leaves the held-back set needs no claim, since the end
  // of its turn started the next in the store (handed off, or due with a wake).
  std::vector<std::int64_t> held_for_turns_;
  UnixMillis due_check_at_ = 0;    // while !maybe_due_: look again at this time
  UnixMillis claim_retry_at_ = 0;  // after a failed claim, not before this
  // Asks the claimer for a lease sweep at this time; none before the start-up release.
  UnixMillis next_sweep_at_ = std::numeric_limits<UnixMillis>::max();
};

}  // namespace webhookd::delivery
