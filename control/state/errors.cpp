#include "control/state/errors.h"

#include <array>
#include <string_view>

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

constexpr std::array<ErrcInfo, 8> kErrcInfo = {{
    {StateErrc::kNotFound, "not found", 404, "not_found"},
    {StateErrc::kForbidden, "forbidden", 403, "forbidden"},
    {StateErrc::kConflict, "conflict", 409, "conflict"},
    {StateErrc::kInvalid, "invalid", 400, "invalid"},
    {StateErrc::kUnauthorized, "unauthorized", 401, "unauthorized"},
    {StateErrc::kThrottled, "too many requests", 429, "throttled"},
    {StateErrc::kBusy, "busy", 503, "busy"},
    {StateErrc::kStorageFull, "storage full", 507, "storage_full"},
}};

constexpr std::string_view kRetryIn = "retry in ";

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

Error retry_later(StateErrc code, const std::string& why, int64_t seconds) {
  return state_error(code, why + "; " + std::string(kRetryIn) + std::to_string(seconds) + " s");
}

int64_t retry_after_seconds(const Error& error) {
  if (!is(error, StateErrc::kThrottled) && !is(error, StateErrc::kBusy)) return 0;
  const std::string& text = error.context();
  size_t at = text.rfind(kRetryIn);
  if (at == std::string::npos) return 0;
  int64_t seconds = 0;
  for (size_t i = at + kRetryIn.size(); i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
    if (seconds > 1'000'000'000) return 0;
    seconds = seconds * 10 + (text[i] - '0');
  }
  return seconds;
}

const char* error_code_name(const Error& error) {
  const ErrcInfo* info = find_info(error);
  return info != nullptr ? info->code : "internal";
}

}  // namespace cloudlink::state
