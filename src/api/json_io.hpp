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
#include "catalog/catalog.hpp"
#include "core/model.hpp"
#include "core/result.hpp"

namespace webhookd::api {

// The body as a JSON object. Empty, malformed or non-object bodies are Error::Invalid, and so
// is a number beyond the range of a double anywhere in it (naming its place).
Result<boost::json::object> ParseJsonObject(std::string_view body,
                                            boost::json::storage_ptr storage = {});

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

// The integers a field accepts, both ends included.
struct IntegerRange {
  std::int64_t min = 0;
  std::int64_t max = 0;
};
inline constexpr IntegerRange kPositiveIntegers{1, INT64_MAX};

// `value` as an integer within `range` (an integral number such as 5.0 counts); nullopt for
// anything else, including integers that do not fit in 64 bits.
std::optional<std::int64_t> IntegerIn(const boost::json::value& value, IntegerRange range);

// Error::Invalid at `field` when `text` holds a control character (U+0000 to U+001F, U+007F),
// which single-line text (names, HTTP header values) cannot contain. `name` is what the
// detail calls the text.
Status RejectControlCharacters(std::string_view text, std::string_view name,
                               const std::string& field);

// Typed optional members: absent or null -> nullopt; a value of the wrong type -> Invalid.
Result<std::optional<std::string>> OptionalString(const boost::json::object& object,
                                                  std::string_view key, std::size_t max_length);
// A string without control characters (RejectControlCharacters).
Result<std::optional<std::string>> OptionalSingleLine(const boost::json::object& object,
                                                      std::string_view key, std::size_t max_length);
// Anything but an integer within `range` is Invalid, saying the range.
Result<std::optional<std::int64_t>> OptionalInteger(const boost::json::object& object,
                                                    std::string_view key, IntegerRange range);
Result<std::optional<bool>> OptionalBool(const boost::json::object& object, std::string_view key);
Result<std::optional<boost::json::object>> OptionalObject(const boost::json::object& object,
                                                          std::string_view key);

// Query parameters: absent or empty -> nullopt.
Result<std::optional<std::int64_t>> QueryInteger(const Request& request, std::string_view name,
                                                 IntegerRange range);
Result<std::optional<bool>> QueryBool(const Request& request, std::string_view name);
// limit: 1..max, default when absent.
Result<int> QueryLimit(const Request& request, int default_limit, int max_limit);
// An RFC 3339 time.
Result<std::optional<UnixMillis>> QueryTime(const Request& request, std::string_view name);
// The id of the event type named `name` in `catalog`; an unknown name is Invalid.
Result<std::optional<int>> QueryEventType(const Request& request, std::string_view name,
                                          const Catalog& catalog);

// A list's `cursor`: the nextCursor of its previous page, which is the id of the last item that
// page showed. Absent or empty -> nullopt (the first page). Anything that is not such an id is
// Invalid, naming "cursor" and saying what a cursor of this list is; `item` names the listed
// things ("configuration").
// For lists of objects with positive integer ids:
Result<std::optional<std::int64_t>> QueryIntegerCursor(const Request& request,
                                                       std::string_view item);
// For lists of objects with sortable ids "<prefix>_..." (core/ids.hpp):
Result<std::optional<std::string>> QuerySortableIdCursor(const Request& request,
                                                         std::string_view item,
                                                         std::string_view prefix);

Response JsonResponse(int status, const boost::json::value& body);
Response NoContent();
// {"data": [...], "nextCursor": cursor or null}
Response ListResponse(boost::json::array data, const std::string& next_cursor);

}  // namespace webhookd::api
