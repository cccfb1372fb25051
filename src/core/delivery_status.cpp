#include "core/delivery_status.hpp"

namespace webhookd {

std::string_view DeliveryStatusName(DeliveryStatus status) {
  switch (status) {
    case DeliveryStatus::kPending:
      return "pending";
    case DeliveryStatus::kDelivering:
      return "delivering";
    case DeliveryStatus::kSucceeded:
      return "succeeded";
    case DeliveryStatus::kFailed:
      return "failed";
  }
  return "failed";
}

std::optional<DeliveryStatus> ParseDeliveryStatus(std::string_view name) {
  for (DeliveryStatus s : {DeliveryStatus::kPending, DeliveryStatus::kDelivering,
                           DeliveryStatus::kSucceeded, DeliveryStatus::kFailed}) {
    if (DeliveryStatusName(s) == name) return s;
  }
  return std::nullopt;
}

}  // namespace webhookd
