// Events held back by a writer batch to go to PostgreSQL in one statement with all their
// deliveries (kInsertEvents), instead of one statement per event: the statement's fixed cost
// (parameters, executor start, locks, triggers' setup) was most of an event's. The connection
// sends them before any other statement (HeldWrites), so ordering is kept; the writer sends the
// rest before it commits, and runs the batch again event by event if sending fails.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/model.hpp"
#include "store/postgres/connection.hpp"

namespace webhookd::postgres {

class EventBatch final : public HeldWrites {
 public:
  // Deliveries in status kDelivering are leased to `node_id` (until the `lease_until` given
  // with their event).
  explicit EventBatch(std::string node_id) : node_id_(std::move(node_id)) {}

  // Holds `event` and its deliveries; `fifo` tells, for each, whether its configuration is FIFO
  // (a pending one then waits for its turn behind an earlier open one, kParkWaitingDeliveries).
  // `read_at_version`: the fan-out version its configurations were read at when they came from
  // memory (checked when sent), none when read by this transaction.
  void Add(const Event& event, const std::vector<Delivery>& deliveries,
           const std::vector<bool>& fifo, UnixMillis lease_until,
           std::optional<std::int64_t> read_at_version);
  bool empty() const override { return event_ids_.empty(); }
  std::size_t size() const { return event_ids_.size(); }
  // Past this many payload bytes held, the next event is sent after those held (one
  // statement's text stays within a few MiB, whatever the batch's payloads).
  static constexpr std::size_t kMaxPayloadBytes = 1024 * 1024;
  bool full() const { return payload_bytes_ >= kMaxPayloadBytes; }
  // Sends everything held, to be inserted, or nothing: kConflict when an event's fan-out changed
  // since it was read from memory (the batch must run again, each event reading its
  // configurations anew). While the connection holds writes the answer comes with a later
  // statement (Connection::Write), whose error that conflict then is.
  Status Send(Connection& db) override;
  // The same, answering false instead of kConflict when a fan-out changed and nothing was
  // inserted.
  Result<bool> Insert(Connection& db);
  void Clear();

 private:
  struct Column {
    std::vector<std::string>* values;
    bool text;  // a text[] parameter; the others are numbers
  };
  std::array<Column, 15> Columns();
  // The statement's parameters, everything held; empty afterwards.
  Params TakeParams();

  const std::string node_id_;
  std::size_t payload_bytes_ = 0;
  std::vector<std::string> event_ids_, organizations_, event_types_, payloads_, keys_, created_at_,
      type_versions_, read_at_;
  std::vector<std::string> delivery_ids_, delivery_events_, configs_, delivery_organizations_,
      statuses_, delivery_created_at_, leases_;
  // Pending deliveries of FIFO configurations, parked after the insert if they must wait.
  std::vector<std::string> fifo_ids_;
};

}  // namespace webhookd::postgres
