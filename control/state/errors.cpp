#include "control/state/errors.h"

namespace cloudlink::state {
namespace {

class StateCategory : public std::error_category {
 public:
  const char* name() const noexcept override { return "cloudlink.state"; }
  std::string message(int value) const override {
    switch (static_cast<StateErrc>(value)) {
      case StateErrc::kNotFound:
        return "not found";
      case StateErrc::kForbidden:
        return "forbidden";
      case StateErrc::kConflict:
        return "conflict";
      case StateErrc::kInvalid:
        return "invalid";
      case StateErrc::kUnauthorized:
        return "unauthorized";
      case StateErrc::kThrottled:
        return "too many failed logins";
    }
    return "unknown state error";
  }
};

}  // namespace

const std::error_category& state_category() {
  static const StateCategory category;
  return category;
}

int http_status(const Error& error) {
  if (error.code().category() != state_category()) return 500;
  switch (static_cast<StateErrc>(error.value())) {
    case StateErrc::kNotFound:
      return 404;
    case StateErrc::kForbidden:
      return 403;
    case StateErrc::kConflict:
      return 409;
    case StateErrc::kInvalid:
      return 400;
    case StateErrc::kUnauthorized:
      return 401;
    case StateErrc::kThrottled:
      return 429;
  }
  return 500;
}

const char* error_code_name(const Error& error) {
  if (error.code().category() != state_category()) return "internal";
  switch (static_cast<StateErrc>(error.value())) {
    case StateErrc::kNotFound:
      return "not_found";
    case StateErrc::kForbidden:
      return "forbidden";
    case StateErrc::kConflict:
      return "conflict";
    case StateErrc::kInvalid:
      return "invalid";
    case StateErrc::kUnauthorized:
      return "unauthorized";
    case StateErrc::kThrottled:
      return "throttled";
  }
  return "internal";
}

}  // namespace cloudlink::state
