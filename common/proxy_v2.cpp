#include "common/proxy_v2.h"

#include <arpa/inet.h>

#include <cstring>

namespace cloudlink {
namespace {

constexpr uint8_t kSignature[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                    0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
constexpr size_t kFixedLength = 16;
constexpr uint8_t kVersion2 = 0x20;
constexpr uint8_t kCommandLocal = 0x0;
constexpr uint8_t kCommandProxy = 0x1;
constexpr uint8_t kFamilyUnspec = 0x00;
constexpr uint8_t kFamilyTcp4 = 0x11;
constexpr uint8_t kFamilyTcp6 = 0x21;
constexpr size_t kTcp4AddressLength = 4 + 4 + 2 + 2;
constexpr size_t kTcp6AddressLength = 16 + 16 + 2 + 2;

static_assert(kFixedLength + kTcp6AddressLength == kProxyV2MaxHeaderLength);
static_assert(sizeof kSignature + 4 == kFixedLength);

// The address as 16 IPv6 bytes, v4-mapped (::ffff:a.b.c.d) when it is IPv4.
void as_ipv6(const SocketAddress& address, uint8_t* out) {
  if (address.family() == AF_INET6) {
    std::memcpy(out, &reinterpret_cast<const sockaddr_in6*>(address.sockaddr_ptr())->sin6_addr, 16);
    return;
  }
  std::memset(out, 0, 10);
  out[10] = 0xff;
  out[11] = 0xff;
  std::memcpy(out + 12, &reinterpret_cast<const sockaddr_in*>(address.sockaddr_ptr())->sin_addr, 4);
}

void put_port(uint8_t* out, uint16_t port) {
  out[0] = static_cast<uint8_t>(port >> 8);
  out[1] = static_cast<uint8_t>(port & 0xff);
}

uint16_t get_be16(const uint8_t* in) { return static_cast<uint16_t>((in[0] << 8) | in[1]); }

SocketAddress make_v4(const uint8_t* addr, const uint8_t* port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  std::memcpy(&sa.sin_addr, addr, 4);
  std::memcpy(&sa.sin_port, port, 2);  // both in network order
  return SocketAddress::from_sockaddr(reinterpret_cast<const sockaddr*>(&sa), sizeof sa);
}

SocketAddress make_v6(const uint8_t* addr, const uint8_t* port) {
  sockaddr_in6 sa{};
  sa.sin6_family = AF_INET6;
  std::memcpy(&sa.sin6_addr, addr, 16);
  std::memcpy(&sa.sin6_port, port, 2);
  return SocketAddress::from_sockaddr(reinterpret_cast<const sockaddr*>(&sa), sizeof sa);
}

ProxyParseStatus fail(const char** error, const char* why) {
  if (error != nullptr) *error = why;
  return ProxyParseStatus::kInvalid;
}

}  // namespace

size_t encode_proxy_v2(const SocketAddress& client, const SocketAddress& local,
                       std::span<uint8_t, kProxyV2MaxHeaderLength> out) {
  if (client.empty() || local.empty()) return 0;
  uint8_t* p = out.data();
  std::memcpy(p, kSignature, sizeof kSignature);
  p[12] = kVersion2 | kCommandProxy;
  if (client.family() == AF_INET && local.family() == AF_INET) {
    p[13] = kFamilyTcp4;
    put_port(p + 14, kTcp4AddressLength);
    const auto* src = reinterpret_cast<const sockaddr_in*>(client.sockaddr_ptr());
    const auto* dst = reinterpret_cast<const sockaddr_in*>(local.sockaddr_ptr());
    std::memcpy(p + 16, &src->sin_addr, 4);
    std::memcpy(p + 20, &dst->sin_addr, 4);
    put_port(p + 24, client.port());
    put_port(p + 26, local.port());
    return kFixedLength + kTcp4AddressLength;
  }
  p[13] = kFamilyTcp6;
  put_port(p + 14, kTcp6AddressLength);
  as_ipv6(client, p + 16);
  as_ipv6(local, p + 32);
  put_port(p + 48, client.port());
  put_port(p + 50, local.port());
  return kFixedLength + kTcp6AddressLength;
}

ProxyParseStatus decode_proxy_v2(std::span<const uint8_t> bytes, ProxyV2Header& out,
                                 const char** error) {
  // Reject a wrong prefix as soon as it is seen rather than waiting for 16 bytes.
  size_t signature_bytes = bytes.size() < sizeof kSignature ? bytes.size() : sizeof kSignature;
  if (signature_bytes > 0 && std::memcmp(bytes.data(), kSignature, signature_bytes) != 0) {
    return fail(error, "PROXY v2: bad signature");
  }
  if (bytes.size() > sizeof kSignature && (bytes[12] & 0xF0) != kVersion2) {
    return fail(error, "PROXY v2: unsupported version");
  }
  if (bytes.size() < kFixedLength) return ProxyParseStatus::kNeedMore;

  uint8_t command = bytes[12] & 0x0F;
  if (command != kCommandLocal && command != kCommandProxy) {
    return fail(error, "PROXY v2: unknown command");
  }
  uint8_t family = bytes[13];
  size_t address_length = get_be16(bytes.data() + 14);
  size_t total = kFixedLength + address_length;  // at most 16 + 65535 by construction
  bool is_local = command == kCommandLocal;
  // Check the declared length against the family before waiting for the rest, so a short
  // length is rejected without buffering.
  if (!is_local) {
    if (family == kFamilyTcp4 && address_length < kTcp4AddressLength) {
      return fail(error, "PROXY v2: length too short for TCP over IPv4");
    }
    if (family == kFamilyTcp6 && address_length < kTcp6AddressLength) {
      return fail(error, "PROXY v2: length too short for TCP over IPv6");
    }
    if (family != kFamilyTcp4 && family != kFamilyTcp6 && family != kFamilyUnspec) {
      return fail(error, "PROXY v2: unsupported address family or protocol");
    }
  }
  if (bytes.size() < total) return ProxyParseStatus::kNeedMore;

  out = ProxyV2Header{};
  out.local_command = is_local;
  out.length = total;
  // LOCAL and UNSPEC carry no usable addresses: the receiver keeps the real endpoints.
  if (is_local || family == kFamilyUnspec) return ProxyParseStatus::kComplete;
  const uint8_t* a = bytes.data() + kFixedLength;
  if (family == kFamilyTcp4) {
    out.source = make_v4(a, a + 8);
    out.destination = make_v4(a + 4, a + 10);
  } else {
    out.source = make_v6(a, a + 32);
    out.destination = make_v6(a + 16, a + 34);
  }
  return ProxyParseStatus::kComplete;
}

}  // namespace cloudlink
