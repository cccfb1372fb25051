#include "api/json_io.hpp"

#include <charconv>
#include <cmath>

#include "core/ids.hpp"
#include "core/json_kind.hpp"
#include "core/json_parse.hpp"
#include "core/json_pointer.hpp"
#include "core/time_format.hpp"

namespace webhookd::api {
namespace {

Error WrongType(std::string_view key, std::string_view expected, const boost::json::value& v) {
  return Error::Invalid(std::string(key) + " must be " + std::string(expected) + ", not " +
                            std::string(JsonKindName(v)),
                        PointerTo("", key));
}

std::string RangeText(IntegerRange range) {
  return "an integer from " + std::to_string(range.min) + " to " + std::to_string(range.max);
}

// The parameter's text, or nullopt when it is absent or empty.
std::optional<std::string_view> QueryText(const Request& request, std::string_view name) {
  const auto it = request.query.find(std::string(name));
  if (it == request.query.end() || it->second.empty()) return std::nullopt;
  return std::string_view(it->second);
}

std::optional<std::int64_t> ParseInteger(std::string_view text) {
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

Error InvalidCursor(std::string_view what) {
  return Error::Invalid(
      "cursor must be the nextCursor of a previous page of this list: " + std::string(what),
      "cursor");
}

// The JSON pointer of the first number in `value` that is not finite, if any. Boost.JSON reads
// 5e3000 as infinity and writes it back as `Infinity`, which no JSON parser (its own included)
// reads: stored, it would make an event's payload, a configuration or a schema unreadable, and
// a delivered body that is not JSON. Every request body is walked, so the pointer is spelled
// only on the way back from a number found.
std::optional<std::string> NonFiniteNumberIn(const boost::json::value& value) {
  if (const double* number = value.if_double()) {
    if (std::isfinite(*number)) return std::nullopt;
    return std::string();
  }
  if (const boost::json::object* object = value.if_object()) {
    for (const auto& [key, item] : *object) {
      if (std::optional<std::string> below = NonFiniteNumberIn(item)) {
        std::string pointer = PointerTo("", key);
        pointer += *below;
        return pointer;
      }
    }
  }
  if (const boost::json::array* array = value.if_array()) {
    for (std::size_t i = 0; i < array->size(); ++i) {
      if (std::optional<std::string> below = NonFiniteNumberIn((*array)[i])) {
        std::string pointer = PointerTo("", std::to_string(i));
        pointer += *below;
        return pointer;
      }
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::int64_t> IntegerIn(const boost::json::value& value, IntegerRange range) {
  std::optional<std::int64_t> integer;
  if (value.is_int64()) {
    integer = value.as_int64();
  } else if (value.is_uint64() && value.as_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
    integer = static_cast<std::int64_t>(value.as_uint64());
  } else if (value.is_double()) {
    // Within ±2^63 (exclusive) every integral double converts exactly.
    const double d = value.as_double();
    if (std::trunc(d) == d && d > -9.2e18 && d < 9.2e18) integer = static_cast<std::int64_t>(d);
  }
  if (!integer || *integer < range.min || *integer > range.max) return std::nullopt;
  return integer;
}

Status RejectControlCharacters(std::string_view text, std::string_view name,
                               const std::string& field) {
  for (const char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return Error::Invalid(
          std::string(name) + " cannot contain control characters (U+0000 to U+001F, U+007F)",
          field);
    }
  }
  return Status::Ok();
}

Result<boost::json::object> ParseJsonObject(std::string_view body,
                                            boost::json::storage_ptr storage) {
  if (body.empty()) return Error::Invalid("the request body is empty; expected a JSON object", "");
  Result<boost::json::value> parsed = ParseJson(body, 64, std::move(storage));
  if (!parsed.ok()) {
    return Error::Invalid("the request body is not valid JSON: " + parsed.error().message, "");
  }
  boost::json::value& value = *parsed;
  if (!value.is_object()) {
    return Error::Invalid(
        "the request body must be a JSON object, not " + std::string(JsonKindName(value)), "");
  }
  if (auto field = NonFiniteNumberIn(value)) {
    return Error::Invalid("numbers must be within the range of a double (about ±1.8e308)", *field);
  }
  return std::move(value.as_object());
}

std::string PointerTo(std::string_view parent, std::string_view key) {
  std::string out(parent);
  AppendPointerToken(out, key);
  return out;
}

Status RejectUnknownFields(const boost::json::object& object,
                           std::span<const std::string_view> allowed, std::string_view parent) {
  for (const auto& member : object) {
    bool known = false;
    for (std::string_view name : allowed) known = known || member.key() == name;
    if (!known) {
      return Error::Invalid("unknown field '" + std::string(member.key()) + "'",
                            PointerTo(parent, member.key()));
    }
  }
  return Status::Ok();
}

Result<std::optional<std::string>> OptionalString(const boost::json::object& object,
                                                  std::string_view key, std::size_t max_length) {
  const boost::json::value* v = object.if_contains(key);
  if (v == nullptr || v->is_null()) return std::optional<std::string>();
  if (!v->is_string()) return WrongType(key, "a string", *v);
  const boost::json::string& s = v->as_string();
  if (s.size() > max_length) {
    return Error::Invalid(
        std::string(key) + " is longer than " + std::to_string(max_length) + " characters",
        PointerTo("", key));
  }
  return std::optional<std::string>(std::string(s));
}

Result<std::optional<std::string>> OptionalSingleLine(const boost::json::object& object,
                                                      std::string_view key,
                                                      std::size_t max_length) {
  Result<std::optional<std::string>> text = OptionalString(object, key, max_length);
  if (!text.ok() || !text->has_value()) return text;
  if (Status s = RejectControlCharacters(**text, key, PointerTo("", key)); !s.ok())
    return s.error();
  return text;
}

Result<std::optional<std::int64_t>> OptionalInteger(const boost::json::object& object,
                                                    std::string_view key, IntegerRange range) {
  const boost::json::value* v = object.if_contains(key);
  if (v == nullptr || v->is_null()) return std::optional<std::int64_t>();
  if (!v->is_number()) return WrongType(key, RangeText(range), *v);
  const std::optional<std::int64_t> integer = IntegerIn(*v, range);
  if (!integer) {
    return Error::Invalid(std::string(key) + " must be " + RangeText(range), PointerTo("", key));
  }
  return integer;
}

Result<std::optional<bool>> OptionalBool(const boost::json::object& object, std::string_view key) {
  const boost::json::value* v = object.if_contains(key);
  if (v == nullptr || v->is_null()) return std::optional<bool>();
  if (!v->is_bool()) return WrongType(key, "a boolean", *v);
  return std::optional<bool>(v->as_bool());
}

Result<std::optional<boost::json::object>> OptionalObject(const boost::json::object& object,
                                                          std::string_view key) {
  const boost::json::value* v = object.if_contains(key);
  if (v == nullptr || v->is_null()) return std::optional<boost::json::object>();
  if (!v->is_object()) return WrongType(key, "an object", *v);
  return std::optional<boost::json::object>(v->as_object());
}

Result<std::optional<std::int64_t>> QueryInteger(const Request& request, std::string_view name,
                                                 IntegerRange range) {
  const std::optional<std::string_view> text = QueryText(request, name);
  if (!text) return std::optional<std::int64_t>();
  const std::optional<std::int64_t> value = ParseInteger(*text);
  if (!value || *value < range.min || *value > range.max) {
    return Error::Invalid("query parameter " + std::string(name) + " must be " + RangeText(range),
                          std::string(name));
  }
  return value;
}

Result<std::optional<bool>> QueryBool(const Request& request, std::string_view name) {
  const auto it = request.query.find(std::string(name));
  if (it == request.query.end() || it->second.empty()) return std::optional<bool>();
  if (it->second == "true" || it->second == "1") return std::optional<bool>(true);
  if (it->second == "false" || it->second == "0") return std::optional<bool>(false);
  return Error::Invalid("query parameter " + std::string(name) + " must be true or false",
                        std::string(name));
}

Result<int> QueryLimit(const Request& request, int default_limit, int max_limit) {
  Result<std::optional<std::int64_t>> limit = QueryInteger(request, "limit", {1, max_limit});
  if (!limit.ok()) return limit.error();
  return static_cast<int>(limit->value_or(default_limit));
}

Result<std::optional<UnixMillis>> QueryTime(const Request& request, std::string_view name) {
  const std::optional<std::string_view> text = QueryText(request, name);
  if (!text) return std::optional<UnixMillis>();
  const std::optional<UnixMillis> time = ParseRfc3339(*text);
  if (!time) {
    return Error::Invalid(
        std::string(name) + " must be an RFC 3339 time, e.g. 2026-11-27T00:00:00Z",
        std::string(name));
  }
  return time;
}

Result<std::optional<int>> QueryEventType(const Request& request, std::string_view name,
                                          const Catalog& catalog) {
  const std::optional<std::string_view> text = QueryText(request, name);
  if (!text) return std::optional<int>();
  const EventType* type = catalog.Find(*text);
  if (type == nullptr) {
    return Error::Invalid(
        "unknown " + std::string(name) + " '" + std::string(*text) + "' (see GET /event-types)",
        std::string(name));
  }
  return std::optional<int>(type->id);
}

Result<std::optional<std::int64_t>> QueryIntegerCursor(const Request& request,
                                                       std::string_view item) {
  const std::optional<std::string_view> text = QueryText(request, "cursor");
  if (!text) return std::optional<std::int64_t>();
  const std::optional<std::int64_t> id = ParseInteger(*text);
  if (!id || *id < 1)
    return InvalidCursor("the id of a " + std::string(item) + " (a positive integer)");
  return id;
}

Result<std::optional<std::string>> QuerySortableIdCursor(const Request& request,
                                                         std::string_view item,
                                                         std::string_view prefix) {
  const std::optional<std::string_view> text = QueryText(request, "cursor");
  if (!text) return std::optional<std::string>();
  if (!IsSortableId(*text, prefix)) {
    return InvalidCursor("the id of a " + std::string(item) + " (" + std::string(prefix) +
                         "_ and 26 characters)");
  }
  return std::optional<std::string>(*text);
}

Response JsonResponse(int status, const boost::json::value& body) {
  Response response;
  response.status = status;
  response.body = boost::json::serialize(body);
  return response;
}

Response NoContent() {
  Response response;
  response.status = 204;
  return response;
}

Response ListResponse(boost::json::array data, const std::string& next_cursor) {
  boost::json::object body;
  body["data"] = std::move(data);
  if (next_cursor.empty()) {
    body["nextCursor"] = nullptr;
  } else {
    body["nextCursor"] = next_cursor;
  }
  return JsonResponse(200, body);
}

}  // namespace webhookd::api
