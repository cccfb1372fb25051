// Mapping between rows (in the column order of statements.hpp) and the domain types.
#pragma once

#include <string_view>

#include "core/model.hpp"
#include "store/postgres/connection.hpp"

namespace webhookd::postgres {

// `first` is the column where the row's columns start (for joined rows).
WebhookConfig ReadConfig(const Rows& rows, int row, int first = 0);
Event ReadEvent(const Rows& rows, int row, int first = 0);
Delivery ReadDelivery(const Rows& rows, int row, int first = 0);
bool ReadManualPending(const Rows& rows, int row, int first = 0);
ApiKey ReadApiKey(const Rows& rows, int row);
Attempt ReadAttempt(const Rows& rows, int row);

// Appends every WebhookConfig field but id, in WEBHOOKD_PG_CONFIG_COLUMNS order.
void BindConfigFields(Params& params, const WebhookConfig& config);

}  // namespace webhookd::postgres
