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

std::string_view DeliveryOrderingName(DeliveryOrdering ordering) {
  return ordering == DeliveryOrdering::kFifo ? "fifo" : "none";
}

std::optional<DeliveryOrdering> ParseDeliveryOrdering(std::string_view name) {
  if (name == "none") return DeliveryOrdering::kNone;
  if (name == "fifo") return DeliveryOrdering::kFifo;
  return std::nullopt;
}

}  // namespace webhookd
