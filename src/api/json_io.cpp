#include "api/json_io.hpp"

#include <charconv>

#include "core/json_kind.hpp"
#include "core/json_pointer.hpp"

namespace webhookd::api {
namespace {

Error WrongType(std::string_view key, std::string_view expected, const boost::json::value& v) {
  return Error::Invalid(std::string(key) + " must be " + std::string(expected) + ", not " +
                            std::string(JsonKindName(v)),
                        PointerTo("", key));
}

}  // namespace

Result<boost::json::object> ParseJsonObject(std::string_view body) {
  if (body.empty()) return Error::Invalid("the request body is empty; expected a JSON object", "");
  boost::json::error_code ec;
  boost::json::parse_options options;
  options.max_depth = 64;
  boost::json::value value = boost::json::parse(body, ec, {}, options);
  if (ec) {
    return Error::Invalid("the request body is not valid JSON: " + ec.message(), "");
  }
  if (!value.is_object()) {
    return Error::Invalid(
        "the request body must be a JSON object, not " + std::string(JsonKindName(value)), "");
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

Result<std::optional<std::int64_t>> OptionalInteger(const boost::json::object& object,
                                                    std::string_view key) {
  const boost::json::value* v = object.if_contains(key);
  if (v == nullptr || v->is_null()) return std::optional<std::int64_t>();
  if (v->is_int64()) return std::optional<std::int64_t>(v->as_int64());
  if (v->is_uint64() && v->as_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
    return std::optional<std::int64_t>(static_cast<std::int64_t>(v->as_uint64()));
  }
  if (v->is_double()) {
    const double d = v->as_double();
    if (d == static_cast<double>(static_cast<std::int64_t>(d)) && d > -9.2e18 && d < 9.2e18) {
      return std::optional<std::int64_t>(static_cast<std::int64_t>(d));
    }
  }
  return WrongType(key, "an integer", *v);
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

Result<std::optional<std::int64_t>> QueryInteger(const Request& request, std::string_view name) {
  const auto it = request.query.find(std::string(name));
  if (it == request.query.end() || it->second.empty()) return std::optional<std::int64_t>();
  std::int64_t value = 0;
  const std::string& text = it->second;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return Error::Invalid("query parameter " + std::string(name) + " must be an integer",
                          std::string(name));
  }
  return std::optional<std::int64_t>(value);
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
  Result<std::optional<std::int64_t>> limit = QueryInteger(request, "limit");
  if (!limit.ok()) return limit.error();
  if (!limit->has_value()) return default_limit;
  if (**limit < 1 || **limit > max_limit) {
    return Error::Invalid("limit must be between 1 and " + std::to_string(max_limit), "limit");
  }
  return static_cast<int>(**limit);
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
