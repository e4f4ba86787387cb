// PROXY protocol version 1 (haproxy.org proxy-protocol.txt, section 2.1): the text line a
// load balancer in front of us may write before the client's bytes,
//   "PROXY TCP4 203.0.113.7 198.51.100.1 51234 443\r\n"   (at most 107 bytes).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "common/proxy_v2.h"

namespace cloudlink {

inline constexpr size_t kProxyV1MaxLength = 107;

// Parses a v1 line at the start of bytes into out (the same shape as v2: UNKNOWN is a
// local_command without addresses). Strict: single spaces, dotted-quad IPv4 or RFC 4291 IPv6
// matching TCP4/TCP6, decimal ports 0-65535 without leading zeros, CRLF within 107 bytes.
// error (may be null) receives a static description when kInvalid.
ProxyParseStatus decode_proxy_v1(std::span<const uint8_t> bytes, ProxyV2Header& out,
                                 const char** error);

// Either version, told apart by the first byte ('P' for v1, '\r' for v2's signature).
// max_length caps a v2 header with TLVs (kInvalid beyond it).
ProxyParseStatus decode_proxy_header(std::span<const uint8_t> bytes, size_t max_length,
                                     ProxyV2Header& out, const char** error);

}  // namespace cloudlink
