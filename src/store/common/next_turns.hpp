// The FIFO turns one RecordAttempts call starts by handing the next delivery straight to the
// dispatcher (DeliveryHandoff::LeaseForNextTurn), leased in the transaction that ended the turn
// before it, instead of leaving it due for a claim: a turn then costs one commit, not two.
#pragma once

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

#include "core/model.hpp"
#include "store/common/store_rules.hpp"
#include "store/store.hpp"

namespace webhookd::store_common {

struct NextTurns {
  DeliveryHandoff* handoff = nullptr;  // asked inside the transaction; none: turns are left due
  std::vector<DeliveryJob> jobs;       // leased in the transaction, taken after its commit
  UnixMillis lease_until = 0;          // the earliest of their leases

  // The lease of `next`, the delivery whose turn comes, if the dispatcher takes it (and its
  // configuration may deliver: a claim fails the line of one that may not).
  std::optional<UnixMillis> LeaseFor(const DeliveryJob& next, UnixMillis now) const {
    if (!UndeliverableReason(next.config).empty()) return std::nullopt;
    return handoff->LeaseForNextTurn(next.config, now);
  }
  // Adds `next`, which the store has just leased until `lease` at `now`.
  void Add(DeliveryJob next, UnixMillis lease, UnixMillis now) {
    next.delivery.status = DeliveryStatus::kDelivering;
    next.delivery.next_attempt_at = now;
    next.delivery.updated_at = now;
    lease_until = jobs.empty() ? lease : std::min(lease_until, lease);
    jobs.push_back(std::move(next));
  }
};

}  // namespace webhookd::store_common
