// Authentication (Bearer API keys), the API-key endpoints, and tenancy: an organization key
// never reads, lists, changes or deletes another organization's objects.
#include <functional>
#include <regex>

#include "test_support.hpp"

namespace webhookd::itest {
namespace {

const std::regex kApiKey("whk_[0-9a-f]{64}");

// Ids of every configuration visible to `client`, deleted ones included.
std::vector<json::value> Ids(HttpClient& client) {
  const HttpResponse r = client.Get("/external-events/?includeDeleted=true&limit=250");
  EXPECT_TRUE(IsJson(r, 200));
  std::vector<json::value> ids;
  if (!r.is_json) return ids;
  for (const auto& item : r.json.at("data").as_array()) ids.push_back(item.at("id"));
  return ids;
}

class AuthTest : public ServerTest {};

TEST_F(AuthTest, MissingKeyIsUnauthorized) {
  HttpClient anonymous = Anonymous();
  for (const char* path :
       {"/external-events/", "/external-events/1", "/event-types", "/api-keys"}) {
    EXPECT_TRUE(IsProblem(anonymous.Get(path), 401, "unauthorized")) << path;
  }
  EXPECT_TRUE(IsProblem(anonymous.Post("/external-events/", ConfigBody(1)), 401, "unauthorized"));
  EXPECT_TRUE(
      IsProblem(anonymous.Post("/api-keys", json::object{{"name", "x"}}), 401, "unauthorized"));
}

TEST_F(AuthTest, BadKeysAreUnauthorized) {
  HttpClient client = Anonymous();
  const std::vector<std::string> headers = {
      "Bearer whk_" + std::string(64, '0'),                     // well-formed, unknown
      "Bearer " + admin_key_.substr(0, admin_key_.size() - 1),  // truncated
      "Bearer " + admin_key_ + "0",                             // extended
      "Bearer",
      "Bearer ",
      "Basic " + admin_key_,
      admin_key_,  // no scheme
      "Bearer not-a-key",
  };
  for (const auto& header : headers) {
    const HttpResponse r =
        client.Request("GET", "/external-events/", {}, {{"Authorization", header}});
    EXPECT_TRUE(IsProblem(r, 401, "unauthorized")) << "Authorization: " << header;
  }
  // Nothing was created with a bad key.
  const HttpResponse post =
      client.Request("POST", "/external-events/", json::serialize(ConfigBody(1)),
                     {{"Authorization", "Bearer whk_" + std::string(64, '1')}});
  EXPECT_TRUE(IsProblem(post, 401, "unauthorized"));
  HttpClient admin = Admin();
  EXPECT_TRUE(Ids(admin).empty());
}

TEST_F(AuthTest, ApiKeysCanBeCreatedListedAndRevoked) {
  HttpClient admin = Admin();
  const auto before = std::chrono::system_clock::now();
  const HttpResponse created =
      admin.Post("/api-keys", json::object{{"name", "billing"}, {"organizationId", 3}});
  ASSERT_TRUE(IsJson(created, 201));
  const json::object& k = created.json.as_object();
  EXPECT_EQ(k.at("name"), json::value("billing"));
  EXPECT_EQ(k.at("organizationId"), json::value(3));
  ASSERT_TRUE(k.at("key").is_string());
  const std::string key(k.at("key").as_string());
  EXPECT_TRUE(std::regex_match(key, kApiKey)) << key;
  ASSERT_TRUE(k.at("prefix").is_string());
  const std::string prefix(k.at("prefix").as_string());
  EXPECT_FALSE(prefix.empty());
  EXPECT_LT(prefix.size(), key.size());
  EXPECT_TRUE(key.starts_with(prefix)) << prefix;
  const auto created_at = ParseRfc3339(k.at("createdAt").as_string());
  ASSERT_TRUE(created_at.has_value()) << created.body;
  EXPECT_GE(*created_at, before - 2s);
  const json::value id = k.at("id");

  // The new key works and is scoped to organization 3.
  HttpClient org = WithKey(key);
  const json::object config = CreateConfig(org, [] {
    json::object body = ConfigBody(0);
    body.erase("organizationId");
    return body;
  }());
  EXPECT_EQ(config.at("organizationId"), json::value(3));

  // Listed with its id, name, organization and prefix, never its key (no "key" member at all).
  const HttpResponse list = admin.Get("/api-keys");
  ASSERT_TRUE(IsJson(list, 200));
  ASSERT_TRUE(list.json.at("data").is_array());
  bool found = false;
  for (const auto& item : list.json.at("data").as_array()) {
    EXPECT_FALSE(item.as_object().contains("key")) << item;
    EXPECT_FALSE(item.as_object().contains("hash")) << item;
    if (item.at("id") == id) {
      found = true;
      EXPECT_EQ(item.at("name"), json::value("billing"));
      EXPECT_EQ(item.at("organizationId"), json::value(3));
      EXPECT_EQ(item.at("prefix"), json::value(prefix));
    }
  }
  EXPECT_TRUE(found) << list.body;
  EXPECT_EQ(list.body.find(key), std::string::npos);
  EXPECT_EQ(list.body.find(admin_key_), std::string::npos);

  const HttpResponse revoked = admin.Delete("/api-keys/" + json::serialize(id));
  EXPECT_EQ(revoked.status, 204) << revoked.Summary();
  EXPECT_TRUE(IsProblem(org.Get("/external-events/"), 401, "unauthorized"));
  EXPECT_TRUE(IsProblem(admin.Delete("/api-keys/987654"), 404, "not-found"));
}

TEST_F(AuthTest, AdminCreatedKeyWithoutOrganizationIsAnAdminKey) {
  HttpClient admin = Admin();
  const HttpResponse created = admin.Post("/api-keys", json::object{{"name", "second admin"}});
  ASSERT_TRUE(IsJson(created, 201));
  EXPECT_TRUE(created.json.at("organizationId").is_null()) << created.body;
  HttpClient second = WithKey(std::string(created.json.at("key").as_string()));
  CreateConfig(admin, ConfigBody(1));
  CreateConfig(admin, ConfigBody(2));
  const HttpResponse list = second.Get("/external-events/");
  ASSERT_TRUE(IsJson(list, 200));
  EXPECT_EQ(list.json.at("data").as_array().size(), 2u);
  EXPECT_TRUE(IsJson(second.Post("/api-keys", json::object{{"name", "third"}}), 201));
}

// Revoking the last admin key would leave no key able to manage keys (only the server's CLI
// could make one): refused, saying what to do instead.
TEST_F(AuthTest, TheLastAdminKeyCannotBeRevoked) {
  HttpClient admin = Admin();
  const HttpResponse keys = admin.Get("/api-keys");
  ASSERT_TRUE(IsJson(keys, 200));
  ASSERT_EQ(keys.json.at("data").as_array().size(), 1u) << keys.body;
  const json::value first_id = keys.json.at("data").as_array().at(0).at("id");

  // An organization key gets "not found", as for any key outside its organization: the refusal
  // must not tell it that this id is an admin key.
  const std::string org_key = CreateOrgKey(4);
  ASSERT_FALSE(org_key.empty());
  HttpClient org = WithKey(org_key);
  EXPECT_TRUE(IsProblem(org.Delete("/api-keys/" + json::serialize(first_id)), 404, "not-found"));

  const HttpResponse refused = admin.Delete("/api-keys/" + json::serialize(first_id));
  ASSERT_TRUE(IsProblem(refused, 409, "conflict")) << refused.Summary();
  EXPECT_NE(refused.body.find("is the last admin key"), std::string::npos) << refused.body;
  EXPECT_NE(refused.body.find("create another admin key first"), std::string::npos);
  EXPECT_TRUE(IsJson(admin.Get("/api-keys"), 200));  // still works

  const HttpResponse created = admin.Post("/api-keys", json::object{{"name", "successor"}});
  ASSERT_TRUE(IsJson(created, 201));
  HttpClient successor = WithKey(std::string(created.json.at("key").as_string()));
  EXPECT_EQ(successor.Delete("/api-keys/" + json::serialize(first_id)).status, 204);
  EXPECT_TRUE(IsProblem(admin.Get("/api-keys"), 401, "unauthorized"));
  EXPECT_TRUE(IsProblem(successor.Delete("/api-keys/" + json::serialize(created.json.at("id"))),
                        409, "conflict"));
}

TEST_F(AuthTest, ApiKeyCreateValidatesItsBody) {
  HttpClient admin = Admin();
  EXPECT_TRUE(IsProblem(admin.Post("/api-keys", json::object{{"name", 5}}), 400, "invalid-request",
                        "/name"));
  EXPECT_TRUE(
      IsProblem(admin.Post("/api-keys", json::object{{"name", "x"}, {"organizationId", "seven"}}),
                400, "invalid-request", "/organizationId"));
  const HttpResponse unknown =
      admin.Post("/api-keys", json::object{{"name", "x"}, {"scope", "all"}});
  EXPECT_TRUE(IsProblem(unknown, 400, "invalid-request"));
  EXPECT_TRUE(IsProblem(admin.Request("POST", "/api-keys", "{"), 400, "invalid-request"));
}

TEST_F(AuthTest, OrganizationKeysCannotManageKeys) {
  const std::string key = CreateOrgKey(4);
  ASSERT_FALSE(key.empty());
  HttpClient org = WithKey(key);
  EXPECT_TRUE(IsProblem(org.Post("/api-keys", json::object{{"name", "mine"}}), 403, "forbidden"));
  EXPECT_TRUE(
      IsProblem(org.Post("/api-keys", json::object{{"name", "mine"}, {"organizationId", 4}}), 403,
                "forbidden"));
}

TEST_F(AuthTest, OrganizationKeyImpliesItsOrganization) {
  const std::string key = CreateOrgKey(21);
  ASSERT_FALSE(key.empty());
  HttpClient org = WithKey(key);
  json::object body = ConfigBody(0);
  body.erase("organizationId");
  const json::object implied = CreateConfig(org, body);
  EXPECT_EQ(implied.at("organizationId"), json::value(21));
  const json::object explicit_same = CreateConfig(org, ConfigBody(21));
  EXPECT_EQ(explicit_same.at("organizationId"), json::value(21));

  const HttpResponse other = org.Post("/external-events/", ConfigBody(22));
  EXPECT_TRUE(IsProblem(other, 403, "forbidden"));
  EXPECT_NE(other.json.at("detail").as_string().find("organizationId"), std::string::npos)
      << other.body;
  HttpClient admin = Admin();
  EXPECT_EQ(Ids(admin).size(), 2u);  // the refused one was not stored
}

// Organization A (101) and B (202), each with a key and a configuration.
class TenancyTest : public ServerTest {
 protected:
  void SetUp() override {
    ServerTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    key_a_ = CreateOrgKey(101, "a");
    key_b_ = CreateOrgKey(202, "b");
    ASSERT_FALSE(key_a_.empty());
    ASSERT_FALSE(key_b_.empty());
    HttpClient admin = Admin();
    config_a_ = CreateConfig(admin, ConfigBody(101, "a's hook"));
    config_b_ = CreateConfig(admin, ConfigBody(202, "b's hook"));
    ASSERT_FALSE(config_a_.empty());
    ASSERT_FALSE(config_b_.empty());
  }

  std::string key_a_;
  std::string key_b_;
  json::object config_a_;
  json::object config_b_;
};

// Another organization's configuration answers exactly like an id that does not exist.
TEST_F(TenancyTest, OtherOrganizationsConfigsAnswerLikeMissingOnes) {
  HttpClient a = WithKey(key_a_);
  const std::string b_id = json::serialize(config_b_.at("id"));
  const std::string missing_id = "99999";
  const std::string b_path = ConfigPath(config_b_);
  const std::string missing_path = "/external-events/" + missing_id;

  struct Call {
    const char* what;
    std::function<HttpResponse(const std::string& path)> send;
  };
  const std::vector<Call> calls = {
      {"GET", [&](const std::string& p) { return a.Get(p); }},
      {"PUT", [&](const std::string& p) { return a.Put(p, ConfigBody(101, "stolen")); }},
      {"PATCH",
       [&](const std::string& p) {
         return a.Patch(p, json::object{{"name", "stolen"}});
       }},
      {"DELETE", [&](const std::string& p) { return a.Delete(p); }},
      {"ROTATE", [&](const std::string& p) { return a.Request("POST", p + "/secret/rotate"); }},
  };
  for (const auto& call : calls) {
    const HttpResponse theirs = call.send(b_path);
    const HttpResponse nobody = call.send(missing_path);
    EXPECT_TRUE(IsProblem(theirs, 404, "not-found")) << call.what;
    EXPECT_TRUE(IsProblem(nobody, 404, "not-found")) << call.what;
    if (theirs.is_json && nobody.is_json) {
      EXPECT_EQ(ProblemWithoutId(theirs, b_id), ProblemWithoutId(nobody, missing_id)) << call.what;
    }
  }
  // B's configuration is untouched.
  HttpClient admin = Admin();
  const HttpResponse b_now = admin.Get(b_path);
  ASSERT_TRUE(IsJson(b_now, 200));
  EXPECT_EQ(b_now.json.as_object(), config_b_);
}

TEST_F(TenancyTest, ListsShowOnlyTheKeysOrganization) {
  HttpClient a = WithKey(key_a_);
  HttpClient b = WithKey(key_b_);
  const auto a_id = config_a_.at("id");
  const auto b_id = config_b_.at("id");
  for (const char* query :
       {"", "?includeDeleted=true", "?eventName=BookAppointment", "?limit=250"}) {
    const HttpResponse list = a.Get(std::string("/external-events/") + query);
    ASSERT_TRUE(IsJson(list, 200)) << query;
    ASSERT_EQ(list.json.at("data").as_array().size(), 1u) << query << " " << list.body;
    EXPECT_EQ(list.json.at("data").as_array()[0].at("id"), a_id) << query;
  }
  // Asking for B's organization by filter shows nothing of B's.
  const HttpResponse filtered = a.Get("/external-events/?organizationId=202");
  if (filtered.status == 200) {
    EXPECT_TRUE(filtered.json.at("data").as_array().empty()) << filtered.body;
  } else {
    EXPECT_TRUE(IsProblem(filtered, 403, "forbidden") || IsProblem(filtered, 404, "not-found"))
        << filtered.Summary();
  }
  const HttpResponse b_list = b.Get("/external-events/");
  ASSERT_TRUE(IsJson(b_list, 200));
  ASSERT_EQ(b_list.json.at("data").as_array().size(), 1u);
  EXPECT_EQ(b_list.json.at("data").as_array()[0].at("id"), b_id);
}

TEST_F(TenancyTest, DeletedConfigsOfOtherOrganizationsStayHidden) {
  HttpClient admin = Admin();
  ASSERT_EQ(admin.Delete(ConfigPath(config_b_)).status, 204);
  HttpClient a = WithKey(key_a_);
  EXPECT_TRUE(IsProblem(a.Get(ConfigPath(config_b_)), 404, "not-found"));
  const HttpResponse list = a.Get("/external-events/?includeDeleted=true");
  ASSERT_TRUE(IsJson(list, 200));
  EXPECT_EQ(list.json.at("data").as_array().size(), 1u);
}

TEST_F(TenancyTest, AdminSeesEveryOrganization) {
  HttpClient admin = Admin();
  const HttpResponse list = admin.Get("/external-events/");
  ASSERT_TRUE(IsJson(list, 200));
  EXPECT_EQ(list.json.at("data"), json::value(json::array{config_a_, config_b_}));
  EXPECT_TRUE(IsJson(admin.Get(ConfigPath(config_a_)), 200));
  EXPECT_TRUE(IsJson(admin.Get(ConfigPath(config_b_)), 200));
  const HttpResponse patched =
      admin.Patch(ConfigPath(config_b_), json::object{{"name", "admin edit"}});
  ASSERT_TRUE(IsJson(patched, 200));
  EXPECT_EQ(patched.json.at("name"), json::value("admin edit"));
}

TEST_F(TenancyTest, OrganizationKeyCannotMoveItsConfigToAnotherOrganization) {
  HttpClient a = WithKey(key_a_);
  EXPECT_TRUE(IsProblem(a.Put(ConfigPath(config_a_), ConfigBody(202, "moved")), 403, "forbidden"));
  EXPECT_TRUE(IsProblem(a.Patch(ConfigPath(config_a_), json::object{{"organizationId", 202}}), 403,
                        "forbidden"));
  EXPECT_TRUE(IsProblem(a.Post("/external-events/", ConfigBody(202)), 403, "forbidden"));
  HttpClient admin = Admin();
  const HttpResponse now = admin.Get(ConfigPath(config_a_));
  ASSERT_TRUE(IsJson(now, 200));
  EXPECT_EQ(now.json.as_object(), config_a_);
  const HttpResponse b_list = admin.Get("/external-events/?organizationId=202");
  ASSERT_TRUE(IsJson(b_list, 200));
  EXPECT_EQ(b_list.json.at("data").as_array().size(), 1u);
}

TEST_F(TenancyTest, OrganizationKeyCanManageItsOwnConfigs) {
  HttpClient a = WithKey(key_a_);
  const std::string path = ConfigPath(config_a_);
  EXPECT_TRUE(IsJson(a.Get(path), 200));
  EXPECT_TRUE(IsJson(a.Patch(path, json::object{{"name", "renamed"}}), 200));
  json::object replacement = ConfigBody(101, "replaced");
  replacement.erase("organizationId");
  const HttpResponse put = a.Put(path, replacement);
  ASSERT_TRUE(IsJson(put, 200));
  EXPECT_EQ(put.json.at("organizationId"), json::value(101));
  EXPECT_TRUE(IsJson(a.Request("POST", path + "/secret/rotate"), 200));
  EXPECT_EQ(a.Delete(path).status, 204);
}

TEST_F(TenancyTest, OrganizationKeysNeverSeeOrRevokeOtherOrganizationsKeys) {
  HttpClient admin = Admin();
  const HttpResponse all = admin.Get("/api-keys");
  ASSERT_TRUE(IsJson(all, 200));
  json::value b_key_id;
  for (const auto& item : all.json.at("data").as_array()) {
    if (item.at("organizationId") == json::value(202)) b_key_id = item.at("id");
  }
  ASSERT_FALSE(b_key_id.is_null()) << all.body;

  HttpClient a = WithKey(key_a_);
  const HttpResponse listed = a.Get("/api-keys");
  if (listed.status == 200) {
    for (const auto& item : listed.json.at("data").as_array()) {
      EXPECT_EQ(item.at("organizationId"), json::value(101)) << item;
    }
  } else {
    EXPECT_TRUE(IsProblem(listed, 403, "forbidden")) << listed.Summary();
  }
  const HttpResponse revoke = a.Delete("/api-keys/" + json::serialize(b_key_id));
  EXPECT_TRUE(IsProblem(revoke, 404, "not-found") || IsProblem(revoke, 403, "forbidden"))
      << revoke.Summary();
  // B's key still works.
  EXPECT_TRUE(IsJson(WithKey(key_b_).Get("/external-events/"), 200));
}

}  // namespace
}  // namespace webhookd::itest
