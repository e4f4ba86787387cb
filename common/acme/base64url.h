// base64url without padding (RFC 4648 section 5, as RFC 7515 uses it for JWS).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace cloudlink::acme {

std::string base64url(std::span<const uint8_t> bytes);
std::string base64url(std::string_view text);
// Nothing for a character outside the alphabet, padding, or an impossible length.
std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace cloudlink::acme
