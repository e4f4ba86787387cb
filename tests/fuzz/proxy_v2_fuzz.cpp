// PROXY v2 decoder on arbitrary bytes, plus an encode/decode round trip of addresses taken
// from the input.
#include <netinet/in.h>

#include <array>
#include <cstdlib>
#include <cstring>

#include "common/proxy_v2.h"

namespace {

using cloudlink::ProxyParseStatus;
using cloudlink::ProxyV2Header;
using cloudlink::SocketAddress;

void check_decode(const uint8_t* data, size_t size) {
  ProxyV2Header header;
  const char* error = nullptr;
  ProxyParseStatus status = cloudlink::decode_proxy_v2({data, size}, header, &error);
  if (status == ProxyParseStatus::kInvalid && error == nullptr) std::abort();
  if (status != ProxyParseStatus::kComplete) return;
  if (header.length < 16 || header.length > size || header.length > 16 + 65535) std::abort();
  // One byte less than a complete header is never complete.
  ProxyV2Header shorter;
  if (cloudlink::decode_proxy_v2({data, header.length - 1}, shorter, nullptr) ==
      ProxyParseStatus::kComplete) {
    std::abort();
  }
}

// Builds an IPv4 or IPv6 address from the input: 1 byte family, 2 port, 16 address.
SocketAddress take_address(const uint8_t* p) {
  uint16_t port;
  std::memcpy(&port, p + 1, 2);
  if (p[0] & 1) {
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    sa.sin6_port = port;
    std::memcpy(&sa.sin6_addr, p + 3, 16);
    return SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  }
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = port;
  std::memcpy(&sa.sin_addr, p + 3, 4);
  return SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&sa), sizeof sa);
}

void check_round_trip(const uint8_t* data, size_t size) {
  constexpr size_t kAddressBytes = 19;
  if (size < 2 * kAddressBytes) return;
  SocketAddress client = take_address(data);
  SocketAddress local = take_address(data + kAddressBytes);
  std::array<uint8_t, cloudlink::kProxyV2MaxHeaderLength> out{};
  size_t length = cloudlink::encode_proxy_v2(client, local, out);
  if (length != (client.family() == AF_INET && local.family() == AF_INET ? 28u : 52u)) {
    std::abort();
  }
  ProxyV2Header header;
  if (cloudlink::decode_proxy_v2({out.data(), length}, header, nullptr) !=
      ProxyParseStatus::kComplete) {
    std::abort();
  }
  if (header.length != length || header.source.port() != client.port() ||
      header.destination.port() != local.port()) {
    std::abort();
  }
  if (length == 28 && (!(header.source == client) || !(header.destination == local))) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  check_decode(data, size);
  check_round_trip(data, size);
  return 0;
}
