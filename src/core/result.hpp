// Errors as values (LevelDB's Status, Envoy's StatusOr): nothing on the request or delivery
// path throws across a module boundary. An Error carries a protocol-independent kind; the
// API layer turns it into HTTP in exactly one place (src/api/problem.cpp).
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace webhookd {

enum class ErrorKind {
  kInvalid,        // the caller's input is wrong (400)
  kNotFound,       // no such object, or not visible to this caller (404)
  kConflict,       // the object exists / state forbids it (409)
  kUnauthorized,   // no or bad credentials (401)
  kForbidden,      // credentials valid but not allowed (403)
  kTooLarge,       // input over a size limit (413)
  kLimitExceeded,  // a tenant limit refuses the request; it changed nothing (422)
  kRateLimited,    // the caller sent too much too fast; try again later (429)
  kUnavailable,    // a dependency (the store) cannot answer now (503)
  kUnreadable,     // a stored value cannot be decrypted: damaged, or its key is missing (500)
  kInternal,       // a bug or unexpected failure (500, detail never shown to clients)
};

// One of several invalid fields: its JSON pointer and what is wrong with it.
struct FieldError {
  std::string field;
  std::string message;
};

struct Error {
  ErrorKind kind = ErrorKind::kInternal;
  // Safe to show to the client, except for kInternal, whose message is only logged.
  std::string message;
  // JSON pointer (RFC 6901) of the offending field, for kInvalid; empty otherwise.
  std::string field;
  // kInvalid input found wrong in several places at once (a payload against its schema): every
  // place, the first one being `field`. Empty when only `field` was checked.
  std::vector<FieldError> errors{};

  static Error Invalid(std::string message, std::string field = {}) {
    return {ErrorKind::kInvalid, std::move(message), std::move(field)};
  }
  static Error NotFound(std::string message) {
    return {ErrorKind::kNotFound, std::move(message), {}};
  }
  static Error Conflict(std::string message) {
    return {ErrorKind::kConflict, std::move(message), {}};
  }
  static Error Unauthorized(std::string message) {
    return {ErrorKind::kUnauthorized, std::move(message), {}};
  }
  static Error Forbidden(std::string message) {
    return {ErrorKind::kForbidden, std::move(message), {}};
  }
  static Error TooLarge(std::string message) {
    return {ErrorKind::kTooLarge, std::move(message), {}};
  }
  static Error LimitExceeded(std::string message) {
    return {ErrorKind::kLimitExceeded, std::move(message), {}};
  }
  static Error RateLimited(std::string message) {
    return {ErrorKind::kRateLimited, std::move(message), {}};
  }
  static Error Unavailable(std::string message) {
    return {ErrorKind::kUnavailable, std::move(message), {}};
  }
  static Error Unreadable(std::string message) {
    return {ErrorKind::kUnreadable, std::move(message), {}};
  }
  static Error Internal(std::string message) {
    return {ErrorKind::kInternal, std::move(message), {}};
  }
};

// Result<T> holds either a value or an Error. Check ok() before value().
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT: implicit by design

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const {
    assert(!ok());
    return std::get<1>(v_);
  }

 private:
  std::variant<T, Error> v_;
};

// Status is a Result with no value: success, or an Error.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT: implicit by design
  static Status Ok() { return {}; }

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const {
    assert(!ok_);
    return error_;
  }

 private:
  Error error_;
  bool ok_ = true;
};

}  // namespace webhookd
