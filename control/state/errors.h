// Typed errors of the control plane's state store. Each is a std::error_code in the state
// category, carried by the usual Error (with a message that names the field or object), so a
// front end maps it to a status without parsing text: not_found 404, forbidden 403,
// conflict 409, invalid 400, unauthorized 401, throttled 429, busy 503, storage_full 507,
// anything else 500.
#pragma once

#include <cstdint>
#include <string>
#include <system_error>

#include "common/result.h"

namespace cloudlink::state {

enum class StateErrc {
  kNotFound = 1,  // no such object, or one the caller may not see
  kForbidden,     // the object exists and is visible, but the caller may not do this
  kConflict,      // the name, hostname or key is taken, or no port block is left
  kInvalid,       // bad input; the message names the field
  kUnauthorized,  // wrong password, inactive user, unknown/expired/revoked token
  kThrottled,     // too many failed logins or sign-ups for this user or source address
  kBusy,          // too much work at once (password hashing); try again shortly
  kStorageFull,   // the LMDB map is full at its configured maximum
};

const std::error_category& state_category();
inline std::error_code make_error_code(StateErrc e) {
  return {static_cast<int>(e), state_category()};
}

inline Error state_error(StateErrc code, std::string message) {
  return Error(make_error_code(code), std::move(message));
}
inline Error not_found(std::string message) {
  return state_error(StateErrc::kNotFound, std::move(message));
}
inline Error forbidden(std::string message) {
  return state_error(StateErrc::kForbidden, std::move(message));
}
inline Error conflict(std::string message) {
  return state_error(StateErrc::kConflict, std::move(message));
}
inline Error invalid_field(const std::string& field, const std::string& why) {
  return state_error(StateErrc::kInvalid, field + ": " + why);
}
inline Error unauthorized(std::string message) {
  return state_error(StateErrc::kUnauthorized, std::move(message));
}

// A throttled or busy error that says when to come back: its message ends in
// "retry in N s", and retry_after_seconds() reads N back (for a Retry-After header).
Error retry_later(StateErrc code, const std::string& why, int64_t seconds);
// The N of "retry in N s" at the end of a throttled or busy error's message; 0 otherwise.
int64_t retry_after_seconds(const Error& error);

// True when error carries code.
inline bool is(const Error& error, StateErrc code) { return error.code() == make_error_code(code); }

// The HTTP status for an error: the table above; any non-state error (LMDB, I/O) is 500.
int http_status(const Error& error);
// "not_found", "forbidden", "conflict", "invalid", "unauthorized", "throttled", "busy",
// "storage_full" or "internal".
const char* error_code_name(const Error& error);

}  // namespace cloudlink::state

template <>
struct std::is_error_code_enum<cloudlink::state::StateErrc> : std::true_type {};
