// How events, deliveries and attempts look in API responses.
#pragma once

#include <boost/json.hpp>
#include <optional>
#include <string_view>

#include "catalog/catalog.hpp"
#include "core/delivery_status.hpp"
#include "core/model.hpp"

namespace webhookd::api {

boost::json::object DeliveryToJson(const Delivery& delivery);
boost::json::object AttemptToJson(const Attempt& attempt);
// The event with its payload; `deliveries` is attached by the caller when wanted.
boost::json::object EventToJson(const Event& event, const Catalog& catalog);

}  // namespace webhookd::api
