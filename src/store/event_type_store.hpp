// The stored part of the event-type catalog: types created through the API and new versions of
// any type (the built-in types' first versions are compiled in, see catalog/catalog.hpp). The
// catalog keeps every version in memory; this is its durable copy, shared by every node.
// Same contract as Store (store.hpp): thread-safe, committed before success, nothing changed
// on failure, `audit` written in the change's own transaction. The caller validates names,
// schemas and samples.
#pragma once

#include <cstdint>
#include <vector>

#include "core/model.hpp"
#include "core/result.hpp"

namespace webhookd {

class EventTypeStore {
 public:
  virtual ~EventTypeStore() = default;

  // Every stored version of every stored type, ordered by id, then version.
  virtual Result<std::vector<StoredEventType>> ListEventTypes() = 0;
  // Stores a new type as `type.version` (1) and returns it as stored. `type.id` 0 takes the
  // next id above every stored one and above 12 (the built-in types). kConflict when the id or
  // the name is taken.
  virtual Result<StoredEventType> CreateEventType(const StoredEventType& type,
                                                  const AuditEntry* audit = nullptr) = 0;
  // Stores `version` of an existing type, or of a built-in one (id 1..12), whose stored row is
  // created with it. kConflict when that version is stored already (another request, or node,
  // changed the type at the same time).
  virtual Result<StoredEventType> AddEventTypeVersion(const StoredEventType& version,
                                                      const AuditEntry* audit = nullptr) = 0;
  // Marks a stored type archived. kNotFound when it is not stored or archived already.
  virtual Status ArchiveEventType(int id, const AuditEntry* audit = nullptr) = 0;
  // A number that every change above moves on, in the change's transaction: a node that saw
  // it unchanged need not read ListEventTypes again. 0 for a catalog never changed.
  virtual Result<std::int64_t> CatalogVersion() = 0;
};

}  // namespace webhookd
