#include "api/catalog_sync.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace webhookd::api {
namespace {

// A stored catalog in memory that counts how often its types are read.
class CountingEventTypeStore final : public EventTypeStore {
 public:
  Result<std::vector<StoredEventType>> ListEventTypes() override {
    ++lists;
    return types;
  }
  Result<StoredEventType> CreateEventType(const StoredEventType&, const AuditEntry*) override {
    return Error::Internal("not used");
  }
  Result<StoredEventType> AddEventTypeVersion(const StoredEventType&, const AuditEntry*) override {
    return Error::Internal("not used");
  }
  Status ArchiveEventType(int, const AuditEntry*) override { return Error::Internal("not used"); }
  Result<std::int64_t> CatalogVersion() override { return version; }

  // A type of its own, as another node would have stored it, moving the version on.
  void StoreType(int id, const std::string& name) {
    StoredEventType type;
    type.id = id;
    type.name = name;
    type.schema_json = R"({"type":"object"})";
    type.sample_json = "{}";
    types.push_back(type);
    ++version;
  }

  std::vector<StoredEventType> types;
  std::int64_t version = 0;
  int lists = 0;
};

TEST(CatalogRefresher, ReadsTheStoredTypesOnlyWhenTheCatalogVersionMoved) {
  CountingEventTypeStore store;
  Catalog catalog;
  CatalogRefresher refresher(store, catalog, std::chrono::seconds(1));

  ASSERT_TRUE(refresher.Refresh().ok());
  EXPECT_EQ(store.lists, 1) << "the first refresh syncs whatever the version";
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(refresher.Refresh().ok());
  EXPECT_EQ(store.lists, 1) << "an unchanged version read the types again";

  store.StoreType(13, "VitalSignRecorded");
  ASSERT_TRUE(refresher.Refresh().ok());
  EXPECT_EQ(store.lists, 2);
  ASSERT_NE(catalog.Find("VitalSignRecorded"), nullptr);
  ASSERT_TRUE(refresher.Refresh().ok());
  EXPECT_EQ(store.lists, 2);
}

}  // namespace
}  // namespace webhookd::api
