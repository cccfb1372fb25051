// The Store contract (src/store/store.hpp), run against every backend. A new backend joins by
// adding one StoreBackend to INSTANTIATE_TEST_SUITE_P at the bottom.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <ostream>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.hpp"
#include "core/delivery_status.hpp"
#include "core/ids.hpp"
#include "store/encrypting_store.hpp"
#include "store/open_store.hpp"
#include "store/postgres/connection.hpp"
#include "store/sqlite/connection.hpp"
#include "store/store.hpp"
#include "store_test_util.hpp"

namespace webhookd {
namespace {

using test::kNoConfigLimit;
using test::Must;
using test::TempDir;

constexpr std::int64_t kOrgA = 1;
constexpr std::int64_t kOrgB = 2;
constexpr UnixMillis kHour = 60 * 60 * 1000;

struct StoreBackend {
  std::string name;
  // Opens the store kept under `dir`: the same dir gives the same data.
  std::function<Result<std::unique_ptr<Store>>(const std::filesystem::path& dir, const Clock&,
                                               const StoreOptions&)>
      open;
  // Why this backend cannot run here ("" when it can): the test is skipped with that reason.
  std::function<std::string()> unavailable = [] { return std::string(); };
  // Removes what `open` created outside `dir` (called after the store is closed).
  std::function<void(const std::filesystem::path& dir)> cleanup = [](const auto&) {};
  // Makes every later insert into the audit log of the store under `dir` fail (a trigger).
  std::function<void(const std::filesystem::path& dir)> refuse_audit_inserts = [](const auto&) {
    throw std::logic_error("this backend cannot refuse audit entries");
  };
};

void PrintTo(const StoreBackend& backend, std::ostream* os) { *os << backend.name; }

std::string BackendName(const ::testing::TestParamInfo<StoreBackend>& info) {
  return info.param.name;
}

WebhookConfig NewConfig(std::int64_t org, int event_type, const std::string& name = "hook") {
  WebhookConfig c;
  c.organization_id = org;
  c.name = name;
  c.url = "https://receiver.example/" + name;
  c.event_type_id = event_type;
  c.secret = "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0";
  return c;
}

NewEvent MakeEvent(std::int64_t org, int event_type, UnixMillis now, std::string key = {}) {
  NewEvent e;
  e.id = NewSortableId("evt", now);
  e.organization_id = org;
  e.event_type_id = event_type;
  e.payload_json = R"({"patientId":"p-1"})";
  e.idempotency_key = std::move(key);
  return e;
}

std::vector<std::string> IdsOf(const std::vector<Delivery>& deliveries) {
  std::vector<std::string> ids;
  for (const Delivery& d : deliveries) ids.push_back(d.id);
  return ids;
}

std::vector<std::string> Sorted(std::vector<std::string> ids) {
  std::sort(ids.begin(), ids.end());
  return ids;
}

std::vector<std::int64_t> IdsOf(const std::vector<WebhookConfig>& configs) {
  std::vector<std::int64_t> ids;
  for (const WebhookConfig& c : configs) ids.push_back(c.id);
  return ids;
}

class StoreContractTest : public ::testing::TestWithParam<StoreBackend> {
 protected:
  void SetUp() override {
    if (const std::string reason = GetParam().unavailable(); !reason.empty())
      GTEST_SKIP() << reason;
    Reopen();
  }
  void TearDown() override {
    store_.reset();
    if (GetParam().unavailable().empty()) GetParam().cleanup(dir_.path());
  }

  void Reopen() {
    store_.reset();
    store_ = Must(GetParam().open(dir_.path(), clock_, {}));
  }

  WebhookConfig Create(const WebhookConfig& config) {
    return Must(store_->CreateConfig(config, kNoConfigLimit));
  }

  // A FIFO configuration of organization A for event type 3.
  WebhookConfig CreateFifo() {
    WebhookConfig config = NewConfig(kOrgA, 3, "fifo");
    config.ordering = DeliveryOrdering::kFifo;
    return Create(config);
  }

  IngestedEvent Ingest(const NewEvent& event) {
    std::vector<Result<IngestedEvent>> results = store_->IngestEvents({event});
    if (results.size() != 1) throw std::runtime_error("IngestEvents returned a wrong count");
    return Must(std::move(results.front()));
  }

  // One event for `config`, returning its only delivery.
  Delivery IngestFor(const WebhookConfig& config) {
    IngestedEvent ingested =
        Ingest(MakeEvent(config.organization_id, config.event_type_id, clock_.Now()));
    if (ingested.deliveries.size() != 1) throw std::runtime_error("expected one delivery");
    return ingested.deliveries.front();
  }

  AttemptOutcome Outcome(const DeliveryJob& job, DeliveryStatus status, int code,
                         ConfigEffect effect = ConfigEffect::kNone) {
    AttemptOutcome o;
    o.attempt.delivery_id = job.delivery.id;
    o.attempt.attempted_at = clock_.Now();
    o.attempt.duration_ms = 12;
    o.attempt.request_headers_json = R"({"webhook-id":"x"})";
    o.attempt.status_code = code;
    o.attempt.response_headers_json = R"({"content-type":"text/plain"})";
    o.attempt.response_body = "body";
    o.attempt.manual = job.manual;
    o.new_status = status;
    o.config_id = job.config.id;
    o.config_effect = effect;
    // As the dispatcher tells it.
    o.ends_fifo_turn =
        job.config.ordering == DeliveryOrdering::kFifo && status != DeliveryStatus::kPending;
    return o;
  }

  std::vector<DeliveryJob> ClaimAll() {
    return Must(store_->ClaimDue(clock_.Now(), 100, clock_.Now() + 60'000, {}));
  }

  // Claims every due delivery and gives it up after a failed attempt.
  void FailDue() {
    std::vector<AttemptOutcome> outcomes;
    for (const DeliveryJob& job : ClaimAll()) {
      outcomes.push_back(Outcome(job, DeliveryStatus::kFailed, 500));
    }
    if (Status s = store_->RecordAttempts(outcomes); !s.ok()) {
      throw std::runtime_error(s.error().message);
    }
  }

  TempDir dir_;
  ManualClock clock_;
  std::unique_ptr<Store> store_;
};

// ---------------------------------------------------------------- configurations

TEST_P(StoreContractTest, PingSucceeds) { EXPECT_TRUE(store_->Ping().ok()); }

TEST_P(StoreContractTest, CreateConfigAssignsIdAndTimesAndKeepsEveryField) {
  WebhookConfig in = NewConfig(kOrgA, 7, "full");
  in.attributes_json = R"({"apiKey":"k","organizationCode":"ORG"})";
  in.headers_json = R"({"x-tenant":"a"})";
  in.send_organization_code = true;
  in.version = 3;
  in.previous_secret = "whsec_b2xk";
  in.previous_secret_expires_at = 1234;
  in.timeout_ms = 2500;
  in.retry_schedule_json = "[0,5,60]";
  in.rate_limit = 25;
  in.ordering = DeliveryOrdering::kFifo;
  const WebhookConfig created = Create(in);
  EXPECT_GT(created.id, 0);
  EXPECT_EQ(created.created_at, clock_.Now());
  EXPECT_EQ(created.updated_at, clock_.Now());

  const WebhookConfig got = Must(store_->GetConfig(created.id, std::nullopt));
  EXPECT_EQ(got.id, created.id);
  EXPECT_EQ(got.organization_id, kOrgA);
  EXPECT_EQ(got.name, "full");
  EXPECT_EQ(got.url, "https://receiver.example/full");
  EXPECT_EQ(got.event_type_id, 7);
  EXPECT_EQ(got.attributes_json, in.attributes_json);
  EXPECT_EQ(got.headers_json, in.headers_json);
  EXPECT_TRUE(got.active);
  EXPECT_TRUE(got.send_organization_code);
  EXPECT_EQ(got.version, 3);
  EXPECT_EQ(got.secret, in.secret);
  EXPECT_EQ(got.previous_secret, "whsec_b2xk");
  EXPECT_EQ(got.previous_secret_expires_at, 1234);
  EXPECT_FALSE(got.is_deleted);
  EXPECT_EQ(got.created_at, created.created_at);
  EXPECT_EQ(got.timeout_ms, 2500);
  EXPECT_EQ(got.retry_schedule_json, "[0,5,60]");
  EXPECT_EQ(got.rate_limit, 25);
  EXPECT_EQ(got.ordering, DeliveryOrdering::kFifo);
  EXPECT_EQ(got.failing_since, 0);
  EXPECT_EQ(got.disabled_reason, "");

  EXPECT_EQ(Must(store_->GetConfig(created.id, kOrgA)).id, created.id);
  EXPECT_EQ(store_->GetConfig(created.id + 100, std::nullopt).error().kind, ErrorKind::kNotFound);
}

TEST_P(StoreContractTest, UpdateConfigReplacesFieldsButKeepsIdentity) {
  const WebhookConfig created = Create(NewConfig(kOrgA, 1, "before"));
  clock_.Advance(5000);
  WebhookConfig change = created;
  change.organization_id = kOrgB;  // ignored
  change.created_at = 1;           // ignored
  change.name = "after";
  change.url = "https://receiver.example/after";
  change.event_type_id = 2;
  change.previous_secret = created.secret;
  change.previous_secret_expires_at = clock_.Now() + 24 * kHour;
  change.secret = "whsec_bmV3LW5ldy1uZXctbmV3LW5ldy1uZXc=";
  change.version = 2;

  const WebhookConfig updated = Must(store_->UpdateConfig(change, std::nullopt));
  EXPECT_EQ(updated.id, created.id);
  EXPECT_EQ(updated.organization_id, kOrgA);
  EXPECT_EQ(updated.created_at, created.created_at);
  EXPECT_EQ(updated.updated_at, clock_.Now());
  EXPECT_EQ(updated.name, "after");
  EXPECT_EQ(updated.event_type_id, 2);
  EXPECT_EQ(updated.secret, change.secret);
  EXPECT_EQ(updated.previous_secret, created.secret);
  EXPECT_EQ(updated.previous_secret_expires_at, change.previous_secret_expires_at);
  EXPECT_EQ(updated.version, 2);
  const WebhookConfig stored = Must(store_->GetConfig(created.id, std::nullopt));
  EXPECT_EQ(stored.name, "after");
  EXPECT_EQ(stored.organization_id, kOrgA);

  WebhookConfig missing = change;
  missing.id = created.id + 100;
  EXPECT_EQ(store_->UpdateConfig(missing, std::nullopt).error().kind, ErrorKind::kNotFound);
}

TEST_P(StoreContractTest, ReactivatingAConfigClearsItsFailureState) {
  WebhookConfig in = NewConfig(kOrgA, 1);
  in.active = false;
  in.disabled_reason = "receiver answered 410 Gone";
  in.failing_since = 777;
  const WebhookConfig created = Create(in);

  WebhookConfig still_inactive = created;
  still_inactive.name = "renamed";
  const WebhookConfig renamed = Must(store_->UpdateConfig(still_inactive, std::nullopt));
  EXPECT_EQ(renamed.disabled_reason, "receiver answered 410 Gone");
  EXPECT_EQ(renamed.failing_since, 777);

  WebhookConfig reactivate = renamed;
  reactivate.active = true;
  const WebhookConfig active = Must(store_->UpdateConfig(reactivate, std::nullopt));
  EXPECT_TRUE(active.active);
  EXPECT_EQ(active.disabled_reason, "");
  EXPECT_EQ(active.failing_since, 0);
}

TEST_P(StoreContractTest, DeleteIsSoft) {
  const WebhookConfig kept = Create(NewConfig(kOrgA, 1, "kept"));
  const WebhookConfig gone = Create(NewConfig(kOrgA, 1, "gone"));
  clock_.Advance(1000);
  ASSERT_TRUE(store_->DeleteConfig(gone.id, std::nullopt).ok());

  const WebhookConfig deleted = Must(store_->GetConfig(gone.id, std::nullopt));
  EXPECT_TRUE(deleted.is_deleted);
  EXPECT_FALSE(deleted.active);
  EXPECT_EQ(deleted.updated_at, clock_.Now());

  ConfigFilter filter;
  EXPECT_EQ(IdsOf(Must(store_->ListConfigs(filter, std::nullopt)).items),
            (std::vector<std::int64_t>{kept.id}));
  filter.include_deleted = true;
  EXPECT_EQ(IdsOf(Must(store_->ListConfigs(filter, std::nullopt)).items),
            (std::vector<std::int64_t>{kept.id, gone.id}));

  EXPECT_EQ(store_->DeleteConfig(gone.id, std::nullopt).error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(store_->UpdateConfig(deleted, std::nullopt).error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(store_->DeleteConfig(gone.id + 100, std::nullopt).error().kind, ErrorKind::kNotFound);
}

TEST_P(StoreContractTest, ConfigsOfAnotherOrganizationDoNotExist) {
  const WebhookConfig a = Create(NewConfig(kOrgA, 1, "a"));
  const WebhookConfig b = Create(NewConfig(kOrgB, 1, "b"));

  EXPECT_EQ(store_->GetConfig(a.id, kOrgB).error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(store_->UpdateConfig(a, kOrgB).error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(store_->DeleteConfig(a.id, kOrgB).error().kind, ErrorKind::kNotFound);
  EXPECT_FALSE(Must(store_->GetConfig(a.id, kOrgA)).is_deleted);

  ConfigFilter filter;
  EXPECT_EQ(IdsOf(Must(store_->ListConfigs(filter, kOrgB)).items),
            (std::vector<std::int64_t>{b.id}));
  filter.organization_id = kOrgA;  // asking for A's with B's key finds nothing
  EXPECT_TRUE(Must(store_->ListConfigs(filter, kOrgB)).items.empty());
  EXPECT_EQ(IdsOf(Must(store_->ListConfigs(filter, std::nullopt)).items),
            (std::vector<std::int64_t>{a.id}));
}

TEST_P(StoreContractTest, ListConfigsPagesThroughSevenRowsThreeAtATime) {
  std::vector<std::int64_t> all;
  for (int i = 0; i < 7; ++i) all.push_back(Create(NewConfig(kOrgA, 1)).id);

  ConfigFilter filter;
  filter.limit = 3;
  std::vector<std::int64_t> seen;
  std::vector<std::size_t> page_sizes;
  while (true) {
    const Page<WebhookConfig> page = Must(store_->ListConfigs(filter, kOrgA));
    page_sizes.push_back(page.items.size());
    for (const WebhookConfig& c : page.items) seen.push_back(c.id);
    if (page.next_cursor.empty()) break;
    EXPECT_EQ(page.next_cursor, std::to_string(page.items.back().id));
    filter.after_id = std::stoll(page.next_cursor);
  }
  EXPECT_EQ(page_sizes, (std::vector<std::size_t>{3, 3, 1}));
  EXPECT_EQ(seen, all);
}

TEST_P(StoreContractTest, ListConfigsFiltersAndClampsTheLimit) {
  const WebhookConfig a1 = Create(NewConfig(kOrgA, 1));
  WebhookConfig inactive = NewConfig(kOrgA, 1);
  inactive.active = false;
  const WebhookConfig a1_off = Create(inactive);
  const WebhookConfig a2 = Create(NewConfig(kOrgA, 2));
  const WebhookConfig b1 = Create(NewConfig(kOrgB, 1));

  ConfigFilter filter;
  filter.event_type_id = 1;
  EXPECT_EQ(IdsOf(Must(store_->ListConfigs(filter, std::nullopt)).items),
            (std::vector<std::int64_t>{a1.id, a1_off.id, b1.id}));
  filter.active = false;
  EXPECT_EQ(IdsOf(Must(store_->ListConfigs(filter, std::nullopt)).items),
            (std::vector<std::int64_t>{a1_off.id}));
  filter = ConfigFilter{};
  filter.organization_id = kOrgA;
  filter.active = true;
  EXPECT_EQ(IdsOf(Must(store_->ListConfigs(filter, std::nullopt)).items),
            (std::vector<std::int64_t>{a1.id, a2.id}));

  filter = ConfigFilter{};
  filter.limit = 0;  // clamped to 1
  const Page<WebhookConfig> one = Must(store_->ListConfigs(filter, std::nullopt));
  EXPECT_EQ(IdsOf(one.items), (std::vector<std::int64_t>{a1.id}));
  EXPECT_EQ(one.next_cursor, std::to_string(a1.id));
  filter.limit = 100000;  // clamped to 250
  EXPECT_EQ(Must(store_->ListConfigs(filter, std::nullopt)).items.size(), 4u);
}

// The search matches names and URLs as text: ASCII letters without regard to case, every other
// character (LIKE's % and _ too) as itself.
TEST_P(StoreContractTest, ListConfigsSearchesNamesAndUrls) {
  WebhookConfig front = NewConfig(kOrgA, 1, "Front desk");
  front.url = "https://Receiver.example/front";
  front = Create(front);
  WebhookConfig percent = NewConfig(kOrgA, 1, "100%_sure");
  percent.url = "https://other.example/x";
  percent = Create(percent);
  WebhookConfig accented = NewConfig(kOrgB, 2, "Ärzte");
  accented.url = "https://aerzte.example/hook";
  accented = Create(accented);

  auto search = [&](const std::string& text, OrgScope scope = std::nullopt) {
    ConfigFilter filter;
    filter.search = text;
    return IdsOf(Must(store_->ListConfigs(filter, scope)).items);
  };
  using V = std::vector<std::int64_t>;
  EXPECT_EQ(search(""), (V{front.id, percent.id, accented.id}));
  EXPECT_EQ(search("FRONT DESK"), V{front.id});
  EXPECT_EQ(search("receiver.EXAMPLE"), V{front.id});
  EXPECT_EQ(search("%_"), V{percent.id});
  EXPECT_TRUE(search("100%x").empty());
  EXPECT_TRUE(search("_sure_").empty());
  EXPECT_EQ(search("Ä"), V{accented.id});
  EXPECT_TRUE(search("ä").empty());
  EXPECT_EQ(search(".example/"), (V{front.id, percent.id, accented.id}));
  EXPECT_EQ(search(".example/", kOrgB), V{accented.id});
  EXPECT_TRUE(search("nowhere").empty());
}

// ---------------------------------------------------------------- API keys

ApiKey NewKey(std::optional<std::int64_t> org, const std::string& hash) {
  ApiKey k;
  k.organization_id = org;
  k.name = "key " + hash;
  k.hash = hash;
  k.prefix = "whk_" + hash.substr(0, 4);
  return k;
}

TEST_P(StoreContractTest, ApiKeysAreFoundByHashListedRevokedAndCounted) {
  EXPECT_EQ(Must(store_->CountApiKeys()), 0);
  const ApiKey admin = Must(store_->CreateApiKey(NewKey(std::nullopt, "aaaa1111")));
  const ApiKey org_a = Must(store_->CreateApiKey(NewKey(kOrgA, "bbbb2222")));
  const ApiKey org_b = Must(store_->CreateApiKey(NewKey(kOrgB, "cccc3333")));
  EXPECT_GT(admin.id, 0);
  EXPECT_EQ(admin.created_at, clock_.Now());

  const ApiKey found = Must(store_->FindApiKeyByHash("bbbb2222"));
  EXPECT_EQ(found.id, org_a.id);
  EXPECT_EQ(found.organization_id, kOrgA);
  EXPECT_EQ(found.name, "key bbbb2222");
  EXPECT_EQ(found.prefix, "whk_bbbb");
  EXPECT_FALSE(Must(store_->FindApiKeyByHash("aaaa1111")).organization_id.has_value());
  EXPECT_EQ(store_->FindApiKeyByHash("nope").error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(store_->CreateApiKey(NewKey(kOrgA, "bbbb2222")).error().kind, ErrorKind::kConflict);

  auto ids = [](const std::vector<ApiKey>& keys) {
    std::vector<std::int64_t> out;
    for (const ApiKey& k : keys) out.push_back(k.id);
    return out;
  };
  EXPECT_EQ(ids(Must(store_->ListApiKeys(std::nullopt))),
            (std::vector<std::int64_t>{admin.id, org_a.id, org_b.id}));
  EXPECT_EQ(ids(Must(store_->ListApiKeys(kOrgA))), (std::vector<std::int64_t>{org_a.id}));

  EXPECT_EQ(store_->RevokeApiKey(org_a.id, kOrgB).error().kind, ErrorKind::kNotFound);
  EXPECT_TRUE(Must(store_->FindApiKeyByHash("bbbb2222")).revoked_at == 0);
  ASSERT_TRUE(store_->RevokeApiKey(org_a.id, kOrgA).ok());
  EXPECT_EQ(store_->FindApiKeyByHash("bbbb2222").error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(ids(Must(store_->ListApiKeys(std::nullopt))),
            (std::vector<std::int64_t>{admin.id, org_b.id}));
  EXPECT_EQ(store_->RevokeApiKey(org_a.id, std::nullopt).error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(Must(store_->CountApiKeys()), 3);
}

TEST_P(StoreContractTest, TheLastAdminKeyCannotBeRevoked) {
  const ApiKey first = Must(store_->CreateApiKey(NewKey(std::nullopt, "adm11111")));
  const ApiKey second = Must(store_->CreateApiKey(NewKey(std::nullopt, "adm22222")));
  const ApiKey org = Must(store_->CreateApiKey(NewKey(kOrgA, "org33333")));
  ASSERT_TRUE(store_->RevokeApiKey(first.id, std::nullopt).ok());

  const Status last = store_->RevokeApiKey(second.id, std::nullopt);
  ASSERT_FALSE(last.ok());
  EXPECT_EQ(last.error().kind, ErrorKind::kConflict);
  EXPECT_NE(last.error().message.find("is the last admin key"), std::string::npos)
      << last.error().message;
  EXPECT_EQ(Must(store_->FindApiKeyByHash("adm22222")).id, second.id);  // still works
  // Out of an organization's reach, like any key outside it: not found, not "the last one".
  EXPECT_EQ(store_->RevokeApiKey(second.id, kOrgA).error().kind, ErrorKind::kNotFound);
  // Organization keys have no such floor, and a revoked key is simply not found.
  ASSERT_TRUE(store_->RevokeApiKey(org.id, std::nullopt).ok());
  EXPECT_EQ(store_->RevokeApiKey(first.id, std::nullopt).error().kind, ErrorKind::kNotFound);
}

TEST_P(StoreContractTest, TwoStoresRevokingTheLastTwoAdminKeysAtOnceLeaveOne) {
  const ApiKey a = Must(store_->CreateApiKey(NewKey(std::nullopt, "adm44444")));
  const ApiKey b = Must(store_->CreateApiKey(NewKey(std::nullopt, "adm55555")));
  std::unique_ptr<Store> other = Must(GetParam().open(dir_.path(), clock_, {}));
  Status revoked_a = Status::Ok();
  std::thread first([&] { revoked_a = store_->RevokeApiKey(a.id, std::nullopt); });
  const Status revoked_b = other->RevokeApiKey(b.id, std::nullopt);
  first.join();
  EXPECT_EQ(revoked_a.ok() + revoked_b.ok(), 1);
  const Status refused = revoked_a.ok() ? revoked_b : revoked_a;
  EXPECT_EQ(refused.error().kind, ErrorKind::kConflict);
}

TEST_P(StoreContractTest, KeyRevokedByAnotherStoreStopsWorkingWithinFiveSeconds) {
  const ApiKey key = Must(store_->CreateApiKey(NewKey(kOrgA, "dddd4444")));
  EXPECT_EQ(Must(store_->FindApiKeyByHash("dddd4444")).id, key.id);  // now remembered
  std::unique_ptr<Store> other = Must(GetParam().open(dir_.path(), clock_, {}));
  ASSERT_TRUE(other->RevokeApiKey(key.id, kOrgA).ok());
  EXPECT_EQ(other->FindApiKeyByHash("dddd4444").error().kind, ErrorKind::kNotFound);

  clock_.Advance(4'999);
  EXPECT_TRUE(store_->FindApiKeyByHash("dddd4444").ok());  // the documented staleness
  clock_.Advance(1);
  EXPECT_EQ(store_->FindApiKeyByHash("dddd4444").error().kind, ErrorKind::kNotFound);
}

// ---------------------------------------------------------------- ingestion

TEST_P(StoreContractTest, IngestFansOutToActiveUndeletedConfigsOfSameOrgAndType) {
  const WebhookConfig first = Create(NewConfig(kOrgA, 4, "first"));
  WebhookConfig off = NewConfig(kOrgA, 4, "off");
  off.active = false;
  Create(off);
  const WebhookConfig deleted = Create(NewConfig(kOrgA, 4, "deleted"));
  ASSERT_TRUE(store_->DeleteConfig(deleted.id, std::nullopt).ok());
  Create(NewConfig(kOrgA, 5, "other-type"));
  Create(NewConfig(kOrgB, 4, "other-org"));
  const WebhookConfig second = Create(NewConfig(kOrgA, 4, "second"));

  clock_.Advance(1000);
  const NewEvent in = MakeEvent(kOrgA, 4, clock_.Now(), "key-1");
  const IngestedEvent out = Ingest(in);
  EXPECT_FALSE(out.replayed);
  EXPECT_EQ(out.event.id, in.id);
  EXPECT_EQ(out.event.organization_id, kOrgA);
  EXPECT_EQ(out.event.event_type_id, 4);
  EXPECT_EQ(out.event.payload_json, in.payload_json);
  EXPECT_EQ(out.event.idempotency_key, "key-1");
  EXPECT_EQ(out.event.created_at, clock_.Now());
  ASSERT_EQ(out.deliveries.size(), 2u);
  std::set<std::int64_t> targets;
  for (const Delivery& d : out.deliveries) {
    targets.insert(d.config_id);
    EXPECT_EQ(d.id.rfind("dlv_", 0), 0u) << d.id;
    EXPECT_EQ(d.event_id, in.id);
    EXPECT_EQ(d.organization_id, kOrgA);
    EXPECT_EQ(d.status, DeliveryStatus::kPending);
    EXPECT_EQ(d.attempt_count, 0);
    EXPECT_EQ(d.next_attempt_at, clock_.Now());
    EXPECT_EQ(d.created_at, clock_.Now());
  }
  EXPECT_EQ(targets, (std::set<std::int64_t>{first.id, second.id}));

  const Event stored = Must(store_->GetEvent(in.id, kOrgA));
  EXPECT_EQ(stored.payload_json, in.payload_json);
  EXPECT_EQ(stored.idempotency_key, "key-1");
  EXPECT_EQ(IdsOf(Must(store_->DeliveriesOfEvent(in.id, std::nullopt))), IdsOf(out.deliveries));
  const Delivery d = Must(store_->GetDelivery(out.deliveries[0].id, kOrgA));
  EXPECT_EQ(d.event_id, in.id);
  EXPECT_EQ(d.status, DeliveryStatus::kPending);
}

TEST_P(StoreContractTest, EventWithoutMatchingConfigIsStoredWithoutDeliveries) {
  const NewEvent in = MakeEvent(kOrgA, 9, clock_.Now());
  const IngestedEvent out = Ingest(in);
  EXPECT_TRUE(out.deliveries.empty());
  EXPECT_EQ(Must(store_->GetEvent(in.id, std::nullopt)).id, in.id);
  EXPECT_TRUE(Must(store_->DeliveriesOfEvent(in.id, std::nullopt)).empty());
  EXPECT_EQ(Must(store_->GetEvent(in.id, std::nullopt)).idempotency_key, "");
}

TEST_P(StoreContractTest, IdempotencyKeyReplaysWithin24HoursOnly) {
  Create(NewConfig(kOrgA, 1));
  const IngestedEvent original = Ingest(MakeEvent(kOrgA, 1, clock_.Now(), "same"));
  ASSERT_EQ(original.deliveries.size(), 1u);

  clock_.Advance(24 * kHour);  // exactly 24 h later: still the same request
  const NewEvent retry = MakeEvent(kOrgA, 1, clock_.Now(), "same");
  const IngestedEvent replay = Ingest(retry);
  EXPECT_TRUE(replay.replayed);
  EXPECT_EQ(replay.event.id, original.event.id);
  EXPECT_EQ(replay.event.created_at, original.event.created_at);
  EXPECT_EQ(IdsOf(replay.deliveries), IdsOf(original.deliveries));
  EXPECT_EQ(store_->GetEvent(retry.id, std::nullopt).error().kind, ErrorKind::kNotFound);

  const IngestedEvent other_org = Ingest(MakeEvent(kOrgB, 1, clock_.Now(), "same"));
  EXPECT_FALSE(other_org.replayed);
  EXPECT_NE(other_org.event.id, original.event.id);

  clock_.Advance(1);
  const NewEvent late = MakeEvent(kOrgA, 1, clock_.Now(), "same");
  const IngestedEvent fresh = Ingest(late);
  EXPECT_FALSE(fresh.replayed);
  EXPECT_EQ(fresh.event.id, late.id);
  ASSERT_EQ(fresh.deliveries.size(), 1u);
  EXPECT_NE(fresh.deliveries[0].id, original.deliveries[0].id);
  // The newest event now owns the key.
  EXPECT_EQ(Ingest(MakeEvent(kOrgA, 1, clock_.Now(), "same")).event.id, late.id);
}

TEST_P(StoreContractTest, IngestBatchHasPerItemResultsInInputOrder) {
  Create(NewConfig(kOrgA, 1));
  const NewEvent a = MakeEvent(kOrgA, 1, clock_.Now(), "k");
  NewEvent duplicate_id = MakeEvent(kOrgA, 1, clock_.Now());
  duplicate_id.id = a.id;
  const NewEvent same_key = MakeEvent(kOrgA, 1, clock_.Now(), "k");
  const NewEvent c = MakeEvent(kOrgA, 2, clock_.Now());

  std::vector<Result<IngestedEvent>> results = store_->IngestEvents({a, duplicate_id, same_key, c});
  ASSERT_EQ(results.size(), 4u);
  ASSERT_TRUE(results[0].ok());
  EXPECT_EQ(results[0]->event.id, a.id);
  EXPECT_EQ(results[0]->deliveries.size(), 1u);
  ASSERT_FALSE(results[1].ok());
  EXPECT_EQ(results[1].error().kind, ErrorKind::kConflict);
  ASSERT_TRUE(results[2].ok());
  EXPECT_TRUE(results[2]->replayed);
  EXPECT_EQ(results[2]->event.id, a.id);
  ASSERT_TRUE(results[3].ok());
  EXPECT_EQ(results[3]->event.id, c.id);

  EXPECT_TRUE(store_->IngestEvents({}).empty());
  // The failed item changed nothing: a's event still has exactly its one delivery.
  EXPECT_EQ(Must(store_->DeliveriesOfEvent(a.id, std::nullopt)).size(), 1u);
  EXPECT_EQ(Must(store_->CountDeliveries()).pending, 1);
}

TEST_P(StoreContractTest, CreateConfigStopsAtTheOrganizationsLimitNotCountingDeletedOnes) {
  std::vector<WebhookConfig> created;
  for (int i = 0; i < 3; ++i) created.push_back(Must(store_->CreateConfig(NewConfig(kOrgA, 1), 3)));
  Create(NewConfig(kOrgB, 1));  // another organization's do not count

  Result<WebhookConfig> refused = store_->CreateConfig(NewConfig(kOrgA, 2, "fourth"), 3);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().kind, ErrorKind::kLimitExceeded);
  EXPECT_EQ(refused.error().message,
            "organization 1 has 3 webhook configurations (deleted ones do not count) and may "
            "have at most 3; delete one first");
  ConfigFilter filter;
  filter.organization_id = kOrgA;
  filter.include_deleted = true;
  EXPECT_EQ(Must(store_->ListConfigs(filter, std::nullopt)).items.size(), 3u);

  ASSERT_TRUE(store_->DeleteConfig(created[0].id, std::nullopt).ok());
  const WebhookConfig fourth = Must(store_->CreateConfig(NewConfig(kOrgA, 2, "fourth"), 3));
  EXPECT_EQ(fourth.name, "fourth");
  EXPECT_EQ(Must(store_->ListConfigs(filter, std::nullopt)).items.size(), 4u);
}

TEST_P(StoreContractTest, ConcurrentCreatesCannotPassTheOrganizationsLimit) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 5;
  constexpr std::int64_t kLimit = 7;
  std::atomic<int> created{0};
  std::atomic<int> refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        Result<WebhookConfig> r = store_->CreateConfig(NewConfig(kOrgA, 1), kLimit);
        if (r.ok()) ++created;
        if (!r.ok() && r.error().kind == ErrorKind::kLimitExceeded) ++refused;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(created.load(), kLimit);
  EXPECT_EQ(refused.load(), kThreads * kPerThread - kLimit);
  ConfigFilter filter;
  filter.organization_id = kOrgA;
  EXPECT_EQ(Must(store_->ListConfigs(filter, std::nullopt)).items.size(),
            static_cast<std::size_t>(kLimit));
}

TEST_P(StoreContractTest, IngestOverTheDeliveryLimitStoresNothingOfTheRequest) {
  for (int i = 0; i < 3; ++i) Create(NewConfig(kOrgA, 1));
  const NewEvent earlier = MakeEvent(kOrgA, 1, clock_.Now(), "replayed");
  ASSERT_EQ(Ingest(earlier).deliveries.size(), 3u);
  // 1 + 3 + 0 (a replay creates none) + 3 + 3 = 10 new deliveries, one over the limit.
  const std::vector<NewEvent> request = {
      MakeEvent(kOrgB, 1, clock_.Now()), MakeEvent(kOrgA, 1, clock_.Now()),
      MakeEvent(kOrgA, 1, clock_.Now(), "replayed"), MakeEvent(kOrgA, 1, clock_.Now()),
      MakeEvent(kOrgA, 1, clock_.Now())};
  Create(NewConfig(kOrgB, 1));

  std::vector<Result<IngestedEvent>> refused = store_->IngestEvents(request, {.max_deliveries = 9});
  ASSERT_EQ(refused.size(), request.size());
  for (const Result<IngestedEvent>& r : refused) {
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().kind, ErrorKind::kLimitExceeded);
    EXPECT_EQ(r.error().message,
              "the request's events would create at least 10 deliveries; one ingest request may "
              "create at most 9");
  }
  for (const NewEvent& event : request) {
    if (event.idempotency_key.empty()) {
      EXPECT_FALSE(store_->GetEvent(event.id, std::nullopt).ok());
    }
  }
  EXPECT_EQ(Must(store_->CountDeliveries()).pending, 3);

  std::vector<Result<IngestedEvent>> stored = store_->IngestEvents(request, {.max_deliveries = 10});
  for (const Result<IngestedEvent>& r : stored) ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(stored[2]->replayed);
  EXPECT_EQ(Must(store_->CountDeliveries()).pending, 13);
}

// A request refused for its deliveries undoes only its own events, not those of the requests
// committed with it.
TEST_P(StoreContractTest, ADeliveryLimitRefusalLeavesOtherRequestsOfTheCommitAlone) {
  Create(NewConfig(kOrgA, 1));
  Create(NewConfig(kOrgA, 1));
  constexpr int kRequests = 60;
  std::mutex mu;
  std::condition_variable all_answered;
  int answers = 0, stored = 0, refused = 0;
  for (int i = 0; i < kRequests; ++i) {
    // Every third request has 3 events (6 deliveries) against a limit of 5.
    std::vector<NewEvent> events(i % 3 == 0 ? 3 : 2, MakeEvent(kOrgA, 1, clock_.Now()));
    for (NewEvent& e : events) e.id = NewSortableId("evt", clock_.Now());
    store_->IngestEventsAsync(
        std::move(events), {.max_deliveries = 5}, [&](std::vector<Result<IngestedEvent>> results) {
          std::lock_guard lock(mu);
          ++answers;
          const bool all_ok =
              std::all_of(results.begin(), results.end(), [](const auto& r) { return r.ok(); });
          const bool all_refused = std::all_of(results.begin(), results.end(), [](const auto& r) {
            return !r.ok() && r.error().kind == ErrorKind::kLimitExceeded;
          });
          if (all_ok && results.size() == 2) ++stored;
          if (all_refused && results.size() == 3) ++refused;
          all_answered.notify_all();
        });
  }
  std::unique_lock lock(mu);
  ASSERT_TRUE(
      all_answered.wait_for(lock, std::chrono::seconds(30), [&] { return answers >= kRequests; }));
  EXPECT_EQ(stored, kRequests * 2 / 3);
  EXPECT_EQ(refused, kRequests / 3);
  EXPECT_EQ(Must(store_->CountDeliveries()).pending, stored * 2 * 2);
}

// ---------------------------------------------------------------- deliveries

TEST_P(StoreContractTest, EventsDeliveriesAndAttemptsOfAnotherOrganizationDoNotExist) {
  const WebhookConfig config = Create(NewConfig(kOrgA, 1));
  const Delivery d = IngestFor(config);
  std::vector<DeliveryJob> jobs = ClaimAll();
  ASSERT_EQ(jobs.size(), 1u);
  ASSERT_TRUE(store_->RecordAttempts({Outcome(jobs[0], DeliveryStatus::kFailed, 500)}).ok());

  EXPECT_EQ(store_->GetEvent(d.event_id, kOrgB).error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(store_->DeliveriesOfEvent(d.event_id, kOrgB).error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(store_->GetDelivery(d.id, kOrgB).error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(store_->ListAttempts(d.id, kOrgB).error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(store_->RetryDelivery(d.id, kOrgB).error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(store_->RecoverConfig(config.id, 0, kOrgB).error().kind, ErrorKind::kNotFound);
  EXPECT_TRUE(Must(store_->ListDeliveries(DeliveryFilter{}, kOrgB)).items.empty());

  EXPECT_EQ(Must(store_->ListAttempts(d.id, kOrgA)).size(), 1u);
  EXPECT_EQ(Must(store_->GetDelivery(d.id, kOrgA)).status, DeliveryStatus::kFailed);
  EXPECT_EQ(Must(store_->ListDeliveries(DeliveryFilter{}, kOrgA)).items.size(), 1u);
  EXPECT_EQ(store_->GetDelivery("dlv_missing", std::nullopt).error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(store_->GetEvent("evt_missing", std::nullopt).error().kind, ErrorKind::kNotFound);
}

TEST_P(StoreContractTest, ListDeliveriesPagesThroughSevenRowsThreeAtATime) {
  const WebhookConfig config = Create(NewConfig(kOrgA, 1));
  std::vector<std::string> all;
  for (int i = 0; i < 7; ++i) {
    all.push_back(IngestFor(config).id);
    clock_.Advance(1);
  }
  DeliveryFilter filter;
  filter.limit = 3;
  std::vector<std::string> seen;
  std::vector<std::size_t> page_sizes;
  while (true) {
    const Page<Delivery> page = Must(store_->ListDeliveries(filter, kOrgA));
    page_sizes.push_back(page.items.size());
    for (const Delivery& d : page.items) seen.push_back(d.id);
    if (page.next_cursor.empty()) break;
    EXPECT_EQ(page.next_cursor, page.items.back().id);
    filter.after_id = page.next_cursor;
  }
  EXPECT_EQ(page_sizes, (std::vector<std::size_t>{3, 3, 1}));
  EXPECT_EQ(seen, all);
}

TEST_P(StoreContractTest, ListDeliveriesFilters) {
  const WebhookConfig one = Create(NewConfig(kOrgA, 1, "one"));
  const WebhookConfig two = Create(NewConfig(kOrgA, 1, "two"));
  const IngestedEvent early = Ingest(MakeEvent(kOrgA, 1, clock_.Now()));
  clock_.Advance(10'000);
  const UnixMillis later_start = clock_.Now();
  const IngestedEvent later = Ingest(MakeEvent(kOrgA, 1, clock_.Now()));
  ASSERT_EQ(early.deliveries.size(), 2u);
  ASSERT_EQ(later.deliveries.size(), 2u);

  auto list = [&](const DeliveryFilter& f) {
    std::set<std::string> ids;
    for (const Delivery& d : Must(store_->ListDeliveries(f, std::nullopt)).items) ids.insert(d.id);
    return ids;
  };
  auto of_config = [](const IngestedEvent& e, std::int64_t config_id) {
    for (const Delivery& d : e.deliveries) {
      if (d.config_id == config_id) return d.id;
    }
    return std::string();
  };

  DeliveryFilter f;
  f.event_id = early.event.id;
  EXPECT_EQ(list(f), (std::set<std::string>{early.deliveries[0].id, early.deliveries[1].id}));
  f = DeliveryFilter{};
  f.config_id = two.id;
  EXPECT_EQ(list(f), (std::set<std::string>{of_config(early, two.id), of_config(later, two.id)}));
  f.event_id = later.event.id;
  EXPECT_EQ(list(f), (std::set<std::string>{of_config(later, two.id)}));
  f = DeliveryFilter{};
  f.since = later_start;
  EXPECT_EQ(list(f), (std::set<std::string>{later.deliveries[0].id, later.deliveries[1].id}));

  // Claim everything, then fail `one`'s deliveries: the status filter sees the difference.
  std::vector<DeliveryJob> jobs = ClaimAll();
  ASSERT_EQ(jobs.size(), 4u);
  std::vector<AttemptOutcome> outcomes;
  for (const DeliveryJob& job : jobs) {
    if (job.config.id == one.id) outcomes.push_back(Outcome(job, DeliveryStatus::kFailed, 500));
  }
  ASSERT_TRUE(store_->RecordAttempts(outcomes).ok());
  f = DeliveryFilter{};
  f.status = DeliveryStatus::kFailed;
  EXPECT_EQ(list(f), (std::set<std::string>{of_config(early, one.id), of_config(later, one.id)}));
  f.status = DeliveryStatus::kDelivering;
  f.config_id = two.id;
  EXPECT_EQ(list(f), (std::set<std::string>{of_config(early, two.id), of_config(later, two.id)}));
  f.status = DeliveryStatus::kPending;
  EXPECT_TRUE(list(f).empty());
  // Each status filter with and without a configuration (each a statement of its own).
  f.status = DeliveryStatus::kFailed;
  EXPECT_TRUE(list(f).empty());
  f.config_id = one.id;
  EXPECT_EQ(list(f), (std::set<std::string>{of_config(early, one.id), of_config(later, one.id)}));
  f.status = DeliveryStatus::kDelivering;
  EXPECT_TRUE(list(f).empty());
  f = DeliveryFilter{};
  f.status = DeliveryStatus::kDelivering;
  EXPECT_EQ(list(f), (std::set<std::string>{of_config(early, two.id), of_config(later, two.id)}));
  f.status = DeliveryStatus::kPending;
  EXPECT_TRUE(list(f).empty());
  f.status = DeliveryStatus::kSucceeded;
  EXPECT_TRUE(list(f).empty());

  // Page by page, in id order, from the failed deliveries' index too.
  f = DeliveryFilter{};
  f.status = DeliveryStatus::kFailed;
  f.limit = 1;
  const Page<Delivery> first = Must(store_->ListDeliveries(f, std::nullopt));
  ASSERT_EQ(first.items.size(), 1u);
  EXPECT_EQ(first.items[0].id, of_config(early, one.id));
  f.after_id = first.items[0].id;
  const Page<Delivery> second = Must(store_->ListDeliveries(f, std::nullopt));
  ASSERT_EQ(second.items.size(), 1u);
  EXPECT_EQ(second.items[0].id, of_config(later, one.id));
  f.after_id = second.items[0].id;
  EXPECT_TRUE(Must(store_->ListDeliveries(f, std::nullopt)).items.empty());
}

// The event type is the event's: a configuration whose type changed keeps its earlier
// deliveries under their events' type. `since` and `until` bound the primary-key walk, so the
// edges are exact: a delivery created at `since` is in, one created at `until` is out.
TEST_P(StoreContractTest, ListDeliveriesFiltersByEventTypeAndTimeRange) {
  // This process's ids carry the latest time it made one at (core/ids.hpp), and earlier tests'
  // clocks ran ahead of this one's start: catch up, so that the ids carry this clock's times.
  while (NewSortableId("dlv", clock_.Now()) >= SortableIdLowerBound("dlv", clock_.Now() + 1)) {
    clock_.Advance(24 * 3'600'000);
  }
  WebhookConfig changing = Create(NewConfig(kOrgA, 1, "changing"));
  Create(NewConfig(kOrgA, 2, "other"));
  const Delivery first = IngestFor(changing);  // type 1
  clock_.Advance(10'000);
  const UnixMillis middle = clock_.Now();
  changing.event_type_id = 2;
  changing = Must(store_->UpdateConfig(changing, std::nullopt));
  // Type 2 from here on: a delivery to each configuration per event.
  const std::vector<std::string> second =
      Sorted(IdsOf(Ingest(MakeEvent(kOrgA, 2, middle)).deliveries));
  clock_.Advance(10'000);
  const UnixMillis last_start = clock_.Now();
  const std::vector<std::string> last =
      Sorted(IdsOf(Ingest(MakeEvent(kOrgA, 2, last_start)).deliveries));
  ASSERT_EQ(second.size(), 2u);
  ASSERT_EQ(last.size(), 2u);
  const std::vector<std::string> type2 = {second[0], second[1], last[0], last[1]};

  auto list = [&](const DeliveryFilter& f) {
    return IdsOf(Must(store_->ListDeliveries(f, std::nullopt)).items);
  };
  DeliveryFilter f;
  f.event_type_id = 1;
  EXPECT_EQ(list(f), std::vector<std::string>{first.id});
  f.event_type_id = 2;
  EXPECT_EQ(list(f), type2);
  f.event_type_id = 1;
  f.config_id = changing.id;
  EXPECT_EQ(list(f), std::vector<std::string>{first.id});
  f = DeliveryFilter{};
  f.event_type_id = 3;
  EXPECT_TRUE(list(f).empty());

  f = DeliveryFilter{};
  f.since = middle;
  f.until = last_start;
  EXPECT_EQ(list(f), second);
  f.since = last_start;
  f.until = std::nullopt;
  EXPECT_EQ(list(f), last);
  f.since = std::nullopt;
  f.until = middle;
  EXPECT_EQ(list(f), std::vector<std::string>{first.id});
  f.until = first.created_at;
  EXPECT_TRUE(list(f).empty());

  // Paging within a type and a window: the cursor and the window's start combine.
  f = DeliveryFilter{};
  f.event_type_id = 2;
  f.since = middle;
  f.limit = 1;
  std::vector<std::string> seen;
  for (int page = 0; page < 10; ++page) {
    const Page<Delivery> p = Must(store_->ListDeliveries(f, kOrgA));
    for (const Delivery& d : p.items) seen.push_back(d.id);
    if (p.next_cursor.empty()) break;
    f.after_id = p.next_cursor;
  }
  EXPECT_EQ(seen, type2);
}

TEST_P(StoreContractTest, ClaimDueTakesDueDeliveriesOldestFirstUpToLimitWithLease) {
  const WebhookConfig config = Create(NewConfig(kOrgA, 3));
  std::vector<Delivery> made;
  for (int i = 0; i < 4; ++i) {
    made.push_back(IngestFor(config));
    clock_.Advance(1000);
  }
  const UnixMillis lease = clock_.Now() + 30'000;

  // Only the first three are due at made[2].next_attempt_at; the limit takes two of them.
  std::vector<DeliveryJob> first = Must(store_->ClaimDue(made[2].next_attempt_at, 2, lease, {}));
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0].delivery.id, made[0].id);
  EXPECT_EQ(first[1].delivery.id, made[1].id);
  EXPECT_EQ(first[0].delivery.status, DeliveryStatus::kDelivering);
  EXPECT_FALSE(first[0].manual);
  EXPECT_EQ(first[0].event.id, made[0].event_id);
  EXPECT_EQ(first[0].event.payload_json, R"({"patientId":"p-1"})");
  EXPECT_EQ(first[0].config.id, config.id);
  EXPECT_EQ(first[0].config.secret, config.secret);
  EXPECT_EQ(first[0].config.url, config.url);
  EXPECT_EQ(Must(store_->GetDelivery(made[0].id, std::nullopt)).status,
            DeliveryStatus::kDelivering);

  std::vector<DeliveryJob> second = Must(store_->ClaimDue(made[2].next_attempt_at, 10, lease, {}));
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].delivery.id, made[2].id);
  EXPECT_TRUE(Must(store_->ClaimDue(made[2].next_attempt_at, 10, lease, {})).empty());
  EXPECT_EQ(Must(store_->ClaimDue(clock_.Now(), 10, lease, {})).size(), 1u);
  EXPECT_TRUE(Must(store_->ClaimDue(clock_.Now(), 0, lease, {})).empty());
}

TEST_P(StoreContractTest, AClaimCarriesTheConfigurationAsItIsNowNotAsItWasAtAnEarlierClaim) {
  WebhookConfig config = Create(NewConfig(kOrgA, 1));
  IngestFor(config);
  std::vector<DeliveryJob> before = ClaimAll();
  ASSERT_EQ(before.size(), 1u);
  EXPECT_EQ(before[0].config.secret, config.secret);

  config.secret = "whsec_bmV3LXNlY3JldC1uZXctc2VjcmV0LW5ldy1zZWNyZXQ=";
  config.attributes_json = R"({"apiKey":"rotated"})";
  config.headers_json = R"({"x-route":"second"})";
  config = Must(store_->UpdateConfig(config, std::nullopt));
  IngestFor(config);
  std::vector<DeliveryJob> after = ClaimAll();
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].config.secret, config.secret);
  EXPECT_EQ(after[0].config.attributes_json, R"({"apiKey":"rotated"})");
  EXPECT_EQ(after[0].config.headers_json, R"({"x-route":"second"})");
}

TEST_P(StoreContractTest, ClaimDueLeavesSkippedConfigurationsPending) {
  const WebhookConfig busy = Create(NewConfig(kOrgA, 3, "busy"));
  const WebhookConfig other = Create(NewConfig(kOrgA, 4, "other"));
  const Delivery busy_first = IngestFor(busy);
  const Delivery busy_second = IngestFor(busy);
  const Delivery free = IngestFor(other);
  const UnixMillis lease = clock_.Now() + 30'000;

  std::vector<DeliveryJob> claimed = Must(store_->ClaimDue(clock_.Now(), 10, lease, {busy.id}));
  ASSERT_EQ(claimed.size(), 1u);
  EXPECT_EQ(claimed[0].delivery.id, free.id);
  EXPECT_EQ(Must(store_->GetDelivery(busy_first.id, std::nullopt)).status,
            DeliveryStatus::kPending);

  std::vector<DeliveryJob> later = Must(store_->ClaimDue(clock_.Now(), 10, lease, {}));
  ASSERT_EQ(later.size(), 2u);
  EXPECT_EQ(later[0].delivery.id, busy_first.id);
  EXPECT_EQ(later[1].delivery.id, busy_second.id);
}

// With a configuration held back the claim visits the others one by one (it never walks the
// held-back one's due deliveries): still oldest due first across configurations, up to the
// limit, and a FIFO configuration's head goes when its retry falls due, even though the newer
// deliveries behind it fell due before it and would fill the limit.
TEST_P(StoreContractTest, ClaimDueSkippingConfigurationsKeepsTheDueOrderTheLimitAndFifoTurns) {
  const WebhookConfig held = Create(NewConfig(kOrgA, 5, "held"));
  const WebhookConfig fifo = CreateFifo();
  const WebhookConfig plain = Create(NewConfig(kOrgA, 4, "plain"));
  const Delivery held_first = IngestFor(held);
  const Delivery held_second = IngestFor(held);
  std::vector<Delivery> ordered;
  for (int i = 0; i < 4; ++i) {
    ordered.push_back(IngestFor(fifo));
    clock_.Advance(1000);
  }
  const Delivery plain_first = IngestFor(plain);
  clock_.Advance(1000);
  const Delivery plain_second = IngestFor(plain);
  const UnixMillis lease = clock_.Now() + 60'000;
  std::vector<DeliveryJob> jobs;
  auto claim = [&](int limit) {
    jobs = Must(store_->ClaimDue(clock_.Now(), limit, lease, {held.id}));
    std::vector<std::string> ids;
    for (const DeliveryJob& job : jobs) ids.push_back(job.delivery.id);
    return ids;
  };

  EXPECT_EQ(claim(2), (std::vector<std::string>{ordered[0].id, plain_first.id}));
  const DeliveryJob head = jobs.front();
  EXPECT_EQ(claim(2), std::vector<std::string>{plain_second.id});
  EXPECT_TRUE(claim(2).empty()) << "the FIFO head is in flight";

  // The head fails and is retried after the three behind it fell due.
  AttemptOutcome retry = Outcome(head, DeliveryStatus::kPending, 503);
  retry.next_attempt_at = clock_.Now() + 5'000;
  ASSERT_TRUE(store_->RecordAttempts({retry}).ok());
  EXPECT_TRUE(claim(2).empty());
  clock_.Advance(5'000);
  EXPECT_EQ(claim(2), std::vector<std::string>{ordered[0].id});

  EXPECT_EQ(Must(store_->GetDelivery(held_first.id, std::nullopt)).status,
            DeliveryStatus::kPending);
  std::vector<std::string> released;
  for (const DeliveryJob& job : ClaimAll()) released.push_back(job.delivery.id);
  EXPECT_EQ(released, (std::vector<std::string>{held_first.id, held_second.id}));
}

TEST_P(StoreContractTest, UpdateConfigChangesRateLimitAndOrdering) {
  WebhookConfig config = Create(NewConfig(kOrgA, 1));
  EXPECT_EQ(config.rate_limit, 0);
  EXPECT_EQ(config.ordering, DeliveryOrdering::kNone);
  config.rate_limit = 7;
  config.ordering = DeliveryOrdering::kFifo;
  const WebhookConfig updated = Must(store_->UpdateConfig(config, kOrgA));
  EXPECT_EQ(updated.rate_limit, 7);
  EXPECT_EQ(updated.ordering, DeliveryOrdering::kFifo);
  EXPECT_EQ(Must(store_->GetConfig(config.id, std::nullopt)).rate_limit, 7);
}

// A FIFO configuration's claim returns only its oldest open delivery; one being retried
// (pending, not yet due) holds the ones behind it; a finished one lets the next go.
TEST_P(StoreContractTest, ClaimDueSendsAFifoConfigurationsDeliveriesOneAtATimeInOrder) {
  const WebhookConfig fifo = CreateFifo();
  const WebhookConfig plain = Create(NewConfig(kOrgA, 4, "plain"));
  std::vector<Delivery> ordered;
  for (int i = 0; i < 3; ++i) ordered.push_back(IngestFor(fifo));
  const Delivery free1 = IngestFor(plain);
  const Delivery free2 = IngestFor(plain);

  std::vector<DeliveryJob> first = ClaimAll();
  std::vector<std::string> claimed;
  for (const DeliveryJob& job : first) claimed.push_back(job.delivery.id);
  EXPECT_EQ(claimed, (std::vector<std::string>{ordered[0].id, free1.id, free2.id}));
  EXPECT_TRUE(ClaimAll().empty()) << "the head is in flight: nothing behind it may go";

  // The head fails and waits 5 s for its retry: the others still wait behind it.
  AttemptOutcome retry = Outcome(first[0], DeliveryStatus::kPending, 503);
  retry.next_attempt_at = clock_.Now() + 5'000;
  ASSERT_TRUE(store_->RecordAttempts({retry}).ok());
  EXPECT_TRUE(ClaimAll().empty());
  clock_.Advance(5'000);
  std::vector<DeliveryJob> again = ClaimAll();
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].delivery.id, ordered[0].id);

  // Succeeded: the second goes, and only it.
  AttemptOutcome done = Outcome(again[0], DeliveryStatus::kSucceeded, 200);
  done.ends_fifo_turn = true;
  ASSERT_TRUE(store_->RecordAttempts({done}).ok());
  std::vector<DeliveryJob> second = ClaimAll();
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].delivery.id, ordered[1].id);

  // Failed for good (dead letter): the third goes.
  ASSERT_TRUE(store_->RecordAttempts({Outcome(second[0], DeliveryStatus::kFailed, 400)}).ok());
  std::vector<DeliveryJob> third = ClaimAll();
  ASSERT_EQ(third.size(), 1u);
  EXPECT_EQ(third[0].delivery.id, ordered[2].id);
}

// A FIFO configuration's delivery behind an open one waits for its turn: never due, so neither
// claims nor the next due time see it, until the turn before it ends (succeeded or failed for
// good), or until the configuration no longer delivers in order.
TEST_P(StoreContractTest, AFifoDeliveryBehindAnOpenOneWaitsForItsTurnWithoutFallingDue) {
  WebhookConfig config = CreateFifo();
  const UnixMillis ingested_at = clock_.Now();
  std::vector<Delivery> made;
  for (int i = 0; i < 4; ++i) made.push_back(IngestFor(config));
  auto next_attempt_of = [&](const Delivery& d) {
    return Must(store_->GetDelivery(d.id, std::nullopt)).next_attempt_at;
  };
  EXPECT_EQ(next_attempt_of(made[0]), ingested_at);
  for (int i = 1; i < 4; ++i) EXPECT_EQ(next_attempt_of(made[i]), kWaitingForTurn) << i;
  EXPECT_EQ(Must(store_->NextDueAt()), std::optional<UnixMillis>(ingested_at));

  std::vector<DeliveryJob> first = ClaimAll();
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].delivery.id, made[0].id);
  EXPECT_EQ(Must(store_->NextDueAt()), std::nullopt) << "the waiting ones are not due";
  const Result<Delivery> refused = store_->RetryDelivery(made[1].id, std::nullopt);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().kind, ErrorKind::kConflict);
  EXPECT_NE(refused.error().message.find("waits for an earlier delivery"), std::string::npos);
  EXPECT_EQ(next_attempt_of(made[1]), kWaitingForTurn) << "the refused retry changed it";

  clock_.Advance(2'000);
  ASSERT_TRUE(store_->RecordAttempts({Outcome(first[0], DeliveryStatus::kSucceeded, 200)}).ok());
  EXPECT_EQ(next_attempt_of(made[1]), clock_.Now()) << "its turn started when the first ended";
  EXPECT_EQ(next_attempt_of(made[2]), kWaitingForTurn);
  EXPECT_EQ(Must(store_->NextDueAt()), std::optional<UnixMillis>(clock_.Now()));
  std::vector<DeliveryJob> second = ClaimAll();
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].delivery.id, made[1].id);

  // The configuration stops delivering in order while the second is in flight: the two behind
  // it are due at once.
  config.ordering = DeliveryOrdering::kNone;
  Must(store_->UpdateConfig(config, std::nullopt));
  EXPECT_EQ(next_attempt_of(made[2]), clock_.Now());
  std::vector<std::string> rest;
  for (const DeliveryJob& job : ClaimAll()) rest.push_back(job.delivery.id);
  EXPECT_EQ(rest, (std::vector<std::string>{made[2].id, made[3].id}));
}

// A turn whose end did not start the next one (here an outcome recorded without saying it ended
// a FIFO turn) is started by the lease sweep, a safety net; one with a delivery in flight is not.
TEST_P(StoreContractTest, TheLeaseSweepStartsATurnNobodyStarted) {
  WebhookConfig config = CreateFifo();
  const Delivery head = IngestFor(config);
  const Delivery next = IngestFor(config);
  std::vector<DeliveryJob> jobs = ClaimAll();
  ASSERT_EQ(jobs.size(), 1u);
  const Delivery last = IngestFor(config);
  EXPECT_EQ(Must(store_->ReleaseExpiredLeases(clock_.Now())), 0);
  EXPECT_EQ(Must(store_->GetDelivery(next.id, std::nullopt)).next_attempt_at, kWaitingForTurn)
      << "the head is in flight";

  AttemptOutcome missed = Outcome(jobs[0], DeliveryStatus::kSucceeded, 200);
  missed.ends_fifo_turn = false;
  ASSERT_TRUE(store_->RecordAttempts({missed}).ok());
  EXPECT_TRUE(ClaimAll().empty());
  clock_.Advance(1'000);
  EXPECT_EQ(Must(store_->ReleaseExpiredLeases(clock_.Now())), 0) << "no lease was released";
  std::vector<DeliveryJob> started = ClaimAll();
  ASSERT_EQ(started.size(), 1u);
  EXPECT_EQ(started[0].delivery.id, next.id);
  EXPECT_EQ(Must(store_->GetDelivery(last.id, std::nullopt)).next_attempt_at, kWaitingForTurn);
  EXPECT_EQ(Must(store_->GetDelivery(head.id, std::nullopt)).status, DeliveryStatus::kSucceeded);
}

// A claim that meets a deleted or inactive configuration fails its whole due line, and a FIFO
// one's deliveries waiting for their turn, at once (before, each claim failed only what it met,
// and a FIFO line one delivery per claim), then selects again: a claim short of its limit still
// means that nothing more can go now. A delivery not due yet is left until it is.
TEST_P(StoreContractTest, AClaimFailsAnUndeliverableConfigurationsWholeLineAtOnce) {
  const WebhookConfig removed = Create(NewConfig(kOrgA, 1, "removed"));
  const Delivery later = IngestFor(removed);
  std::vector<DeliveryJob> first = ClaimAll();
  ASSERT_EQ(first.size(), 1u);
  AttemptOutcome retry = Outcome(first[0], DeliveryStatus::kPending, 500);
  retry.next_attempt_at = clock_.Now() + 60'000;
  ASSERT_TRUE(store_->RecordAttempts({retry}).ok());
  std::vector<Delivery> removed_line;
  for (int i = 0; i < 5; ++i) removed_line.push_back(IngestFor(removed));
  WebhookConfig fifo = CreateFifo();
  std::vector<Delivery> fifo_line;
  for (int i = 0; i < 4; ++i) fifo_line.push_back(IngestFor(fifo));
  clock_.Advance(1'000);
  const WebhookConfig live = Create(NewConfig(kOrgA, 2, "live"));
  const std::vector<std::string> live_ids = {IngestFor(live).id, IngestFor(live).id};
  ASSERT_TRUE(store_->DeleteConfig(removed.id, std::nullopt).ok());
  fifo.active = false;
  Must(store_->UpdateConfig(fifo, std::nullopt));

  std::vector<std::string> claimed;
  for (const DeliveryJob& job :
       Must(store_->ClaimDue(clock_.Now(), 3, clock_.Now() + 60'000, {}))) {
    claimed.push_back(job.delivery.id);
  }
  EXPECT_EQ(claimed, live_ids) << "the first selection held only undeliverable ones";
  auto expect_failed = [&](const std::vector<Delivery>& line, const std::string& reason) {
    for (const Delivery& d : line) {
      const Delivery now = Must(store_->GetDelivery(d.id, std::nullopt));
      EXPECT_EQ(now.status, DeliveryStatus::kFailed) << d.id;
      EXPECT_EQ(now.last_error, reason) << d.id;
    }
  };
  expect_failed(removed_line, "configuration deleted");
  expect_failed(fifo_line, "configuration inactive");
  EXPECT_EQ(Must(store_->GetDelivery(later.id, std::nullopt)).status, DeliveryStatus::kPending);
  EXPECT_EQ(Must(store_->NextDueAt()), std::optional<UnixMillis>(retry.next_attempt_at));
}

// A claim that selects again after failing a line still takes at most two seconds' worth of a
// rate-limited configuration in all, not in each selection.
TEST_P(StoreContractTest, AClaimThatSelectsAgainKeepsToARateLimitedConfigurationsShare) {
  WebhookConfig limited = NewConfig(kOrgA, 1, "limited");
  limited.rate_limit = 1;
  limited = Create(limited);
  for (int i = 0; i < 4; ++i) IngestFor(limited);
  const WebhookConfig removed = Create(NewConfig(kOrgA, 2, "removed"));
  IngestFor(removed);
  ASSERT_TRUE(store_->DeleteConfig(removed.id, std::nullopt).ok());

  const std::vector<DeliveryJob> claimed = ClaimAll();
  EXPECT_EQ(claimed.size(), 2u) << "one a second, two seconds' worth";
}

TEST_P(StoreContractTest, ClaimDueFailsDeliveriesOfDeletedOrInactiveConfigs) {
  const WebhookConfig live = Create(NewConfig(kOrgA, 1, "live"));
  const WebhookConfig deleted = Create(NewConfig(kOrgA, 1, "deleted"));
  const WebhookConfig paused = Create(NewConfig(kOrgA, 1, "paused"));
  const IngestedEvent event = Ingest(MakeEvent(kOrgA, 1, clock_.Now()));
  ASSERT_EQ(event.deliveries.size(), 3u);
  ASSERT_TRUE(store_->DeleteConfig(deleted.id, std::nullopt).ok());
  WebhookConfig pause = paused;
  pause.active = false;
  ASSERT_TRUE(store_->UpdateConfig(pause, std::nullopt).ok());

  std::vector<DeliveryJob> jobs = ClaimAll();
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].config.id, live.id);
  for (const Delivery& d : Must(store_->DeliveriesOfEvent(event.event.id, std::nullopt))) {
    if (d.config_id == deleted.id) {
      EXPECT_EQ(d.status, DeliveryStatus::kFailed);
      EXPECT_EQ(d.last_error, "configuration deleted");
    } else if (d.config_id == paused.id) {
      EXPECT_EQ(d.status, DeliveryStatus::kFailed);
      EXPECT_EQ(d.last_error, "configuration inactive");
    } else {
      EXPECT_EQ(d.status, DeliveryStatus::kDelivering);
    }
  }
}

TEST_P(StoreContractTest, NextDueAtIsTheEarliestPendingDelivery) {
  EXPECT_EQ(Must(store_->NextDueAt()), std::nullopt);
  const WebhookConfig config = Create(NewConfig(kOrgA, 1));
  const Delivery first = IngestFor(config);
  clock_.Advance(500);
  const Delivery second = IngestFor(config);
  EXPECT_EQ(Must(store_->NextDueAt()), first.next_attempt_at);
  ASSERT_EQ(Must(store_->ClaimDue(first.next_attempt_at, 10, clock_.Now() + 1000, {})).size(), 1u);
  EXPECT_EQ(Must(store_->NextDueAt()), second.next_attempt_at);
  ASSERT_EQ(ClaimAll().size(), 1u);
  EXPECT_EQ(Must(store_->NextDueAt()), std::nullopt);
}

TEST_P(StoreContractTest, ReleaseOwnLeasesReturnsThisNodesDeliveriesWhateverTheirLease) {
  const WebhookConfig config = Create(NewConfig(kOrgA, 1));
  const Delivery mine = IngestFor(config);
  ASSERT_EQ(Must(store_->ClaimDue(clock_.Now(), 10, clock_.Now() + 60'000, {})).size(), 1u);
  std::unique_ptr<Store> other = Must(GetParam().open(dir_.path(), clock_, {"other-node"}));
  const Delivery theirs = IngestFor(config);
  ASSERT_EQ(Must(other->ClaimDue(clock_.Now(), 10, clock_.Now() + 60'000, {})).size(), 1u);

  const std::int64_t released = Must(store_->ReleaseOwnLeases());
  auto status = [&](const Delivery& d) {
    return Must(store_->GetDelivery(d.id, std::nullopt)).status;
  };
  EXPECT_EQ(status(mine), DeliveryStatus::kPending);
  EXPECT_EQ(Must(store_->GetDelivery(mine.id, std::nullopt)).next_attempt_at, clock_.Now());
  if (GetParam().name.starts_with("sqlite")) {  // one node: every lease is its own
    EXPECT_EQ(released, 2);
    EXPECT_EQ(status(theirs), DeliveryStatus::kPending);
  } else {  // another node's live lease is left alone
    EXPECT_EQ(released, 1);
    EXPECT_EQ(status(theirs), DeliveryStatus::kDelivering);
    EXPECT_EQ(Must(other->ReleaseOwnLeases()), 1);
    EXPECT_EQ(status(theirs), DeliveryStatus::kPending);
  }
}

TEST_P(StoreContractTest, ReleaseExpiredLeasesReturnsOnlyExpiredOnesToPending) {
  const WebhookConfig config = Create(NewConfig(kOrgA, 1));
  const Delivery short_lease = IngestFor(config);
  ASSERT_EQ(Must(store_->ClaimDue(clock_.Now(), 10, clock_.Now() + 1000, {})).size(), 1u);
  const Delivery long_lease = IngestFor(config);
  ASSERT_EQ(Must(store_->ClaimDue(clock_.Now(), 10, clock_.Now() + 60'000, {})).size(), 1u);

  clock_.Advance(1000);
  EXPECT_EQ(Must(store_->ReleaseExpiredLeases(clock_.Now())), 0);  // not before it ends
  clock_.Advance(1);
  EXPECT_EQ(Must(store_->ReleaseExpiredLeases(clock_.Now())), 1);
  const Delivery released = Must(store_->GetDelivery(short_lease.id, std::nullopt));
  EXPECT_EQ(released.status, DeliveryStatus::kPending);
  EXPECT_EQ(released.next_attempt_at, clock_.Now());
  EXPECT_EQ(Must(store_->GetDelivery(long_lease.id, std::nullopt)).status,
            DeliveryStatus::kDelivering);
  std::vector<DeliveryJob> again = ClaimAll();
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].delivery.id, short_lease.id);
}

TEST_P(StoreContractTest, RecordAttemptsUpdatesDeliveriesAndStoresAttempts) {
  const WebhookConfig config = Create(NewConfig(kOrgA, 1));
  const Delivery retried = IngestFor(config);
  const Delivery succeeded = IngestFor(config);
  const Delivery dead = IngestFor(config);
  std::vector<DeliveryJob> jobs = ClaimAll();
  ASSERT_EQ(jobs.size(), 3u);
  clock_.Advance(100);

  AttemptOutcome retry = Outcome(jobs[0], DeliveryStatus::kPending, 503);
  retry.attempt.error = "HTTP 503";
  retry.next_attempt_at = clock_.Now() + 5000;
  AttemptOutcome ok = Outcome(jobs[1], DeliveryStatus::kSucceeded, 200);
  ok.attempt.response_body = std::string("bin\0ary", 7);
  AttemptOutcome failed = Outcome(jobs[2], DeliveryStatus::kFailed, 0);
  failed.attempt.error = "connection refused";
  ASSERT_TRUE(store_->RecordAttempts({retry, ok, failed}).ok());

  const Delivery r = Must(store_->GetDelivery(retried.id, std::nullopt));
  EXPECT_EQ(r.status, DeliveryStatus::kPending);
  EXPECT_EQ(r.attempt_count, 1);
  EXPECT_EQ(r.next_attempt_at, clock_.Now() + 5000);
  EXPECT_EQ(r.last_status_code, 503);
  EXPECT_EQ(r.last_error, "HTTP 503");
  EXPECT_EQ(r.updated_at, clock_.Now());
  const Delivery s = Must(store_->GetDelivery(succeeded.id, std::nullopt));
  EXPECT_EQ(s.status, DeliveryStatus::kSucceeded);
  EXPECT_EQ(s.last_status_code, 200);
  EXPECT_EQ(s.attempt_count, 1);
  const Delivery f = Must(store_->GetDelivery(dead.id, std::nullopt));
  EXPECT_EQ(f.status, DeliveryStatus::kFailed);
  EXPECT_EQ(f.last_error, "connection refused");
  EXPECT_EQ(f.last_status_code, 0);

  const std::vector<Attempt> attempts = Must(store_->ListAttempts(succeeded.id, kOrgA));
  ASSERT_EQ(attempts.size(), 1u);
  EXPECT_GT(attempts[0].id, 0);
  EXPECT_EQ(attempts[0].delivery_id, succeeded.id);
  EXPECT_EQ(attempts[0].attempted_at, clock_.Now());
  EXPECT_EQ(attempts[0].duration_ms, 12);
  EXPECT_EQ(attempts[0].request_headers_json, R"({"webhook-id":"x"})");
  EXPECT_EQ(attempts[0].status_code, 200);
  EXPECT_EQ(attempts[0].response_headers_json, R"({"content-type":"text/plain"})");
  EXPECT_EQ(attempts[0].response_body, std::string("bin\0ary", 7));
  EXPECT_FALSE(attempts[0].manual);

  // The pending one comes back when due, and its attempts are listed oldest first.
  EXPECT_TRUE(ClaimAll().empty());
  clock_.Advance(5000);
  std::vector<DeliveryJob> again = ClaimAll();
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].delivery.attempt_count, 1);
  ASSERT_TRUE(store_->RecordAttempts({Outcome(again[0], DeliveryStatus::kSucceeded, 204)}).ok());
  const std::vector<Attempt> history = Must(store_->ListAttempts(retried.id, std::nullopt));
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(history[0].status_code, 503);
  EXPECT_EQ(history[1].status_code, 204);
  EXPECT_EQ(Must(store_->GetDelivery(retried.id, std::nullopt)).attempt_count, 2);
}

TEST_P(StoreContractTest, RecordAttemptsIsAllOrNothing) {
  const WebhookConfig config = Create(NewConfig(kOrgA, 1));
  const Delivery d = IngestFor(config);
  std::vector<DeliveryJob> jobs = ClaimAll();
  ASSERT_EQ(jobs.size(), 1u);
  AttemptOutcome unknown = Outcome(jobs[0], DeliveryStatus::kSucceeded, 200);
  unknown.attempt.delivery_id = "dlv_missing";
  const Status s =
      store_->RecordAttempts({Outcome(jobs[0], DeliveryStatus::kSucceeded, 200), unknown});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(Must(store_->GetDelivery(d.id, std::nullopt)).status, DeliveryStatus::kDelivering);
  EXPECT_TRUE(Must(store_->ListAttempts(d.id, std::nullopt)).empty());
}

TEST_P(StoreContractTest, RecordAttemptsTracksConfigHealth) {
  const WebhookConfig config = Create(NewConfig(kOrgA, 1));
  auto attempt_once = [&](DeliveryStatus status, int code, ConfigEffect effect) {
    IngestFor(config);
    std::vector<DeliveryJob> jobs = ClaimAll();
    if (jobs.size() != 1) throw std::runtime_error("expected one job");
    AttemptOutcome o = Outcome(jobs[0], status, code, effect);
    o.disable_reason = "receiver answered 410 Gone";
    if (Status s = store_->RecordAttempts({o}); !s.ok())
      throw std::runtime_error(s.error().message);
  };
  auto stored = [&] { return Must(store_->GetConfig(config.id, std::nullopt)); };

  const UnixMillis first_failure = clock_.Now();
  attempt_once(DeliveryStatus::kFailed, 500, ConfigEffect::kFailing);
  EXPECT_EQ(stored().failing_since, first_failure);
  clock_.Advance(kHour);
  attempt_once(DeliveryStatus::kFailed, 500, ConfigEffect::kFailing);
  EXPECT_EQ(stored().failing_since, first_failure);  // the run's first failure is kept
  attempt_once(DeliveryStatus::kSucceeded, 200, ConfigEffect::kHealthy);
  EXPECT_EQ(stored().failing_since, 0);
  attempt_once(DeliveryStatus::kSucceeded, 200, ConfigEffect::kNone);
  EXPECT_TRUE(stored().active);

  clock_.Advance(kHour);
  attempt_once(DeliveryStatus::kFailed, 410, ConfigEffect::kDisable);
  const WebhookConfig disabled = stored();
  EXPECT_FALSE(disabled.active);
  EXPECT_FALSE(disabled.is_deleted);
  EXPECT_EQ(disabled.disabled_reason, "receiver answered 410 Gone");
  EXPECT_EQ(disabled.updated_at, clock_.Now());
}

TEST_P(StoreContractTest, RetryDeliveryRequeuesAsManualExceptWhileDelivering) {
  const WebhookConfig config = Create(NewConfig(kOrgA, 1));
  const Delivery d = IngestFor(config);
  std::vector<DeliveryJob> jobs = ClaimAll();
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(store_->RetryDelivery(d.id, kOrgA).error().kind, ErrorKind::kConflict);
  ASSERT_TRUE(store_->RecordAttempts({Outcome(jobs[0], DeliveryStatus::kFailed, 500)}).ok());

  clock_.Advance(kHour);
  const Delivery retried = Must(store_->RetryDelivery(d.id, kOrgA));
  EXPECT_EQ(retried.status, DeliveryStatus::kPending);
  EXPECT_EQ(retried.next_attempt_at, clock_.Now());
  EXPECT_EQ(retried.attempt_count, 1);

  std::vector<DeliveryJob> manual = ClaimAll();
  ASSERT_EQ(manual.size(), 1u);
  EXPECT_TRUE(manual[0].manual);
  AttemptOutcome again = Outcome(manual[0], DeliveryStatus::kPending, 500);
  again.next_attempt_at = clock_.Now();
  ASSERT_TRUE(store_->RecordAttempts({again}).ok());
  EXPECT_TRUE(Must(store_->ListAttempts(d.id, kOrgA)).back().manual);

  std::vector<DeliveryJob> automatic = ClaimAll();
  ASSERT_EQ(automatic.size(), 1u);
  EXPECT_FALSE(automatic[0].manual);  // the manual flag covers one attempt only
  EXPECT_EQ(store_->RetryDelivery("dlv_missing", std::nullopt).error().kind, ErrorKind::kNotFound);
}

TEST_P(StoreContractTest, RecoverConfigRequeuesFailedDeliveriesSince) {
  const WebhookConfig config = Create(NewConfig(kOrgA, 1, "recover"));
  const WebhookConfig other = Create(NewConfig(kOrgA, 2, "other"));
  const Delivery old_failure = IngestFor(config);
  clock_.Advance(kHour);
  const UnixMillis since = clock_.Now();
  const Delivery new_failure = IngestFor(config);
  const Delivery success = IngestFor(config);
  const Delivery other_failure = IngestFor(other);
  std::vector<AttemptOutcome> outcomes;
  for (const DeliveryJob& job : ClaimAll()) {
    const bool ok = job.delivery.id == success.id;
    outcomes.push_back(
        Outcome(job, ok ? DeliveryStatus::kSucceeded : DeliveryStatus::kFailed, ok ? 200 : 500));
  }
  ASSERT_EQ(outcomes.size(), 4u);
  ASSERT_TRUE(store_->RecordAttempts(outcomes).ok());

  clock_.Advance(1000);
  EXPECT_EQ(Must(store_->RecoverConfig(config.id, since, kOrgA)), 1);
  const Delivery recovered = Must(store_->GetDelivery(new_failure.id, std::nullopt));
  EXPECT_EQ(recovered.status, DeliveryStatus::kPending);
  EXPECT_EQ(recovered.next_attempt_at, clock_.Now());
  EXPECT_EQ(Must(store_->GetDelivery(old_failure.id, std::nullopt)).status,
            DeliveryStatus::kFailed);
  EXPECT_EQ(Must(store_->GetDelivery(success.id, std::nullopt)).status, DeliveryStatus::kSucceeded);
  EXPECT_EQ(Must(store_->GetDelivery(other_failure.id, std::nullopt)).status,
            DeliveryStatus::kFailed);
  std::vector<DeliveryJob> jobs = ClaimAll();
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_TRUE(jobs[0].manual);

  EXPECT_EQ(Must(store_->RecoverConfig(config.id, 0, std::nullopt)), 1);  // the old one
  EXPECT_EQ(store_->RecoverConfig(config.id + 100, 0, std::nullopt).error().kind,
            ErrorKind::kNotFound);
}

// The latency percentiles are nearest ranks of the window's succeeded deliveries: ten recorded
// 100 to 900 ms after their events (two of them at 300), and a failure left out.
TEST_P(StoreContractTest, StatsLatencyPercentilesAreNearestRanksOfTheSucceededDeliveries) {
  const WebhookConfig config = Create(NewConfig(kOrgA, 1));
  const UnixMillis since = clock_.Now();
  for (int i = 0; i < 11; ++i) IngestFor(config);
  std::vector<DeliveryJob> jobs = ClaimAll();
  ASSERT_EQ(jobs.size(), 11u);
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    if (i != 3) clock_.Advance(100);  // the third and fourth both at 300 ms
    const bool last = i + 1 == jobs.size();
    ASSERT_TRUE(store_
                    ->RecordAttempts({Outcome(
                        jobs[i], last ? DeliveryStatus::kFailed : DeliveryStatus::kSucceeded,
                        last ? 500 : 200)})
                    .ok());
  }
  const DeliveryStats stats = Must(store_->Stats(StatsQuery{.since = since}, kOrgA));
  EXPECT_EQ(stats.latency_samples, 10);
  // Latencies 100 200 300 300 400 500 600 700 800 900: p50 is the 5th, p99 the 10th.
  EXPECT_EQ(stats.latency_p50_ms, 400);
  EXPECT_EQ(stats.latency_p99_ms, 900);
  EXPECT_EQ(Must(store_->Stats(StatsQuery{.since = since}, kOrgB)).latency_samples, 0);
  const DeliveryStats later = Must(store_->Stats(StatsQuery{.since = clock_.Now() + 1}, kOrgA));
  EXPECT_EQ(later.latency_samples, 0);
  EXPECT_FALSE(later.latency_p50_ms.has_value());
  EXPECT_FALSE(later.latency_p99_ms.has_value());
}

// The whole count has every status; the backlog leaves the succeeded deliveries out and follows
// every change of status: a failure enters it, and a recovery moves it back to pending.
TEST_P(StoreContractTest, CountDeliveriesAndTheBacklogByStatus) {
  const WebhookConfig config = Create(NewConfig(kOrgA, 1));
  for (int i = 0; i < 5; ++i) IngestFor(config);
  std::vector<DeliveryJob> jobs = Must(store_->ClaimDue(clock_.Now(), 4, clock_.Now() + 1000, {}));
  ASSERT_EQ(jobs.size(), 4u);
  ASSERT_TRUE(store_
                  ->RecordAttempts({Outcome(jobs[0], DeliveryStatus::kSucceeded, 200),
                                    Outcome(jobs[1], DeliveryStatus::kFailed, 400),
                                    Outcome(jobs[2], DeliveryStatus::kFailed, 410)})
                  .ok());
  DeliveryBacklog backlog = Must(store_->CountBacklog());
  EXPECT_EQ(backlog.pending, 1);
  EXPECT_EQ(backlog.delivering, 1);
  EXPECT_EQ(backlog.failed, 2);
  const DeliveryCounts all = Must(store_->CountDeliveries());
  EXPECT_EQ(all.pending, 1);
  EXPECT_EQ(all.delivering, 1);
  EXPECT_EQ(all.succeeded, 1);
  EXPECT_EQ(all.failed, 2);

  EXPECT_EQ(Must(store_->RecoverConfig(config.id, 0, kOrgA)), 2);
  backlog = Must(store_->CountBacklog());
  EXPECT_EQ(backlog.pending, 3);
  EXPECT_EQ(backlog.delivering, 1);
  EXPECT_EQ(backlog.failed, 0);
}

TEST_P(StoreContractTest, WorkListenerFiresWhenACommitMakesWorkDue) {
  std::atomic<int> calls{0};
  store_->SetWorkListener([&] { ++calls; });
  const WebhookConfig config = Create(NewConfig(kOrgA, 1));
  EXPECT_EQ(calls.load(), 0);

  Ingest(MakeEvent(kOrgA, 8, clock_.Now()));  // no configuration: nothing due
  EXPECT_EQ(calls.load(), 0);
  const Delivery d = IngestFor(config);
  EXPECT_EQ(calls.load(), 1);

  std::vector<DeliveryJob> jobs = ClaimAll();
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(calls.load(), 1);
  AttemptOutcome retry = Outcome(jobs[0], DeliveryStatus::kPending, 500);
  retry.next_attempt_at = clock_.Now() + 1000;
  ASSERT_TRUE(store_->RecordAttempts({retry}).ok());
  EXPECT_EQ(calls.load(), 2);

  clock_.Advance(1000);
  jobs = ClaimAll();
  ASSERT_EQ(jobs.size(), 1u);
  ASSERT_TRUE(store_->RecordAttempts({Outcome(jobs[0], DeliveryStatus::kFailed, 500)}).ok());
  EXPECT_EQ(calls.load(), 2);
  ASSERT_TRUE(store_->RetryDelivery(d.id, std::nullopt).ok());
  EXPECT_EQ(calls.load(), 3);

  // A FIFO configuration's finished delivery lets its next one be claimed: that is work due.
  clock_.Advance(1);
  jobs = ClaimAll();
  ASSERT_EQ(jobs.size(), 1u);
  AttemptOutcome turn_over = Outcome(jobs[0], DeliveryStatus::kSucceeded, 200);
  turn_over.ends_fifo_turn = true;
  ASSERT_TRUE(store_->RecordAttempts({turn_over}).ok());
  EXPECT_EQ(calls.load(), 4);
}

// Takes the deliveries of one configuration (leased for 30 s) and keeps what it is given; holds
// another back, as the dispatcher does a stalled receiver's.
class RecordingHandoff final : public DeliveryHandoff {
 public:
  explicit RecordingHandoff(std::int64_t taken_config_id, std::int64_t held_back_config_id = 0)
      : taken_config_id_(taken_config_id), held_back_config_id_(held_back_config_id) {}

  std::optional<UnixMillis> LeaseFor(const WebhookConfig& config, UnixMillis now) override {
    if (config.id != taken_config_id_) return std::nullopt;
    return now + 30'000;
  }
  std::optional<UnixMillis> LeaseForNextTurn(const WebhookConfig& config, UnixMillis now) override {
    return LeaseFor(config, now);
  }
  bool HoldsBack(const WebhookConfig& config) override { return config.id == held_back_config_id_; }
  void Take(std::vector<DeliveryJob> jobs, UnixMillis lease_until) override {
    std::lock_guard lock(mutex_);
    for (DeliveryJob& job : jobs) given_.push_back(std::move(job));
    leases_.push_back(lease_until);
  }
  std::vector<DeliveryJob> given() {
    std::lock_guard lock(mutex_);
    return given_;
  }
  std::vector<UnixMillis> leases() {
    std::lock_guard lock(mutex_);
    return leases_;
  }

 private:
  const std::int64_t taken_config_id_;
  const std::int64_t held_back_config_id_;
  std::mutex mutex_;
  std::vector<DeliveryJob> given_;  // guarded by mutex_
  std::vector<UnixMillis> leases_;  // guarded by mutex_
};

TEST_P(StoreContractTest, HandoffTakesNewDeliveriesLeasedAndLeavesTheRestPending) {
  const WebhookConfig taken = Create(NewConfig(kOrgA, 1, "taken"));
  const WebhookConfig left = Create(NewConfig(kOrgA, 1, "left"));
  auto handoff = std::make_shared<RecordingHandoff>(taken.id);
  store_->SetDeliveryHandoff(handoff);
  std::atomic<int> wakes{0};
  store_->SetWorkListener([&] { ++wakes; });
  const NewEvent event = MakeEvent(kOrgA, 1, clock_.Now());
  ASSERT_EQ(Ingest(event).deliveries.size(), 2u);
  EXPECT_EQ(wakes.load(), 1);  // the delivery left pending

  const std::vector<DeliveryJob> given = handoff->given();
  ASSERT_EQ(given.size(), 1u);
  EXPECT_EQ(given[0].delivery.config_id, taken.id);
  EXPECT_EQ(given[0].delivery.status, DeliveryStatus::kDelivering);
  EXPECT_EQ(given[0].config.url, taken.url);  // all the dispatcher needs to send it
  EXPECT_EQ(given[0].config.secret, taken.secret);
  EXPECT_EQ(given[0].event.id, event.id);
  EXPECT_EQ(given[0].event.payload_json, event.payload_json);
  EXPECT_EQ(handoff->leases(), std::vector<UnixMillis>{clock_.Now() + 30'000});
  EXPECT_EQ(Must(store_->GetDelivery(given[0].delivery.id, std::nullopt)).status,
            DeliveryStatus::kDelivering);

  const std::vector<DeliveryJob> claimed = ClaimAll();
  ASSERT_EQ(claimed.size(), 1u);
  EXPECT_EQ(claimed[0].config.id, left.id);
  // A hand-off whose sender died returns to pending when its lease ends, as a claim does.
  EXPECT_EQ(Must(store_->ReleaseExpiredLeases(clock_.Now() + 30'001)), 1);
  const std::vector<DeliveryJob> reclaimed = ClaimAll();
  ASSERT_EQ(reclaimed.size(), 1u);
  EXPECT_EQ(reclaimed[0].delivery.id, given[0].delivery.id);

  store_->SetDeliveryHandoff(nullptr);
  Ingest(MakeEvent(kOrgA, 1, clock_.Now()));
  EXPECT_EQ(handoff->given().size(), 1u);
  EXPECT_EQ(ClaimAll().size(), 2u);
}

// The end of a FIFO turn hands the next delivery to the dispatcher when it takes it: leased in
// the transaction that recorded the end, its event readable (opened, with encryption at rest),
// with no claim and no wake between the two turns. When it does not take it, the next is due.
TEST_P(StoreContractTest, TheEndOfAFifoTurnHandsTheNextDeliveryToTheDispatcher) {
  const WebhookConfig config = CreateFifo();
  std::vector<IngestedEvent> line;
  for (int i = 0; i < 3; ++i) line.push_back(Ingest(MakeEvent(kOrgA, 3, clock_.Now())));
  const std::vector<DeliveryJob> head = ClaimAll();
  ASSERT_EQ(head.size(), 1u);
  auto handoff = std::make_shared<RecordingHandoff>(config.id);
  store_->SetDeliveryHandoff(handoff);
  std::atomic<int> wakes{0};
  store_->SetWorkListener([&] { ++wakes; });

  clock_.Advance(1'000);
  ASSERT_TRUE(store_->RecordAttempts({Outcome(head[0], DeliveryStatus::kSucceeded, 200)}).ok());
  const std::vector<DeliveryJob> given = handoff->given();
  ASSERT_EQ(given.size(), 1u);
  const Delivery& second = line[1].deliveries.front();
  EXPECT_EQ(given[0].delivery.id, second.id);
  EXPECT_EQ(given[0].delivery.status, DeliveryStatus::kDelivering);
  EXPECT_EQ(given[0].event.payload_json, line[1].event.payload_json);
  EXPECT_EQ(given[0].config.url, config.url);
  EXPECT_EQ(given[0].config.secret, config.secret);
  EXPECT_EQ(handoff->leases(), std::vector<UnixMillis>{clock_.Now() + 30'000});
  const Delivery stored = Must(store_->GetDelivery(second.id, std::nullopt));
  EXPECT_EQ(stored.status, DeliveryStatus::kDelivering);
  EXPECT_EQ(stored.next_attempt_at, clock_.Now());
  const Delivery& third = line[2].deliveries.front();
  EXPECT_EQ(Must(store_->GetDelivery(third.id, std::nullopt)).next_attempt_at, kWaitingForTurn);
  EXPECT_EQ(wakes.load(), 0) << "nothing is due for a claim";
  EXPECT_TRUE(ClaimAll().empty());
  EXPECT_EQ(Must(store_->NextDueAt()), std::nullopt);

  // A dispatcher that does not take it (full, stopping) leaves it due for a claim, as before.
  store_->SetDeliveryHandoff(std::make_shared<RecordingHandoff>(/*taken_config_id=*/0));
  ASSERT_TRUE(store_->RecordAttempts({Outcome(given[0], DeliveryStatus::kSucceeded, 200)}).ok());
  EXPECT_EQ(Must(store_->GetDelivery(third.id, std::nullopt)).next_attempt_at, clock_.Now());
  EXPECT_GE(wakes.load(), 1);
  const std::vector<DeliveryJob> claimed = ClaimAll();
  ASSERT_EQ(claimed.size(), 1u);
  EXPECT_EQ(claimed[0].delivery.id, third.id);
}

// The dispatcher's claims skip a configuration it holds back (a stalled receiver): a wake for its
// new pending deliveries would only make it search the store past them after every commit.
TEST_P(StoreContractTest, AHeldBackConfigurationsNewDeliveriesArePendingWithoutAWake) {
  const WebhookConfig held = Create(NewConfig(kOrgA, 1, "held back"));
  auto handoff = std::make_shared<RecordingHandoff>(/*taken_config_id=*/0, held.id);
  store_->SetDeliveryHandoff(handoff);
  std::atomic<int> wakes{0};
  store_->SetWorkListener([&] { ++wakes; });
  ASSERT_EQ(Ingest(MakeEvent(kOrgA, 1, clock_.Now())).deliveries.size(), 1u);
  EXPECT_EQ(wakes.load(), 0);

  Create(NewConfig(kOrgA, 1, "refused"));
  const int before = wakes.load();
  ASSERT_EQ(Ingest(MakeEvent(kOrgA, 1, clock_.Now())).deliveries.size(), 2u);
  EXPECT_EQ(wakes.load(), before + 1);  // the refused configuration's delivery is work due

  // Both held-back deliveries are stored pending, and claimed as usual when asked for.
  const std::vector<DeliveryJob> claimed = ClaimAll();
  ASSERT_EQ(claimed.size(), 3u);
  EXPECT_EQ(std::count_if(claimed.begin(), claimed.end(),
                          [&](const DeliveryJob& job) { return job.config.id == held.id; }),
            2);
  EXPECT_TRUE(handoff->given().empty());
}

TEST_P(StoreContractTest, ClosingTheStoreAnswersEveryQueuedIngestion) {
  const WebhookConfig config = Create(NewConfig(kOrgA, 1));
  constexpr int kCalls = 200;
  std::atomic<int> answered{0};
  std::atomic<int> stored{0};
  for (int i = 0; i < kCalls; ++i) {
    store_->IngestEventsAsync({MakeEvent(kOrgA, 1, clock_.Now())}, {},
                              [&](std::vector<Result<IngestedEvent>> results) {
                                ++answered;
                                if (results.size() == 1 && results.front().ok()) ++stored;
                              });
  }
  store_.reset();  // most of them still queued
  EXPECT_EQ(answered.load(), kCalls);
  EXPECT_EQ(stored.load(), kCalls);
  Reopen();
  EXPECT_EQ(Must(store_->ClaimDue(clock_.Now(), 1000, clock_.Now() + 1000, {})).size(),
            static_cast<std::size_t>(kCalls));
}

TEST_P(StoreContractTest, DataSurvivesCloseAndReopen) {
  const WebhookConfig config = Create(NewConfig(kOrgA, 1, "durable"));
  const ApiKey key = Must(store_->CreateApiKey(NewKey(kOrgA, "dddd4444")));
  const Delivery d = IngestFor(config);
  std::vector<DeliveryJob> jobs = ClaimAll();
  ASSERT_EQ(jobs.size(), 1u);
  ASSERT_TRUE(store_->RecordAttempts({Outcome(jobs[0], DeliveryStatus::kSucceeded, 200)}).ok());

  Reopen();
  EXPECT_EQ(Must(store_->GetConfig(config.id, kOrgA)).name, "durable");
  EXPECT_EQ(Must(store_->FindApiKeyByHash("dddd4444")).id, key.id);
  EXPECT_EQ(Must(store_->GetEvent(d.event_id, kOrgA)).id, d.event_id);
  EXPECT_EQ(Must(store_->GetDelivery(d.id, kOrgA)).status, DeliveryStatus::kSucceeded);
  EXPECT_EQ(Must(store_->ListAttempts(d.id, kOrgA)).size(), 1u);
  // New rows continue after the old ones.
  EXPECT_GT(Create(NewConfig(kOrgA, 1)).id, config.id);
}

TEST_P(StoreContractTest, ConcurrentIngestsAllCommitWithUniqueIds) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 200;
  Create(NewConfig(kOrgA, 1));
  std::atomic<int> failures{0};
  std::vector<std::vector<std::string>> ids(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::vector<Result<IngestedEvent>> r =
            store_->IngestEvents({MakeEvent(kOrgA, 1, clock_.Now())});
        if (r.size() != 1 || !r[0].ok() || r[0]->deliveries.size() != 1) {
          ++failures;
          continue;
        }
        ids[t].push_back(r[0]->event.id);
        ids[t].push_back(r[0]->deliveries[0].id);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  std::set<std::string> unique;
  for (const auto& list : ids) unique.insert(list.begin(), list.end());
  EXPECT_EQ(unique.size(), 2u * kThreads * kPerThread);
  EXPECT_EQ(Must(store_->CountDeliveries()).pending, kThreads * kPerThread);
  Reopen();
  EXPECT_EQ(Must(store_->CountDeliveries()).pending, kThreads * kPerThread);
}

// What an HTTP handler does: start many ingestions from one thread without waiting for any.
TEST_P(StoreContractTest, IngestEventsAsyncAnswersEveryCallOnceInInputOrder) {
  constexpr int kCalls = 300;
  Create(NewConfig(kOrgA, 1));
  std::mutex mu;
  std::condition_variable all_answered;
  int answers = 0;
  int wrong = 0;
  for (int i = 0; i < kCalls; ++i) {
    const NewEvent first = MakeEvent(kOrgA, 1, clock_.Now());
    const NewEvent second = MakeEvent(kOrgA, 2, clock_.Now());
    store_->IngestEventsAsync({first, second}, {},
                              [&, first_id = first.id,
                               second_id = second.id](std::vector<Result<IngestedEvent>> results) {
                                const bool right = results.size() == 2 && results[0].ok() &&
                                                   results[1].ok() &&
                                                   results[0]->event.id == first_id &&
                                                   results[0]->deliveries.size() == 1 &&
                                                   results[1]->event.id == second_id &&
                                                   results[1]->deliveries.empty();
                                std::lock_guard lock(mu);
                                ++answers;
                                if (!right) ++wrong;
                                all_answered.notify_all();
                              });
  }
  std::unique_lock lock(mu);
  ASSERT_TRUE(
      all_answered.wait_for(lock, std::chrono::seconds(30), [&] { return answers >= kCalls; }));
  EXPECT_EQ(answers, kCalls);
  EXPECT_EQ(wrong, 0);
  EXPECT_EQ(Must(store_->CountDeliveries()).pending, kCalls);
}

TEST_P(StoreContractTest, PurgeBeforeRemovesOldFinishedEventsInBatchesAndKeepsTheRest) {
  const WebhookConfig config = Create(NewConfig(kOrgA, 1));
  // Old events, one millisecond apart so that "oldest first" is well defined.
  const Delivery succeeded = IngestFor(config);
  clock_.Advance(1);
  const Delivery failed = IngestFor(config);
  clock_.Advance(1);
  const Delivery delivering = IngestFor(config);
  std::vector<DeliveryJob> jobs = ClaimAll();
  ASSERT_EQ(jobs.size(), 3u);
  ASSERT_TRUE(store_
                  ->RecordAttempts({Outcome(jobs[0], DeliveryStatus::kSucceeded, 200),
                                    Outcome(jobs[1], DeliveryStatus::kFailed, 500)})
                  .ok());
  clock_.Advance(1);
  const Delivery pending = IngestFor(config);  // failed once, retried long after the cutoff
  AttemptOutcome retry_later = Outcome(ClaimAll().at(0), DeliveryStatus::kPending, 503);
  retry_later.next_attempt_at = clock_.Now() + 10 * kHour;
  ASSERT_TRUE(store_->RecordAttempts({retry_later}).ok());
  clock_.Advance(1);
  const IngestedEvent undelivered = Ingest(MakeEvent(kOrgB, 1, clock_.Now()));  // no config
  ASSERT_TRUE(undelivered.deliveries.empty());
  const UnixMillis cutoff = clock_.Now() + 1;
  clock_.Advance(2 * kHour);
  const Delivery recent = IngestFor(config);
  ASSERT_TRUE(
      store_->RecordAttempts({Outcome(ClaimAll().at(0), DeliveryStatus::kSucceeded, 200)}).ok());

  EXPECT_EQ(Must(store_->PurgeBefore(cutoff, 0, kWithoutOwnPeriod)), 0);
  // The two oldest finished events go first; the third purgeable one waits for the next batch.
  EXPECT_EQ(Must(store_->PurgeBefore(cutoff, 2, kWithoutOwnPeriod)), 2);
  EXPECT_TRUE(store_->GetEvent(undelivered.event.id, std::nullopt).ok());
  EXPECT_EQ(Must(store_->PurgeBefore(cutoff, 2, kWithoutOwnPeriod)), 1);
  EXPECT_EQ(Must(store_->PurgeBefore(cutoff, 2, kWithoutOwnPeriod)), 0);

  for (const Delivery& gone : {succeeded, failed}) {
    EXPECT_EQ(store_->GetEvent(gone.event_id, std::nullopt).error().kind, ErrorKind::kNotFound);
    EXPECT_EQ(store_->GetDelivery(gone.id, std::nullopt).error().kind, ErrorKind::kNotFound);
    EXPECT_EQ(store_->ListAttempts(gone.id, std::nullopt).error().kind, ErrorKind::kNotFound);
  }
  EXPECT_EQ(store_->GetEvent(undelivered.event.id, std::nullopt).error().kind,
            ErrorKind::kNotFound);
  // Unfinished events stay however old; recent ones stay; their attempts stay too.
  for (const Delivery& kept : {delivering, pending, recent}) {
    EXPECT_TRUE(store_->GetEvent(kept.event_id, std::nullopt).ok()) << kept.id;
    EXPECT_TRUE(store_->GetDelivery(kept.id, std::nullopt).ok()) << kept.id;
  }
  EXPECT_EQ(Must(store_->ListAttempts(recent.id, std::nullopt)).size(), 1u);
  const DeliveryCounts counts = Must(store_->CountDeliveries());
  EXPECT_EQ(counts.delivering, 1);
  EXPECT_EQ(counts.pending, 1);
  EXPECT_EQ(counts.succeeded, 1);
  EXPECT_EQ(counts.failed, 0);

  // Once its delivery has finished, the old event goes at the next purge.
  ASSERT_TRUE(store_->RecordAttempts({Outcome(jobs[2], DeliveryStatus::kSucceeded, 200)}).ok());
  EXPECT_EQ(Must(store_->PurgeBefore(cutoff, 10, kWithoutOwnPeriod)), 1);
  EXPECT_EQ(store_->GetDelivery(delivering.id, std::nullopt).error().kind, ErrorKind::kNotFound);
  EXPECT_TRUE(store_->GetDelivery(pending.id, std::nullopt).ok());
}

TEST_P(StoreContractTest, PurgeBeforeWithAScopeTakesOnlyThatOrganizationOrThoseWithoutTheirOwn) {
  const IngestedEvent a = Ingest(MakeEvent(kOrgA, 1, clock_.Now()));
  const IngestedEvent b = Ingest(MakeEvent(kOrgB, 1, clock_.Now()));
  clock_.Advance(1);
  Must(store_->PutOrganizationSettings({kOrgA, 10 * kHour, 0}));
  const UnixMillis cutoff = clock_.Now();

  // The server's period skips organization A, which has its own.
  EXPECT_EQ(Must(store_->PurgeBefore(cutoff, 10, kWithoutOwnPeriod)), 1);
  EXPECT_TRUE(store_->GetEvent(a.event.id, std::nullopt).ok());
  EXPECT_FALSE(store_->GetEvent(b.event.id, std::nullopt).ok());
  EXPECT_EQ(Must(store_->PurgeBefore(cutoff, 10, kOrgB)), 0);
  EXPECT_EQ(Must(store_->PurgeBefore(cutoff, 10, kOrgA)), 1);
  EXPECT_FALSE(store_->GetEvent(a.event.id, std::nullopt).ok());
}

TEST_P(StoreContractTest, ErasePayloadsKeepsTheRecordsWithoutWhatTheyCarried) {
  const WebhookConfig config = Create(NewConfig(kOrgA, 1));
  const Delivery finished = IngestFor(config);
  ASSERT_TRUE(
      store_->RecordAttempts({Outcome(ClaimAll().at(0), DeliveryStatus::kSucceeded, 200)}).ok());
  clock_.Advance(1);
  const Delivery open = IngestFor(config);  // still pending: kept whole, however old
  const IngestedEvent other = Ingest(MakeEvent(kOrgB, 1, clock_.Now()));
  clock_.Advance(1);
  const UnixMillis cutoff = clock_.Now();
  clock_.Advance(kHour);
  const IngestedEvent young = Ingest(MakeEvent(kOrgA, 1, clock_.Now()));
  Must(store_->PutOrganizationSettings({kOrgB, 0, 24 * kHour}));

  EXPECT_EQ(Must(store_->ErasePayloadsBefore(cutoff, 0, kWithoutOwnPeriod)), 0);
  EXPECT_EQ(Must(store_->ErasePayloadsBefore(cutoff, 10, kWithoutOwnPeriod)), 1);
  EXPECT_EQ(Must(store_->ErasePayloadsBefore(cutoff, 10, kWithoutOwnPeriod)), 0);  // done

  const Event erased = Must(store_->GetEvent(finished.event_id, std::nullopt));
  EXPECT_EQ(erased.payload_json, "null");
  EXPECT_EQ(erased.payload_erased_at, clock_.Now());
  EXPECT_EQ(erased.organization_id, kOrgA);
  const Delivery delivery = Must(store_->GetDelivery(finished.id, std::nullopt));
  EXPECT_EQ(delivery.status, DeliveryStatus::kSucceeded);
  EXPECT_EQ(delivery.last_status_code, 200);
  const std::vector<Attempt> attempts = Must(store_->ListAttempts(finished.id, std::nullopt));
  ASSERT_EQ(attempts.size(), 1u);
  EXPECT_EQ(attempts[0].status_code, 200);
  EXPECT_EQ(attempts[0].duration_ms, 12);
  EXPECT_EQ(attempts[0].response_body, "");
  EXPECT_EQ(attempts[0].response_headers_json, "{}");
  EXPECT_EQ(attempts[0].request_headers_json, "{}");
  for (const std::string& kept : {open.event_id, other.event.id, young.event.id}) {
    const Event event = Must(store_->GetEvent(kept, std::nullopt));
    EXPECT_EQ(event.payload_erased_at, 0) << kept;
    EXPECT_NE(event.payload_json, "null") << kept;
  }

  // An erased event's deliveries are not sent again: no retry, no recovery.
  EXPECT_EQ(store_->RetryDelivery(finished.id, std::nullopt).error().kind, ErrorKind::kConflict);
  ASSERT_TRUE(
      store_->RecordAttempts({Outcome(ClaimAll().at(0), DeliveryStatus::kFailed, 500)}).ok());
  EXPECT_EQ(Must(store_->ErasePayloadsBefore(cutoff, 10, kWithoutOwnPeriod)), 1);  // `open` now
  EXPECT_EQ(Must(store_->RecoverConfig(config.id, 0, std::nullopt)), 0);
  EXPECT_EQ(Must(store_->GetDelivery(open.id, std::nullopt)).status, DeliveryStatus::kFailed);
  EXPECT_EQ(Must(store_->ErasePayloadsBefore(cutoff, 10, kOrgB)), 1);
}

TEST_P(StoreContractTest, OrganizationSettingsDefaultToZeroAndListOnlyOverrides) {
  EXPECT_EQ(Must(store_->GetOrganizationSettings(kOrgA)).retention_ms, 0);
  EXPECT_EQ(Must(store_->GetOrganizationSettings(kOrgA)).organization_id, kOrgA);
  Must(store_->PutOrganizationSettings({kOrgA, 5 * kHour, kHour}));
  Must(store_->PutOrganizationSettings({kOrgB, 0, 0}));
  const OrganizationSettings a = Must(store_->GetOrganizationSettings(kOrgA));
  EXPECT_EQ(a.retention_ms, 5 * kHour);
  EXPECT_EQ(a.payload_retention_ms, kHour);
  std::vector<OrganizationSettings> overrides = Must(store_->ListOrganizationOverrides());
  ASSERT_EQ(overrides.size(), 1u);
  EXPECT_EQ(overrides[0].organization_id, kOrgA);
  Must(store_->PutOrganizationSettings({kOrgA, 0, 2 * kHour}));  // replaces both
  EXPECT_EQ(Must(store_->GetOrganizationSettings(kOrgA)).retention_ms, 0);
  EXPECT_EQ(Must(store_->GetOrganizationSettings(kOrgA)).payload_retention_ms, 2 * kHour);
}

TEST_P(StoreContractTest, AuditEntriesAreListedInOrderFilteredScopedAndPurgedWhenOld) {
  auto entry = [&](std::optional<std::int64_t> org, std::int64_t key, std::string object) {
    AuditEntry e;
    e.at = clock_.Now();
    e.key_id = key;
    e.key_name = "key " + std::to_string(key);
    e.organization_id = org;
    e.method = "GET";
    e.route = "/events/{id}";
    e.object_id = std::move(object);
    e.address = "127.0.0.1";
    e.status = 200;
    return e;
  };
  ASSERT_TRUE(store_->AppendAudit(entry(kOrgA, 7, "evt_1")).ok());
  clock_.Advance(kHour);
  ASSERT_TRUE(store_->AppendAudit(entry(kOrgB, 8, "evt_2")).ok());
  ASSERT_TRUE(store_->AppendAudit(entry(std::nullopt, 9, "")).ok());
  ASSERT_TRUE(store_->AppendAudit(entry(kOrgA, 7, "evt_3")).ok());

  AuditFilter all;
  const Page<AuditEntry> page = Must(store_->ListAudit(all, std::nullopt));
  ASSERT_EQ(page.items.size(), 4u);
  EXPECT_LT(page.items[0].id, page.items[1].id);
  EXPECT_EQ(page.items[0].key_name, "key 7");
  EXPECT_EQ(page.items[0].address, "127.0.0.1");
  EXPECT_EQ(page.items[0].status, 200);
  EXPECT_EQ(page.items[0].route, "/events/{id}");
  EXPECT_FALSE(page.items[2].organization_id.has_value());
  EXPECT_EQ(page.next_cursor, "");

  AuditFilter first_two;
  first_two.limit = 2;
  const Page<AuditEntry> first = Must(store_->ListAudit(first_two, std::nullopt));
  ASSERT_EQ(first.items.size(), 2u);
  EXPECT_EQ(first.next_cursor, std::to_string(first.items[1].id));
  first_two.after_id = first.items[1].id;
  EXPECT_EQ(Must(store_->ListAudit(first_two, std::nullopt)).items.at(0).object_id, "");

  // An organization sees only entries about itself, whatever its filter asks.
  EXPECT_EQ(Must(store_->ListAudit(all, kOrgA)).items.size(), 2u);
  AuditFilter other_org;
  other_org.organization_id = kOrgB;
  EXPECT_TRUE(Must(store_->ListAudit(other_org, kOrgA)).items.empty());
  AuditFilter by_key_and_object;
  by_key_and_object.key_id = 7;
  by_key_and_object.object_id = "evt_3";
  EXPECT_EQ(Must(store_->ListAudit(by_key_and_object, std::nullopt)).items.size(), 1u);
  AuditFilter in_time;
  in_time.since = clock_.Now() - kHour;
  in_time.before = clock_.Now();
  EXPECT_EQ(Must(store_->ListAudit(in_time, std::nullopt)).items.size(), 1u);  // the first

  EXPECT_EQ(Must(store_->PurgeAuditBefore(clock_.Now(), 10)), 1);
  EXPECT_EQ(Must(store_->ListAudit(all, std::nullopt)).items.size(), 3u);
}

// ---------------------------------------------------------------- backends

StoreBackend SqliteBackend() {
  StoreBackend backend{
      "sqlite",
      [](const std::filesystem::path& dir, const Clock& clock, const StoreOptions& options) {
        return OpenStore("sqlite:" + (dir / "webhookd.db").string(), clock, options);
      }};
  backend.refuse_audit_inserts = [](const std::filesystem::path& dir) {
    auto db = Must(sqlite::Connection::Open((dir / "webhookd.db").string(), false));
    if (Status s = db->Exec("CREATE TRIGGER audit_log_refused BEFORE INSERT ON audit_log "
                            "BEGIN SELECT RAISE(ABORT, 'the test refuses audit entries'); END");
        !s.ok()) {
      throw std::runtime_error(s.error().message);
    }
  };
  return backend;
}

// The SQLite store behind EncryptingStore, as `webhookd serve` runs it by default: every part of
// the contract holds through encryption at rest.
class EncryptedStore final : public ForwardingStore {
 public:
  EncryptedStore(std::unique_ptr<Store> plain, std::unique_ptr<EncryptingStore> sealed)
      : ForwardingStore(*sealed), plain_(std::move(plain)), sealed_(std::move(sealed)) {}

 private:
  std::unique_ptr<Store> plain_;
  std::unique_ptr<EncryptingStore> sealed_;
};

StoreBackend EncryptedSqliteBackend() {
  StoreBackend backend = SqliteBackend();
  backend.name = "sqlite_encrypted";
  backend.open = [](const std::filesystem::path& dir, const Clock& clock,
                    const StoreOptions& options) -> Result<std::unique_ptr<Store>> {
    Result<std::unique_ptr<Store>> plain =
        OpenStore("sqlite:" + (dir / "webhookd.db").string(), clock, options);
    if (!plain.ok()) return plain.error();
    crypto::Keyring keyring;
    keyring.Add(crypto::NamedKey{"contract-key", std::string(32, 'k')});
    auto cipher = std::make_shared<const crypto::FieldCipher>(std::move(keyring));
    auto sealed = std::make_unique<EncryptingStore>(**plain, cipher, clock, EncryptionOptions{});
    return std::unique_ptr<Store>(
        std::make_unique<EncryptedStore>(std::move(*plain), std::move(sealed)));
  };
  return backend;
}

// PostgreSQL at WEBHOOKD_TEST_PG_URL (scripts/with-postgres sets it), one schema per test so
// that tests are independent and may run in parallel; the schema is named after `dir`.
std::string PgUrl() {
  const char* url = std::getenv("WEBHOOKD_TEST_PG_URL");
  return url == nullptr ? "" : url;
}

std::string PgSchemaFor(const std::filesystem::path& dir) {
  std::string schema = "webhookd_test_";
  for (unsigned char c : dir.filename().string()) schema += fmt::format("{:02x}", c);
  return schema;
}

void PgExec(const std::string& sql) {
  auto db = Must(postgres::Connection::Open(PgUrl()));
  if (Status s = db->Exec(sql); !s.ok()) throw std::runtime_error(s.error().message);
}

StoreBackend PostgresBackend() {
  StoreBackend backend{
      "postgres",
      [](const std::filesystem::path& dir, const Clock& clock, const StoreOptions& options) {
        const std::string schema = PgSchemaFor(dir);
        PgExec("CREATE SCHEMA IF NOT EXISTS " + schema);
        const std::string url = PgUrl();
        const char separator = url.find('?') == std::string::npos ? '?' : '&';
        return OpenStore(url + separator + "options=-csearch_path%3D" + schema, clock, options);
      }};
  backend.unavailable = [] {
    return PgUrl().empty() ? std::string(
                                 "WEBHOOKD_TEST_PG_URL is not set (run the tests through "
                                 "scripts/with-postgres, as `make test` does)")
                           : std::string();
  };
  backend.cleanup = [](const std::filesystem::path& dir) {
    PgExec("DROP SCHEMA IF EXISTS " + PgSchemaFor(dir) + " CASCADE");
  };
  backend.refuse_audit_inserts = [](const std::filesystem::path& dir) {
    const std::string schema = PgSchemaFor(dir);
    PgExec("CREATE FUNCTION " + schema +
           ".refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
           "RAISE EXCEPTION 'the test refuses audit entries'; END $$");
    PgExec("CREATE TRIGGER audit_log_refused BEFORE INSERT ON " + schema +
           ".audit_log FOR EACH ROW EXECUTE FUNCTION " + schema + ".refuse_audit()");
  };
  return backend;
}

StoredEventType MakeStoredType(int id, std::string name, int version) {
  StoredEventType t;
  t.id = id;
  t.name = std::move(name);
  t.version = version;
  t.description = "version " + std::to_string(version);
  t.schema_json = R"({"type":"object"})";
  t.sample_json = "{}";
  t.sample_headers_json = R"({"x-webhook-event":"VitalSignRecorded"})";
  return t;
}

TEST_P(StoreContractTest, EventTypesAreStoredVersionedAndArchived) {
  EXPECT_TRUE(Must(store_->ListEventTypes()).empty());
  const StoredEventType created = Must(store_->CreateEventType(MakeStoredType(0, "Vital", 1)));
  EXPECT_EQ(created.id, 13);  // above the 12 built-in types
  EXPECT_EQ(created.created_at, clock_.Now());
  EXPECT_EQ(Must(store_->CreateEventType(MakeStoredType(0, "Other", 1))).id, 14);
  EXPECT_EQ(Must(store_->CreateEventType(MakeStoredType(40, "Forty", 1))).id, 40);
  EXPECT_EQ(store_->CreateEventType(MakeStoredType(0, "Vital", 1)).error().kind,
            ErrorKind::kConflict);
  EXPECT_EQ(store_->CreateEventType(MakeStoredType(14, "Fresh", 1)).error().kind,
            ErrorKind::kConflict);

  Must(store_->AddEventTypeVersion(MakeStoredType(13, "Vital", 2)));
  EXPECT_EQ(store_->AddEventTypeVersion(MakeStoredType(13, "Vital", 2)).error().kind,
            ErrorKind::kConflict);
  Must(store_->AddEventTypeVersion(MakeStoredType(7, "HealthRecordCounter", 2)));  // built-in
  EXPECT_TRUE(store_->ArchiveEventType(14).ok());
  EXPECT_EQ(store_->ArchiveEventType(14).error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(store_->ArchiveEventType(99).error().kind, ErrorKind::kNotFound);

  const std::vector<StoredEventType> all = Must(store_->ListEventTypes());
  ASSERT_EQ(all.size(), 5u);
  EXPECT_EQ(all[0].id, 7);
  EXPECT_EQ(all[0].version, 2);
  EXPECT_EQ(all[1].id, 13);
  EXPECT_EQ(all[1].version, 1);
  EXPECT_EQ(all[2].version, 2);
  EXPECT_EQ(all[2].description, "version 2");
  EXPECT_EQ(all[2].sample_headers_json, R"({"x-webhook-event":"VitalSignRecorded"})");
  EXPECT_FALSE(all[2].archived);
  EXPECT_EQ(all[3].id, 14);
  EXPECT_TRUE(all[3].archived);
  EXPECT_EQ(all[4].id, 40);
}

TEST_P(StoreContractTest, AnEventKeepsTheVersionOfItsType) {
  NewEvent event = MakeEvent(kOrgA, 5, clock_.Now());
  event.event_type_version = 3;
  std::vector<Result<IngestedEvent>> results = store_->IngestEvents({event});
  ASSERT_TRUE(results.front().ok()) << results.front().error().message;
  EXPECT_EQ(results.front()->event.event_type_version, 3);
  EXPECT_EQ(Must(store_->GetEvent(event.id, std::nullopt)).event_type_version, 3);
}

// ---------------------------------------------------------------- audit entries of changes

AuditEntry ChangeEntry(std::string method, std::string route, std::int64_t key_id = 5) {
  AuditEntry entry;
  entry.key_id = key_id;
  entry.key_name = "operator";
  entry.method = std::move(method);
  entry.route = std::move(route);
  entry.address = "10.0.0.9";
  entry.status = 200;
  return entry;
}

TEST_P(StoreContractTest, EveryChangeCommitsItsAuditEntryWithIt) {
  clock_.Advance(1000);
  AuditEntry create = ChangeEntry("POST", "/external-events");
  create.organization_id = kOrgA;
  create.status = 201;
  const WebhookConfig config =
      Must(store_->CreateConfig(NewConfig(kOrgA, 1), kNoConfigLimit, &create));
  WebhookConfig changed = config;
  changed.name = "renamed";
  AuditEntry update = ChangeEntry("PUT", "/external-events/{id}");
  update.object_id = std::to_string(config.id);
  Must(store_->UpdateConfig(changed, std::nullopt, &update));
  const Delivery delivery = IngestFor(config);
  FailDue();
  AuditEntry retry = ChangeEntry("POST", "/deliveries/{id}/retry");  // an admin's: no organization
  retry.object_id = delivery.id;
  Must(store_->RetryDelivery(delivery.id, std::nullopt, &retry));
  AuditEntry recover = ChangeEntry("POST", "/external-events/{id}/recover");
  Must(store_->RecoverConfig(config.id, 0, std::nullopt, &recover));
  AuditEntry remove = ChangeEntry("DELETE", "/external-events/{id}");
  ASSERT_TRUE(store_->DeleteConfig(config.id, kOrgA, &remove).ok());
  ApiKey key;
  key.organization_id = kOrgB;
  key.name = "reader";
  key.hash = "hash-of-reader";
  key.prefix = "whk_read";
  AuditEntry issue = ChangeEntry("POST", "/api-keys");
  const ApiKey issued = Must(store_->CreateApiKey(key, &issue));
  AuditEntry revoke = ChangeEntry("DELETE", "/api-keys/{id}");
  ASSERT_TRUE(store_->RevokeApiKey(issued.id, std::nullopt, &revoke).ok());
  AuditEntry settings = ChangeEntry("PUT", "/organizations/{id}/settings");
  Must(store_->PutOrganizationSettings({kOrgA, 0, kHour}, &settings));
  AuditEntry type = ChangeEntry("POST", "/event-types");
  Must(store_->CreateEventType(MakeStoredType(0, "Vital", 1), &type));
  AuditEntry version = ChangeEntry("PUT", "/event-types/{name}");
  Must(store_->AddEventTypeVersion(MakeStoredType(13, "Vital", 2), &version));
  AuditEntry archive = ChangeEntry("DELETE", "/event-types/{name}");
  ASSERT_TRUE(store_->ArchiveEventType(13, &archive).ok());

  AuditFilter all;
  all.limit = 100;
  const std::vector<AuditEntry> entries = Must(store_->ListAudit(all, std::nullopt)).items;
  std::vector<std::string> routes;
  for (const AuditEntry& e : entries) routes.push_back(e.method + " " + e.route);
  EXPECT_EQ(routes,
            (std::vector<std::string>{
                "POST /external-events", "PUT /external-events/{id}", "POST /deliveries/{id}/retry",
                "POST /external-events/{id}/recover", "DELETE /external-events/{id}",
                "POST /api-keys", "DELETE /api-keys/{id}", "PUT /organizations/{id}/settings",
                "POST /event-types", "PUT /event-types/{name}", "DELETE /event-types/{name}"}));
  ASSERT_EQ(entries.size(), 11u);
  EXPECT_EQ(entries[0].object_id, std::to_string(config.id));  // the created row's
  EXPECT_EQ(entries[0].organization_id, kOrgA);
  EXPECT_EQ(entries[0].status, 201);
  EXPECT_EQ(entries[0].at, clock_.Now());
  EXPECT_EQ(entries[0].key_name, "operator");
  EXPECT_EQ(entries[0].address, "10.0.0.9");
  EXPECT_EQ(entries[1].organization_id, kOrgA);  // the configuration's
  EXPECT_EQ(entries[2].object_id, delivery.id);
  EXPECT_EQ(entries[2].organization_id, kOrgA);  // the delivery's
  EXPECT_EQ(entries[5].object_id, std::to_string(issued.id));
  EXPECT_EQ(entries[5].organization_id, kOrgB);  // the key's
}

TEST_P(StoreContractTest, AChangeThatFailsWritesNoEntry) {
  AuditEntry update = ChangeEntry("PUT", "/external-events/{id}");
  WebhookConfig missing = NewConfig(kOrgA, 1);
  missing.id = 404;
  EXPECT_EQ(store_->UpdateConfig(missing, std::nullopt, &update).error().kind,
            ErrorKind::kNotFound);
  Must(store_->CreateEventType(MakeStoredType(0, "Vital", 1)));
  AuditEntry duplicate = ChangeEntry("POST", "/event-types");
  EXPECT_EQ(store_->CreateEventType(MakeStoredType(0, "Vital", 1), &duplicate).error().kind,
            ErrorKind::kConflict);
  AuditEntry archive = ChangeEntry("DELETE", "/event-types/{name}");
  EXPECT_EQ(store_->ArchiveEventType(99, &archive).error().kind, ErrorKind::kNotFound);
  EXPECT_TRUE(Must(store_->ListAudit(AuditFilter{}, std::nullopt)).items.empty());
}

// The entry is written in the change's own transaction: when it cannot be written, the change
// is undone with it, on every kind of change.
TEST_P(StoreContractTest, AChangeWhoseAuditEntryCannotBeWrittenIsUndone) {
  const WebhookConfig config = Create(NewConfig(kOrgA, 1));
  const Delivery delivery = IngestFor(config);
  FailDue();
  const std::int64_t catalog_version = Must(store_->CatalogVersion());
  GetParam().refuse_audit_inserts(dir_.path());
  AuditEntry entry = ChangeEntry("POST", "/anything");

  EXPECT_FALSE(store_->CreateConfig(NewConfig(kOrgA, 2, "second"), kNoConfigLimit, &entry).ok());
  WebhookConfig renamed = config;
  renamed.name = "renamed";
  EXPECT_FALSE(store_->UpdateConfig(renamed, std::nullopt, &entry).ok());
  EXPECT_FALSE(store_->DeleteConfig(config.id, std::nullopt, &entry).ok());
  EXPECT_FALSE(store_->RetryDelivery(delivery.id, std::nullopt, &entry).ok());
  EXPECT_FALSE(store_->RecoverConfig(config.id, 0, std::nullopt, &entry).ok());
  ApiKey key;
  key.name = "admin";
  key.hash = "hash-of-admin";
  key.prefix = "whk_admn";
  EXPECT_FALSE(store_->CreateApiKey(key, &entry).ok());
  EXPECT_FALSE(store_->PutOrganizationSettings({kOrgA, kHour, kHour}, &entry).ok());
  EXPECT_FALSE(store_->CreateEventType(MakeStoredType(0, "Vital", 1), &entry).ok());

  const std::vector<WebhookConfig> configs =
      Must(store_->ListConfigs(ConfigFilter{}, std::nullopt)).items;
  ASSERT_EQ(configs.size(), 1u);
  EXPECT_EQ(configs[0].name, config.name);
  EXPECT_FALSE(configs[0].is_deleted);
  EXPECT_EQ(Must(store_->GetDelivery(delivery.id, std::nullopt)).status, DeliveryStatus::kFailed);
  EXPECT_EQ(Must(store_->CountApiKeys()), 0);
  EXPECT_TRUE(Must(store_->ListOrganizationOverrides()).empty());
  EXPECT_TRUE(Must(store_->ListEventTypes()).empty());
  EXPECT_EQ(Must(store_->CatalogVersion()), catalog_version);
  // Without an entry to write, the same change goes through.
  EXPECT_TRUE(store_->UpdateConfig(renamed, std::nullopt).ok());
}

TEST_P(StoreContractTest, EveryKindOfCatalogChangeMovesTheCatalogVersion) {
  const std::int64_t start = Must(store_->CatalogVersion());
  EXPECT_EQ(start, 0);
  Must(store_->CreateEventType(MakeStoredType(0, "Vital", 1)));
  const std::int64_t created = Must(store_->CatalogVersion());
  EXPECT_GT(created, start);
  Must(store_->AddEventTypeVersion(MakeStoredType(13, "Vital", 2)));
  const std::int64_t versioned = Must(store_->CatalogVersion());
  EXPECT_GT(versioned, created);
  Must(store_->AddEventTypeVersion(MakeStoredType(7, "HealthRecordCounter", 2)));  // built-in
  const std::int64_t builtin_versioned = Must(store_->CatalogVersion());
  EXPECT_GT(builtin_versioned, versioned);
  ASSERT_TRUE(store_->ArchiveEventType(13).ok());
  const std::int64_t archived = Must(store_->CatalogVersion());
  EXPECT_GT(archived, builtin_versioned);

  // A refused change moves nothing; other writes do not touch the catalog's version.
  EXPECT_FALSE(store_->CreateEventType(MakeStoredType(0, "Vital", 1)).ok());
  EXPECT_FALSE(store_->ArchiveEventType(13).ok());
  Create(NewConfig(kOrgA, 1));
  EXPECT_EQ(Must(store_->CatalogVersion()), archived);
  Reopen();
  EXPECT_EQ(Must(store_->CatalogVersion()), archived);
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreContractTest,
                         ::testing::Values(SqliteBackend(), EncryptedSqliteBackend(),
                                           PostgresBackend()),
                         BackendName);

}  // namespace
}  // namespace webhookd
