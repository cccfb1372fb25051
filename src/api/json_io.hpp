// Reading request bodies strictly (every mistake names its field as a JSON pointer) and
// writing JSON responses.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "api/http_message.hpp"
#include "core/result.hpp"

namespace webhookd::api {

// The body as a JSON object. Empty, malformed or non-object bodies are Error::Invalid.
Result<boost::json::object> ParseJsonObject(std::string_view body);

// "/a/b" for ("/a", "b"), escaping '~' and '/' in the key (RFC 6901).
std::string PointerTo(std::string_view parent, std::string_view key);

// Error::Invalid naming the first member of `object` that is not in `allowed`.
Status RejectUnknownFields(const boost::json::object& object,
                           std::span<const std::string_view> allowed, std::string_view parent = "");
inline Status RejectUnknownFields(const boost::json::object& object,
                                  std::initializer_list<std::string_view> allowed,
                                  std::string_view parent = "") {
  return RejectUnknownFields(object, std::span(allowed.begin(), allowed.size()), parent);
}

// Typed optional members: absent or null -> nullopt; a value of the wrong type -> Invalid.
Result<std::optional<std::string>> OptionalString(const boost::json::object& object,
                                                  std::string_view key, std::size_t max_length);
Result<std::optional<std::int64_t>> OptionalInteger(const boost::json::object& object,
                                                    std::string_view key);
Result<std::optional<bool>> OptionalBool(const boost::json::object& object, std::string_view key);
Result<std::optional<boost::json::object>> OptionalObject(const boost::json::object& object,
                                                          std::string_view key);

// Query parameters.
Result<std::optional<std::int64_t>> QueryInteger(const Request& request, std::string_view name);
Result<std::optional<bool>> QueryBool(const Request& request, std::string_view name);
// limit: 1..max, default when absent.
Result<int> QueryLimit(const Request& request, int default_limit, int max_limit);

Response JsonResponse(int status, const boost::json::value& body);
Response NoContent();
// {"data": [...], "nextCursor": cursor or null}
Response ListResponse(boost::json::array data, const std::string& next_cursor);

}  // namespace webhookd::api
