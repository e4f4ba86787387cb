#include "control/state/errors.h"

#include <array>

namespace cloudlink::state {
namespace {

// Everything known about each StateErrc in one row, so the message, the HTTP status and the
// API's error code cannot drift apart.
struct ErrcInfo {
  StateErrc errc;
  const char* message;
  int http_status;
  const char* code;
};

constexpr std::array<ErrcInfo, 6> kErrcInfo = {{
    {StateErrc::kNotFound, "not found", 404, "not_found"},
    {StateErrc::kForbidden, "forbidden", 403, "forbidden"},
    {StateErrc::kConflict, "conflict", 409, "conflict"},
    {StateErrc::kInvalid, "invalid", 400, "invalid"},
    {StateErrc::kUnauthorized, "unauthorized", 401, "unauthorized"},
    {StateErrc::kThrottled, "too many failed logins", 429, "throttled"},
}};

const ErrcInfo* find_info(int value) {
  for (const ErrcInfo& info : kErrcInfo) {
    if (static_cast<int>(info.errc) == value) return &info;
  }
  return nullptr;
}

class StateCategory : public std::error_category {
 public:
  const char* name() const noexcept override { return "cloudlink.state"; }
  std::string message(int value) const override {
    const ErrcInfo* info = find_info(value);
    return info != nullptr ? info->message : "unknown state error";
  }
};

const ErrcInfo* find_info(const Error& error) {
  if (error.code().category() != state_category()) return nullptr;
  return find_info(error.value());
}

}  // namespace

const std::error_category& state_category() {
  static const StateCategory category;
  return category;
}

int http_status(const Error& error) {
  const ErrcInfo* info = find_info(error);
  return info != nullptr ? info->http_status : 500;
}

const char* error_code_name(const Error& error) {
  const ErrcInfo* info = find_info(error);
  return info != nullptr ? info->code : "internal";
}

}  // namespace cloudlink::state
