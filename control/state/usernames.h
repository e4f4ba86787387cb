// The one rule for usernames, shared by the store and the front ends that take a username
// from a path (so a hostile path segment is refused before it reaches a lookup).
#pragma once

#include <cstddef>
#include <string_view>

#include "common/result.h"

namespace cloudlink::state {

inline constexpr size_t kMaxUsername = 32;

// 1 to 32 of [a-z0-9._-], starting with a letter or digit; otherwise an invalid error naming
// field ("username" in a body, the parameter's name in a path).
Result<void> validate_username(std::string_view name, std::string_view field = "username");

}  // namespace cloudlink::state
