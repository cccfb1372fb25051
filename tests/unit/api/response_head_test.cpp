#include "api/response_head.hpp"

#include <gtest/gtest.h>

#include <boost/beast/http.hpp>
#include <sstream>
#include <string>

namespace webhookd::api {
namespace {

namespace http = boost::beast::http;

Response MakeResponse(int status, std::string body,
                      std::vector<std::pair<std::string, std::string>> headers = {}) {
  Response response;
  response.status = status;
  response.body = std::move(body);
  response.headers = std::move(headers);
  return response;
}

std::string Written(const Response& response, unsigned version, bool keep_alive, bool head_only) {
  return ResponseHead(response, version, keep_alive) +
         std::string(ResponseBody(response, head_only));
}

// What the server wrote with Beast's message and serializer before (server.cpp, until the
// sixteenth session): the same fields set in the same order, serialized by Beast.
std::string WrittenByBeast(const Response& response, unsigned version, bool keep_alive,
                           bool head_only) {
  http::response<http::string_body> out{static_cast<http::status>(response.status), version};
  out.set(http::field::server, "webhookd");
  if (response.status != 204) out.set(http::field::content_type, response.content_type);
  for (const auto& [name, value] : response.headers) out.set(name, value);
  out.keep_alive(keep_alive);
  if (response.status != 204) out.body() = response.body;
  out.prepare_payload();
  if (head_only) out.body().clear();
  std::ostringstream text;
  text << out;
  return text.str();
}

// All but 204, for which Beast wrote "Content-Length: 0" (RFC 9110 §8.6: a server must not).
TEST(ResponseHeadTest, WritesTheBytesBeastsSerializerWrote) {
  const std::vector<Response> responses = {
      MakeResponse(202, R"({"eventId":"evt_1","deliveries":1})"),
      MakeResponse(200, ""),
      MakeResponse(201, "{}", {{"location", "/external-events/7"}}),
      MakeResponse(302, "see /console/\n", {{"location", "/console/"}}),
      MakeResponse(401, R"({"title":"Unauthorized"})", {{"www-authenticate", "Bearer"}}),
      MakeResponse(405, "{}", {{"allow", "GET, POST"}}),
      MakeResponse(429, "{}", {{"retry-after", "1"}, {"idempotent-replayed", "true"}}),
      MakeResponse(500, std::string(70'000, 'x')),
  };
  for (const Response& response : responses) {
    for (unsigned version : {10u, 11u}) {
      for (bool keep_alive : {false, true}) {
        for (bool head_only : {false, true}) {
          SCOPED_TRACE(std::to_string(response.status) + " HTTP/" + std::to_string(version) +
                       (keep_alive ? " keep-alive" : " close") + (head_only ? " HEAD" : ""));
          EXPECT_EQ(Written(response, version, keep_alive, head_only),
                    WrittenByBeast(response, version, keep_alive, head_only));
        }
      }
    }
  }
}

TEST(ResponseHeadTest, AnAcceptedEventsAnswerInFull) {
  const Response accepted = MakeResponse(202, R"({"eventId":"evt_1"})");
  EXPECT_EQ(Written(accepted, 11, true, false),
            "HTTP/1.1 202 Accepted\r\nServer: webhookd\r\nContent-Type: application/json\r\n"
            "Content-Length: 19\r\n\r\n{\"eventId\":\"evt_1\"}");
  EXPECT_EQ(Written(accepted, 11, false, true),
            "HTTP/1.1 202 Accepted\r\nServer: webhookd\r\nContent-Type: application/json\r\n"
            "Connection: close\r\nContent-Length: 19\r\n\r\n");
}

TEST(ResponseHeadTest, LeavesOutHeadersThatWouldSplitTheResponseOrChangeItsFraming) {
  const Response response = MakeResponse(302, "x",
                                         {{"location", "/a\r\nSet-Cookie: evil=1"},
                                          {"x-bad\nname", "v"},
                                          {"x-nul", std::string("a\0b", 3)},
                                          {"Content-Length", "0"},
                                          {"transfer-encoding", "chunked"},
                                          {"CONNECTION", "keep-alive"},
                                          {"server", "other"},
                                          {"content-type", "text/html"},
                                          {"x-kept", "yes"}});
  EXPECT_EQ(ResponseHead(response, 11, true),
            "HTTP/1.1 302 Found\r\nServer: webhookd\r\nContent-Type: application/json\r\n"
            "x-kept: yes\r\nContent-Length: 1\r\n\r\n");
}

TEST(ResponseHeadTest, StatusesWithoutABodySendNeitherBodyNorLength) {
  for (int status : {100, 204, 304}) {
    const Response response = MakeResponse(status, "ignored");
    EXPECT_EQ(ResponseBody(response, false), "") << status;
    EXPECT_EQ(ResponseHead(response, 11, true).find("Content-Length"), std::string::npos) << status;
  }
}

}  // namespace
}  // namespace webhookd::api
