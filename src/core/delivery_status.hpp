// The names of delivery statuses, as the API shows them and the stores keep them, and the
// next_attempt_at that marks a pending delivery waiting for its turn.
#pragma once

#include <optional>
#include <string_view>

#include "core/model.hpp"

namespace webhookd {

// The next_attempt_at of a pending delivery of a FIFO configuration that waits behind an earlier
// open one (9999-12-31T23:59:59.999Z): never due, so claims and the due index leave it aside
// until the end of the turn before it gives it a due time. The API shows no next attempt.
inline constexpr UnixMillis kWaitingForTurn = 253'402'300'799'999;

std::string_view DeliveryStatusName(DeliveryStatus status);  // "pending", "delivering", ...
std::optional<DeliveryStatus> ParseDeliveryStatus(std::string_view name);

std::string_view DeliveryOrderingName(DeliveryOrdering ordering);  // "none" or "fifo"
std::optional<DeliveryOrdering> ParseDeliveryOrdering(std::string_view name);

}  // namespace webhookd
