// Mapping between rows (in the column order of statements.hpp) and the domain types.
#pragma once

#include <string_view>

#include "core/model.hpp"
#include "store/sqlite/connection.hpp"

namespace webhookd::sqlite {

// `first` is the column where the row's columns start (for joined rows).
WebhookConfig ReadConfig(const Query& row, int first = 0);
Event ReadEvent(const Query& row, int first = 0);
Delivery ReadDelivery(const Query& row, int first = 0);
bool ReadManualPending(const Query& row, int first = 0);
ApiKey ReadApiKey(const Query& row);
Attempt ReadAttempt(const Query& row);

// Binds ?2..?20 (every WebhookConfig field but id, in WEBHOOKD_CONFIG_COLUMNS order).
void BindConfigFields(Query& query, const WebhookConfig& config);

}  // namespace webhookd::sqlite
