// Status and Result<T>: errors as values at every edge that depends on input (files, configs, requests).
// A Status carries one human-readable message that names what failed and where; callers prepend context
// with Annotate() as the error travels outward. No exceptions cross a folder boundary.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace glmv {

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  static Status Ok() { return Status(); }
  static Status Error(std::string message) { return Status(std::move(message)); }

  bool ok() const { return !message_.has_value(); }
  const std::string& message() const {
    static const std::string kOk = "OK";
    return message_ ? *message_ : kOk;
  }
  // Returns this error with "context: " in front; an OK status stays OK.
  Status Annotate(const std::string& context) const {
    if (ok()) return *this;
    return Status(context + ": " + *message_);
  }

 private:
  explicit Status(std::string message) : message_(std::move(message)) {}
  std::optional<std::string> message_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit on purpose, like absl::StatusOr
  Result(Status status) : v_(std::move(status)) {}  // NOLINT; must not be OK

  bool ok() const { return std::holds_alternative<T>(v_); }
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(v_); }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace glmv

#define GLMV_CONCAT_INNER(a, b) a##b
#define GLMV_CONCAT(a, b) GLMV_CONCAT_INNER(a, b)

// Returns the status from the enclosing function if it is an error.
#define GLMV_RETURN_IF_ERROR(expr)        \
  do {                                    \
    ::glmv::Status glmv_status_ = (expr); \
    if (!glmv_status_.ok()) return glmv_status_; \
  } while (0)

// `GLMV_ASSIGN_OR_RETURN(auto x, F());` declares x from F()'s value or returns F()'s error.
#define GLMV_ASSIGN_OR_RETURN(lhs, expr) GLMV_ASSIGN_OR_RETURN_IMPL(GLMV_CONCAT(glmv_result_, __LINE__), lhs, expr)
#define GLMV_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                               \
  if (!tmp.ok()) return tmp.status();              \
  lhs = std::move(tmp).value()
