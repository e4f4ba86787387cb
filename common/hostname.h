// Hostname rules shared by the control plane (route keys) and the dataplane (SNI, Host).
#pragma once

#include <cstddef>
#include <string_view>

#include "common/result.h"

namespace cloudlink {

inline constexpr size_t kMaxHostnameLength = 253;
inline constexpr size_t kMaxLabelLength = 63;

// A route key: lower-case labels of [a-z0-9-] (no leading or trailing '-'), 1..63 characters
// each, at most 253 in all, no trailing dot; "*." is allowed only as the first label and the
// rest must still have at least two labels ("*.example.com", not "*.com"... see .cpp).
// The error message says which rule failed, e.g. "label 2 is longer than 63 characters".
Result<void> validate_route_hostname(std::string_view host);

// Normalises a server name read off the wire (SNI or Host without port): lower-cases ASCII
// letters into out and checks the same character and length rules (no wildcard allowed; one
// trailing dot is dropped). Returns the length written, or 0 when the name is not a valid
// hostname. out must hold kMaxHostnameLength bytes. Allocation-free.
size_t normalize_hostname(std::string_view in, char* out);

}  // namespace cloudlink
