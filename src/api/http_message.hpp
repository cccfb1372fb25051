// The HTTP request and response as handlers see them: plain data, independent of Beast, so
// that only src/api/server.cpp compiles the Beast and Asio headers.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace webhookd::api {

struct Request {
  std::string method;                        // "GET", "POST", ...
  std::string path;                          // percent-decoded path, without the query
  std::map<std::string, std::string> query;  // decoded; the last value wins
  std::vector<std::pair<std::string, std::string>> headers;  // names lowercased
  std::string body;
  std::string remote_address;  // the peer's IP address, for the audit log; "" if unknown

  // The first header with that (lowercase) name, or "" if absent.
  std::string_view Header(std::string_view lowercase_name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

}  // namespace webhookd::api
