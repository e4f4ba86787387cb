// Checks for the values of cloudlink.yaml's fields. Each returns an empty string when the
// value is acceptable, else the problem in a few words ("expected HOST:PORT, got \"x\"").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cloudlink::home {

struct HostPort {
  std::string host;  // without brackets
  uint16_t port = 0;
};

// Decimal digits only (no sign, no leading zeros except "0"), within [min, max].
std::optional<uint64_t> parse_decimal(std::string_view text, uint64_t min, uint64_t max);

// "name:443", "1.2.3.4:443" or "[::1]:443".
std::optional<HostPort> parse_host_port(std::string_view text);

// A hostname (letters any case, digits, '-', '.'), an IPv4 or an IPv6 address.
bool is_host(std::string_view text);

// "ssh-ed25519 AAAA..." style: a known key type, one space, base64.
std::string check_public_key_line(std::string_view text);

// http:// or https:// followed by a host and an optional path; no spaces or control bytes.
std::string check_url(std::string_view text);

// Printable ASCII, no spaces, 1..max_length bytes.
std::string check_token(std::string_view text, size_t max_length);

// A local filesystem path: 1..4096 bytes, no NUL or newline.
std::string check_path(std::string_view text);

// [a-z_][a-z0-9_-]{0,31}: what useradd accepts.
std::string check_user(std::string_view text);

// The offset of the first byte that is not part of well-formed UTF-8 (no overlong forms, no
// surrogates, nothing past U+10FFFF), or npos when text is all UTF-8.
size_t find_invalid_utf8(std::string_view text);

// Quoted for an error message: "x" with non-printable bytes as \xNN, cut after 64 bytes.
std::string quote(std::string_view text);

}  // namespace cloudlink::home
