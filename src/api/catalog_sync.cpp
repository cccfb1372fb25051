#include "api/catalog_sync.hpp"

#include <spdlog/spdlog.h>

namespace webhookd::api {

EventType FromStored(const StoredEventType& stored) {
  EventType type;
  type.id = stored.id;
  type.name = stored.name;
  type.description = stored.description;
  type.is_inference = stored.is_inference;
  type.schema_json = stored.schema_json;
  type.sample_json = stored.sample_json;
  type.sample_headers_json = stored.sample_headers_json;
  type.version = stored.version;
  type.builtin = Catalog::Builtin().Find(stored.id) != nullptr;
  type.archived = stored.archived;
  return type;
}

StoredEventType ToStored(const EventType& type) {
  StoredEventType stored;
  stored.id = type.id;
  stored.name = type.name;
  stored.is_inference = type.is_inference;
  stored.version = type.version;
  stored.description = type.description;
  stored.schema_json = type.schema_json;
  stored.sample_json = type.sample_json;
  stored.sample_headers_json = type.sample_headers_json;
  stored.archived = type.archived;
  return stored;
}

Status SyncCatalog(EventTypeStore& store, Catalog& catalog) {
  Result<std::vector<StoredEventType>> stored = store.ListEventTypes();
  if (!stored.ok()) return stored.error();
  for (const StoredEventType& version : *stored) {
    if (!catalog.Has(version.id, version.version)) {
      Result<EventType> prepared = Catalog::Prepare(FromStored(version));
      if (!prepared.ok()) {
        spdlog::error("stored event type {} version {} is unusable: {}", version.name,
                      version.version, prepared.error().message);
        continue;
      }
      catalog.Install(*prepared);
    }
    catalog.SetArchived(version.id, version.archived);
  }
  return Status::Ok();
}

CatalogRefresher::CatalogRefresher(EventTypeStore& store, Catalog& catalog,
                                   std::chrono::milliseconds interval)
    : store_(store), catalog_(catalog), interval_(interval) {}

CatalogRefresher::~CatalogRefresher() { Stop(); }

void CatalogRefresher::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void CatalogRefresher::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  stop_requested_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Status CatalogRefresher::Refresh() {
  Result<std::int64_t> version = store_.CatalogVersion();
  if (!version.ok()) return version.error();
  if (synced_version_ == *version) return Status::Ok();
  if (Status s = SyncCatalog(store_, catalog_); !s.ok()) return s;
  synced_version_ = *version;
  return Status::Ok();
}

void CatalogRefresher::Loop() {
  std::unique_lock lock(mu_);
  while (!stop_requested_.wait_for(lock, interval_, [this] { return stopping_; })) {
    lock.unlock();
    if (Status s = Refresh(); !s.ok()) {
      spdlog::warn("cannot refresh the event-type catalog: {}", s.error().message);
    }
    lock.lock();
  }
}

}  // namespace webhookd::api
