// The one rule for usernames (and the one for passwords), shared by the store and the front ends
// that take a username from a path (so a hostile path segment is refused before it reaches a
// lookup).
#pragma once

#include <cstddef>
#include <string_view>

#include "common/result.h"

namespace cloudlink::state {

inline constexpr size_t kMaxUsername = 32;

// 1 to 32 of [a-z0-9._-], starting with a letter or digit; otherwise an invalid error naming
// field ("username" in a body, the parameter's name in a path).
Result<void> validate_username(std::string_view name, std::string_view field = "username");

inline constexpr size_t kMinPassword = 8;
inline constexpr size_t kMaxPassword = 1024;
// kMinPassword to kMaxPassword bytes; otherwise an invalid error naming "password".
Result<void> validate_password(std::string_view password);

}  // namespace cloudlink::state
