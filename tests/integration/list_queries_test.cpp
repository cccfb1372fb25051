// The paged lists (GET /external-events/, GET /deliveries) read `cursor` and `limit` by one
// rule (issue 13, section 1, item 4): every nextCursor a list gives is accepted back, anything
// else is a 400 naming "cursor" that says what a cursor is, and changes nothing.
#include "delivery_support.hpp"

namespace webhookd::itest {
namespace {

class ListQueriesTest : public DeliveryTest {
 protected:
  // Every page of `path` (which already has a '?'), following nextCursor; the ids in order.
  std::vector<std::string> WalkPages(HttpClient& client, const std::string& path) {
    std::vector<std::string> ids;
    std::string cursor;
    for (int page = 0; page < 20; ++page) {
      const HttpResponse r = client.Get(path + (cursor.empty() ? "" : "&cursor=" + cursor));
      if (!IsJson(r, 200)) {
        ADD_FAILURE() << path << " cursor " << cursor << ": " << r.Summary();
        return ids;
      }
      for (const json::value& item : r.json.at("data").as_array()) {
        const json::value& id = item.at("id");
        ids.push_back(id.is_string() ? std::string(id.as_string()) : json::serialize(id));
      }
      const json::value& next = r.json.at("nextCursor");
      if (next.is_null()) return ids;
      cursor = std::string(next.as_string());
    }
    ADD_FAILURE() << path << " never reached its last page";
    return ids;
  }

  // Expects a 400 naming `field` whose detail contains `words`.
  static void ExpectRefused(HttpClient& client, const std::string& path, std::string_view field,
                            std::string_view words) {
    const HttpResponse r = client.Get(path);
    ASSERT_TRUE(IsProblem(r, 400, "invalid-request", field)) << path;
    const std::string detail(r.json.at("detail").as_string());
    EXPECT_NE(detail.find(words), std::string::npos) << path << ": " << detail;
  }

  // Three BookAppointment events for one configuration: three deliveries. Returns their ids.
  std::vector<std::string> ThreeDeliveries(HttpClient& admin, const HttpReceiver& receiver) {
    const json::object config = CreateConfig(admin, HookBody(1, "BookAppointment", receiver.Url()));
    std::vector<std::string> ids;
    for (int i = 0; i < 3; ++i) {
      const HttpResponse accepted = PostEvent(admin, "BookAppointment", 1, Appointment(admin, i));
      if (!IsJson(accepted, 202)) {
        ADD_FAILURE() << accepted.Summary();
        return ids;
      }
      ids.push_back(AcceptedDeliveries(accepted).at(IdOf(config)));
    }
    return ids;
  }
};

TEST_F(ListQueriesTest, DeliveryPagesFollowTheirCursorsToTheEnd) {
  HttpReceiver receiver;
  HttpClient admin = Admin();
  const std::vector<std::string> created = ThreeDeliveries(admin, receiver);
  ASSERT_EQ(created.size(), 3u);
  EXPECT_EQ(WalkPages(admin, "/deliveries?limit=1"), created);
  EXPECT_EQ(WalkPages(admin, "/deliveries?limit=2"), created);
}

TEST_F(ListQueriesTest, DeliveriesRefuseACursorTheyNeverGave) {
  HttpReceiver receiver;
  HttpClient admin = Admin();
  const std::vector<std::string> created = ThreeDeliveries(admin, receiver);
  ASSERT_EQ(created.size(), 3u);
  // Before: "garbage" sorted after every id (an empty page), "-1" before them (every one).
  for (const std::string& bad :
       {std::string("garbage"), std::string("-1"), std::string("0"), std::string("1"),
        "evt_" + created[0].substr(4), created[0] + "0", created[0].substr(0, 29),
        "dlv_" + std::string(26, 'z'), "dlv_" + std::string(26, 'U')}) {
    ExpectRefused(admin, "/deliveries?cursor=" + bad, "cursor",
                  "cursor must be the nextCursor of a previous page of this list: the id of a "
                  "delivery (dlv_ and 26 characters)");
  }
  // An empty cursor is the first page; a delivery id continues after it.
  const HttpResponse first = admin.Get("/deliveries?cursor=");
  ASSERT_TRUE(IsJson(first, 200));
  EXPECT_EQ(first.json.at("data").as_array().size(), 3u);
  const HttpResponse after_first = admin.Get("/deliveries?cursor=" + created[0]);
  ASSERT_TRUE(IsJson(after_first, 200));
  ASSERT_EQ(after_first.json.at("data").as_array().size(), 2u);
  EXPECT_EQ(after_first.json.at("data").as_array()[0].at("id"), json::value(created[1]));
}

TEST_F(ListQueriesTest, ConfigurationsRefuseACursorTheyNeverGave) {
  HttpClient admin = Admin();
  for (const char* name : {"c0", "c1", "c2"}) CreateConfig(admin, ConfigBody(1, name));
  ASSERT_FALSE(HasFailure());
  EXPECT_EQ(WalkPages(admin, "/external-events/?limit=2").size(), 3u);
  for (const char* bad :
       {"garbage", "-1", "0", "1.5", "99999999999999999999", "dlv_01JD8X5W7Q3K2M9N4P6R8T0V2Y"}) {
    ExpectRefused(admin, std::string("/external-events/?cursor=") + bad, "cursor",
                  "cursor must be the nextCursor of a previous page of this list: the id of a "
                  "configuration (a positive integer)");
  }
}

TEST_F(ListQueriesTest, EveryListReadsLimitAndItsIdFiltersByOneRule) {
  HttpClient admin = Admin();
  for (const char* list : {"/external-events/", "/deliveries"}) {
    for (const char* bad : {"0", "251", "-1", "abc", "1.5", "9223372036854775808"}) {
      ExpectRefused(admin, std::string(list) + "?limit=" + bad, "limit",
                    "query parameter limit must be an integer from 1 to 250");
    }
    EXPECT_TRUE(IsJson(admin.Get(std::string(list) + "?limit=250"), 200)) << list;
  }
  for (const char* bad : {"0", "-5", "9223372036854775808", "x"}) {
    ExpectRefused(admin, std::string("/external-events/?organizationId=") + bad, "organizationId",
                  "query parameter organizationId must be an integer from 1 to "
                  "9223372036854775807");
    ExpectRefused(admin, std::string("/deliveries?externalEventId=") + bad, "externalEventId",
                  "query parameter externalEventId must be an integer from 1 to "
                  "9223372036854775807");
  }
}

// The console's organization switch: an admin key narrows the deliveries to one organization;
// an organization key sees only its own, also when it names another.
TEST_F(ListQueriesTest, DeliveriesFilterByOrganization) {
  HttpReceiver receiver;
  HttpClient admin = Admin();
  const std::vector<std::string> ours = ThreeDeliveries(admin, receiver);
  ASSERT_EQ(ours.size(), 3u);
  const json::object theirs = CreateConfig(admin, HookBody(2, "BookAppointment", receiver.Url()));
  const HttpResponse accepted = PostEvent(admin, "BookAppointment", 2, Appointment(admin, 9));
  ASSERT_TRUE(IsJson(accepted, 202));
  const std::string other = AcceptedDeliveries(accepted).at(IdOf(theirs));

  EXPECT_EQ(WalkPages(admin, "/deliveries?organizationId=1"), ours);
  EXPECT_EQ(WalkPages(admin, "/deliveries?organizationId=2"), std::vector<std::string>{other});
  EXPECT_EQ(WalkPages(admin, "/deliveries?limit=10").size(), 4u);
  HttpClient org1 = WithKey(CreateOrgKey(1));
  EXPECT_EQ(WalkPages(org1, "/deliveries?organizationId=1"), ours);
  EXPECT_TRUE(WalkPages(org1, "/deliveries?organizationId=2").empty());
  ExpectRefused(admin, "/deliveries?organizationId=0", "organizationId", "organizationId");
}

// The console's event type and time filters: only the deliveries of events of that type, paged
// by their cursors; a window of creation times; unknown types and bad times named.
TEST_F(ListQueriesTest, DeliveriesFilterByEventTypeAndCreationTime) {
  HttpReceiver receiver;
  HttpClient admin = Admin();
  const std::vector<std::string> appointments = ThreeDeliveries(admin, receiver);
  ASSERT_EQ(appointments.size(), 3u);
  const json::object notify = CreateConfig(admin, HookBody(1, "Notification", receiver.Url()));
  std::vector<std::string> notifications;
  for (int i = 0; i < 3; ++i) {
    std::this_thread::sleep_for(5ms);  // distinct creation times, for the window below
    const HttpResponse accepted =
        PostEvent(admin, "Notification", 1, SamplePayload(admin, "Notification"));
    ASSERT_TRUE(IsJson(accepted, 202)) << accepted.Summary();
    notifications.push_back(AcceptedDeliveries(accepted).at(IdOf(notify)));
  }

  EXPECT_EQ(WalkPages(admin, "/deliveries?eventName=Notification&limit=1"), notifications);
  EXPECT_EQ(WalkPages(admin, "/deliveries?eventName=BookAppointment&limit=2"), appointments);
  EXPECT_TRUE(WalkPages(admin, "/deliveries?eventName=InferenceToObservations").empty());
  const HttpResponse page = admin.Get("/deliveries?eventName=Notification&limit=2");
  ASSERT_TRUE(IsJson(page, 200));
  for (const json::value& d : page.json.at("data").as_array()) {
    EXPECT_EQ(d.at("externalEventId"), json::value(IdOf(notify))) << d;
  }
  HttpClient org2 = WithKey(CreateOrgKey(2));
  EXPECT_TRUE(WalkPages(org2, "/deliveries?eventName=Notification").empty());

  // From the second notification's creation time (included) to the third's (excluded).
  const auto created = [&](const std::string& id) {
    return std::string(GetDelivery(admin, id).at("createdAt").as_string());
  };
  EXPECT_EQ(WalkPages(admin, "/deliveries?since=" + created(notifications[1]) +
                                 "&until=" + created(notifications[2])),
            std::vector<std::string>{notifications[1]});
  EXPECT_EQ(WalkPages(admin, "/deliveries?eventName=Notification&since=" +
                                 created(notifications[1]) + "&limit=1"),
            (std::vector<std::string>{notifications[1], notifications[2]}));
  EXPECT_TRUE(WalkPages(admin, "/deliveries?until=" + created(appointments[0])).empty());

  ExpectRefused(admin, "/deliveries?eventName=NoSuchType", "eventName",
                "unknown eventName 'NoSuchType' (see GET /event-types)");
  ExpectRefused(admin, "/deliveries?until=yesterday", "until",
                "until must be an RFC 3339 time, e.g. 2026-11-27T00:00:00Z");
}

}  // namespace
}  // namespace webhookd::itest
