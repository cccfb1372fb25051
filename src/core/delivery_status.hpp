// The names of delivery statuses, as the API shows them and the stores keep them.
#pragma once

#include <optional>
#include <string_view>

#include "core/model.hpp"

namespace webhookd {

std::string_view DeliveryStatusName(DeliveryStatus status);  // "pending", "delivering", ...
std::optional<DeliveryStatus> ParseDeliveryStatus(std::string_view name);

std::string_view DeliveryOrderingName(DeliveryOrdering ordering);  // "none" or "fifo"
std::optional<DeliveryOrdering> ParseDeliveryOrdering(std::string_view name);

}  // namespace webhookd
