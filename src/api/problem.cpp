#include "api/problem.hpp"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>

#include "core/utf8.hpp"

namespace webhookd::api {
namespace {

struct ProblemKind {
  int status;
  std::string_view slug;
  std::string_view title;
};

ProblemKind KindOf(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInvalid:
      return {400, "invalid-request", "Invalid request"};
    case ErrorKind::kNotFound:
      return {404, "not-found", "Not found"};
    case ErrorKind::kConflict:
      return {409, "conflict", "Conflict"};
    case ErrorKind::kUnauthorized:
      return {401, "unauthorized", "Unauthorized"};
    case ErrorKind::kForbidden:
      return {403, "forbidden", "Forbidden"};
    case ErrorKind::kTooLarge:
      return {413, "payload-too-large", "Payload too large"};
    case ErrorKind::kLimitExceeded:
      return {422, "limit-exceeded", "Limit exceeded"};
    case ErrorKind::kRateLimited:
      return {429, "rate-limited", "Too many requests"};
    case ErrorKind::kUnavailable:
      return {503, "unavailable", "Service unavailable"};
    case ErrorKind::kUnreadable:
      return {500, "stored-data-unreadable", "Stored data unreadable"};
    case ErrorKind::kInternal:
      break;
  }
  return {500, "internal", "Internal server error"};
}

boost::json::object ProblemBody(int status, std::string_view slug, std::string_view title,
                                std::string_view detail) {
  boost::json::object body;
  body["type"] = std::string("https://webhookd.dev/problems/") + std::string(slug);
  body["title"] = title;
  body["status"] = status;
  // Details may echo what a client sent (a decoded path), whose bytes need not be UTF-8.
  body["detail"] = ValidUtf8(detail);
  return body;
}

boost::json::array FieldErrorsJson(const std::vector<FieldError>& errors) {
  boost::json::array out;
  for (const FieldError& error : errors) {
    out.push_back({{"field", ValidUtf8(error.field)}, {"detail", ValidUtf8(error.message)}});
  }
  return out;
}

Response ToResponse(int status, const boost::json::object& body) {
  Response response;
  response.status = status;
  response.content_type = "application/problem+json";
  response.body = boost::json::serialize(body);
  return response;
}

}  // namespace

Response ProblemResponse(const Error& error) {
  const ProblemKind kind = KindOf(error.kind);
  if (error.kind == ErrorKind::kInternal) {
    spdlog::error("internal error: {}", error.message);
    return ToResponse(
        500, ProblemBody(500, kind.slug, kind.title, "The server failed to handle the request."));
  }
  if (error.kind == ErrorKind::kUnavailable) spdlog::warn("unavailable: {}", error.message);
  if (error.kind == ErrorKind::kUnreadable) spdlog::error("unreadable: {}", error.message);
  boost::json::object body = ProblemBody(kind.status, kind.slug, kind.title, error.message);
  if (error.kind == ErrorKind::kInvalid) {
    body["field"] = ValidUtf8(error.field);
    if (!error.errors.empty()) body["errors"] = FieldErrorsJson(error.errors);
  }
  Response response = ToResponse(kind.status, body);
  if (error.kind == ErrorKind::kUnauthorized) {
    response.headers.emplace_back("www-authenticate", "Bearer");
  }
  return response;
}

Error WithLimitFlag(Error error, std::string_view flag) {
  if (error.kind == ErrorKind::kLimitExceeded) {
    error.message += " (the server's " + std::string(flag) + ")";
  }
  return error;
}

Response ProblemResponse(int status, std::string_view slug, std::string_view title,
                         std::string_view detail) {
  return ToResponse(status, ProblemBody(status, slug, title, detail));
}

}  // namespace webhookd::api
