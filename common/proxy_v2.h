// PROXY protocol version 2 (haproxy.org proxy-protocol.txt, section 2.2): the binary header a
// relay writes before the client's bytes so the backend learns the client's real address.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "common/socket_address.h"

namespace cloudlink {

// 16-byte fixed part + 36 bytes of IPv6 addresses; TLVs are neither written nor needed.
inline constexpr size_t kProxyV2MaxHeaderLength = 52;

// Writes a PROXY/STREAM header for the connection client -> local (the address the client
// reached). Mixed families are written as IPv6 with v4-mapped addresses. Returns the length
// written (28 for IPv4, 52 for IPv6), or 0 when either address is empty.
size_t encode_proxy_v2(const SocketAddress& client, const SocketAddress& local,
                       std::span<uint8_t, kProxyV2MaxHeaderLength> out);

enum class ProxyParseStatus { kComplete, kNeedMore, kInvalid };

struct ProxyV2Header {
  bool local_command = false;  // LOCAL: health check, no addresses
  SocketAddress source;
  SocketAddress destination;
  size_t length = 0;  // header bytes to skip, including TLVs
};

// Parses a header at the start of bytes (for backends, tests, and the home agent). Every length
// is checked against the 16-byte fixed part, the address family, and a cap of 16+65535 bytes.
// error (may be null) receives a static description when kInvalid.
ProxyParseStatus decode_proxy_v2(std::span<const uint8_t> bytes, ProxyV2Header& out,
                                 const char** error);

}  // namespace cloudlink
