// Keeps a node's Catalog in step with the stored catalog (store/event_type_store.hpp): at start,
// and, where several nodes share the store, every second, so that a type created or changed
// through one node is used by every node within 5 s. Each second reads the catalog's version
// (one row); the stored types are read again only when it moved. Schemas are compiled here, on
// the syncing thread, never by a request.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <thread>

#include "catalog/catalog.hpp"
#include "core/model.hpp"
#include "store/event_type_store.hpp"

namespace webhookd::api {

EventType FromStored(const StoredEventType& stored);
StoredEventType ToStored(const EventType& type);

// Installs every stored version `catalog` does not hold yet, and the stored archived flags. A
// stored version that no longer compiles (it did when it was stored) is logged and skipped.
Status SyncCatalog(EventTypeStore& store, Catalog& catalog);

class CatalogRefresher {
 public:
  // `store` and `catalog` must outlive the refresher.
  CatalogRefresher(EventTypeStore& store, Catalog& catalog, std::chrono::milliseconds interval);
  ~CatalogRefresher();  // Stop()
  CatalogRefresher(const CatalogRefresher&) = delete;
  CatalogRefresher& operator=(const CatalogRefresher&) = delete;

  void Start();  // a thread that calls Refresh every `interval`; call once
  void Stop();   // ends the thread and waits for it; safe to call more than once

  // Reads the stored catalog's version and, unless this refresher has synced that version
  // already, syncs the catalog (SyncCatalog). The version is read first, so that a change
  // committed during the sync moves it past what is recorded as synced. Not thread-safe: the
  // refresher's thread calls it, or a test instead of Start.
  Status Refresh();

 private:
  void Loop();

  EventTypeStore& store_;
  Catalog& catalog_;
  const std::chrono::milliseconds interval_;
  std::mutex mu_;
  std::condition_variable stop_requested_;
  bool stopping_ = false;                       // guarded by mu_
  std::optional<std::int64_t> synced_version_;  // none until the first sync
  std::thread thread_;
};

}  // namespace webhookd::api
