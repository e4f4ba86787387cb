// Errors as values: a Result<T> holds either a T or an Error (an errno-style code plus what was
// being attempted). Used at every kernel and LMDB boundary; the event loop never throws.
#pragma once

#include <cerrno>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <variant>

namespace cloudlink {

class Error {
 public:
  Error(std::error_code code, std::string context) : code_(code), context_(std::move(context)) {}
  Error(int errno_value, std::string context)
      : Error(std::error_code(errno_value, std::generic_category()), std::move(context)) {}

  const std::error_code& code() const { return code_; }
  int value() const { return code_.value(); }
  const std::string& context() const { return context_; }
  // "context: reason" — the one line printed for a start-up failure.
  std::string message() const {
    if (!code_) return context_;
    return context_.empty() ? code_.message() : context_ + ": " + code_.message();
  }

 private:
  std::error_code code_;
  std::string context_;
};

// An Error from the current errno.
inline Error errno_error(std::string context) { return Error(errno, std::move(context)); }
// An Error that is not an errno (validation failures): EINVAL with a message that says why.
inline Error invalid(std::string why) { return Error(EINVAL, std::move(why)); }

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }

  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }

 private:
  Error error_{std::error_code(), std::string()};
  bool ok_ = true;
};

inline Result<void> ok() { return {}; }

}  // namespace cloudlink
