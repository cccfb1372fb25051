// How the SQLite retention statements find the events created before a cutoff without an index
// on created_at (migration 14, docs/store.md "Retention by rowid").
#pragma once

#include <cstdint>
#include <optional>

#include "core/model.hpp"
#include "core/result.hpp"
#include "store/sqlite/connection.hpp"

namespace webhookd::sqlite {

// The largest rowid of an event created before `cutoff`, 0 if there is none; found by a binary
// search over rowids, which holds because the one writer stores events in the order of its
// clock. If the clock stepped back, events stored after the step may lie beyond the answer:
// retention takes them once the cutoff passes the times before the step.
Result<std::int64_t> LastEventCreatedBefore(Connection& db, UnixMillis cutoff);

// Binds the parameters by which every retention statement selects its events (statements.hpp,
// WEBHOOKD_PURGEABLE_EVENTS): created before `cutoff` with a rowid up to `last_rowid`
// (LastEventCreatedBefore), at most `max_events`, in `scope`.
Query& BindRetentionSelection(Query& query, UnixMillis cutoff, std::int64_t last_rowid,
                              int max_events, const std::optional<std::int64_t>& scope);

}  // namespace webhookd::sqlite
