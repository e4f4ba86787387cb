// Route record, version 1. All integers little-endian; IP address bytes in network order.
//
//   offset  size  field
//   0       1     version (= 1); any other value is rejected
//   1       4     flags (RouteFlag bits; unknown bits are rejected)
//   5       1     tls_target_count (0..kMaxRouteTargets)
//   6       1     home_length (1..kMaxHomeIdLength)
//   7       H     home id bytes, [A-Za-z0-9._:-], H = home_length
//   ...           tls_target_count addresses, then one http_target address
//
// An address is a kind byte, a port, and the IP bytes:
//   kind 4: [4][port u16][4 bytes IPv4]    =  7 bytes
//   kind 6: [6][port u16][16 bytes IPv6]   = 19 bytes
//   kind 0: [0]                            =  1 byte, only for "no http_target"
// Port 0 is rejected. A record must have at least one TLS target or an http_target, and it
// must end exactly after the http_target: trailing bytes are an error, so every valid record
// has exactly one encoding and encode(decode(bytes)) == bytes.
#include "common/route_record.h"

#include <arpa/inet.h>

#include <cstring>
#include <type_traits>

namespace cloudlink {
namespace {

constexpr uint8_t kRecordVersion = 1;
constexpr size_t kHeaderLength = 7;
constexpr size_t kVersionOffset = 0;
constexpr size_t kFlagsOffset = 1;
constexpr size_t kTargetCountOffset = 5;
constexpr size_t kHomeLengthOffset = 6;
constexpr uint8_t kKindNone = 0;
constexpr uint8_t kKindV4 = 4;
constexpr uint8_t kKindV6 = 6;
constexpr size_t kV4AddressLength = 1 + 2 + 4;
constexpr size_t kV6AddressLength = 1 + 2 + 16;
constexpr uint32_t kKnownFlags = kRouteProxyV2 | kRouteProxyV1 | kRouteRedirectHttps;
constexpr size_t kMaxRecordLength =
    kHeaderLength + kMaxHomeIdLength + (kMaxRouteTargets + 1) * kV6AddressLength;

static_assert(kFlagsOffset == kVersionOffset + 1);
static_assert(kTargetCountOffset == kFlagsOffset + sizeof(uint32_t));
static_assert(kHomeLengthOffset == kTargetCountOffset + 1);
static_assert(kHeaderLength == kHomeLengthOffset + 1);
static_assert(kV4AddressLength == 1 + sizeof(uint16_t) + sizeof(in_addr));
static_assert(kV6AddressLength == 1 + sizeof(uint16_t) + sizeof(in6_addr));
static_assert(kMaxRouteTargets <= UINT8_MAX, "target count is one byte");
static_assert(kMaxHomeIdLength <= UINT8_MAX, "home length is one byte");
static_assert(kMaxRecordLength == 394, "record size changed: bump kRecordVersion?");
static_assert(std::is_trivially_copyable_v<Route>, "Route is copied out of LMDB pages");

bool is_home_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == ':' || c == '-';
}

bool is_valid_home(std::string_view home) {
  if (home.empty() || home.size() > kMaxHomeIdLength) return false;
  for (char c : home) {
    if (!is_home_char(c)) return false;
  }
  return true;
}

void append_address(std::string& out, const SocketAddress& address) {
  uint16_t port = address.port();
  const sockaddr* sa = address.sockaddr_ptr();
  if (address.family() == AF_INET) {
    out.push_back(static_cast<char>(kKindV4));
    out.push_back(static_cast<char>(port & 0xff));
    out.push_back(static_cast<char>(port >> 8));
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(sa);
    out.append(reinterpret_cast<const char*>(&v4->sin_addr), sizeof(in_addr));
  } else if (address.family() == AF_INET6) {
    out.push_back(static_cast<char>(kKindV6));
    out.push_back(static_cast<char>(port & 0xff));
    out.push_back(static_cast<char>(port >> 8));
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(sa);
    out.append(reinterpret_cast<const char*>(&v6->sin6_addr), sizeof(in6_addr));
  } else {
    out.push_back(static_cast<char>(kKindNone));
  }
}

// A bounds-checked cursor over untrusted bytes.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> bytes) : bytes_(bytes) {}
  size_t remaining() const { return bytes_.size() - pos_; }
  bool u8(uint8_t& out) {
    if (remaining() < 1) return false;
    out = bytes_[pos_++];
    return true;
  }
  bool u16(uint16_t& out) {
    if (remaining() < 2) return false;
    out = static_cast<uint16_t>(bytes_[pos_] | (bytes_[pos_ + 1] << 8));
    pos_ += 2;
    return true;
  }
  bool u32(uint32_t& out) {
    if (remaining() < 4) return false;
    out = 0;
    for (size_t i = 0; i < 4; ++i) out |= static_cast<uint32_t>(bytes_[pos_ + i]) << (8 * i);
    pos_ += 4;
    return true;
  }
  bool copy(void* out, size_t length) {
    if (remaining() < length) return false;
    std::memcpy(out, bytes_.data() + pos_, length);
    pos_ += length;
    return true;
  }

 private:
  std::span<const uint8_t> bytes_;
  size_t pos_ = 0;
};

enum class AddressStatus { kOk, kTruncated, kBadKind, kBadPort, kNoneNotAllowed };

AddressStatus read_address(Reader& reader, bool allow_none, SocketAddress& out) {
  uint8_t kind = 0;
  if (!reader.u8(kind)) return AddressStatus::kTruncated;
  if (kind == kKindNone) {
    if (!allow_none) return AddressStatus::kNoneNotAllowed;
    out = SocketAddress();
    return AddressStatus::kOk;
  }
  if (kind != kKindV4 && kind != kKindV6) return AddressStatus::kBadKind;
  uint16_t port = 0;
  if (!reader.u16(port)) return AddressStatus::kTruncated;
  if (port == 0) return AddressStatus::kBadPort;
  if (kind == kKindV4) {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    if (!reader.copy(&sa.sin_addr, sizeof sa.sin_addr)) return AddressStatus::kTruncated;
    out = SocketAddress::from_sockaddr(reinterpret_cast<const sockaddr*>(&sa), sizeof sa);
  } else {
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    sa.sin6_port = htons(port);
    if (!reader.copy(&sa.sin6_addr, sizeof sa.sin6_addr)) return AddressStatus::kTruncated;
    out = SocketAddress::from_sockaddr(reinterpret_cast<const sockaddr*>(&sa), sizeof sa);
  }
  return AddressStatus::kOk;
}

Error address_error(AddressStatus status, const char* which) {
  switch (status) {
    case AddressStatus::kTruncated:
      return invalid(std::string("route record truncated in ") + which);
    case AddressStatus::kBadKind:
      return invalid(std::string("route record has an unknown address family in ") + which);
    case AddressStatus::kBadPort:
      return invalid(std::string("route record has port 0 in ") + which);
    default:
      return invalid(std::string("route record is missing ") + which);
  }
}

}  // namespace

Result<Route> make_route(std::string_view home_id, uint32_t flags,
                         std::span<const SocketAddress> tls_targets,
                         const SocketAddress& http_target) {
  if (home_id.empty()) return invalid("home id is empty");
  if (home_id.size() > kMaxHomeIdLength) {
    return invalid("home id is " + std::to_string(home_id.size()) + " characters, more than " +
                   std::to_string(kMaxHomeIdLength));
  }
  if (!is_valid_home(home_id)) return invalid("home id may only contain [A-Za-z0-9._:-]");
  if ((flags & ~kKnownFlags) != 0) return invalid("route flags have unknown bits");
  if (tls_targets.size() > kMaxRouteTargets) {
    return invalid("route has " + std::to_string(tls_targets.size()) + " targets, more than " +
                   std::to_string(kMaxRouteTargets));
  }
  if (tls_targets.empty() && http_target.empty()) return invalid("route has no targets");
  Route route;
  route.flags = flags;
  for (const SocketAddress& target : tls_targets) {
    if (target.empty() || target.port() == 0) return invalid("route target is not an address");
    route.tls_targets[route.tls_target_count++] = target;
  }
  if (!http_target.empty() && http_target.port() == 0) {
    return invalid("http target has port 0");
  }
  route.http_target = http_target;
  route.home_length = static_cast<uint8_t>(home_id.size());
  std::memcpy(route.home.data(), home_id.data(), home_id.size());
  return route;
}

std::string encode_route(const Route& route) {
  std::string out;
  out.reserve(kMaxRecordLength);
  out.push_back(static_cast<char>(kRecordVersion));
  for (size_t i = 0; i < 4; ++i) out.push_back(static_cast<char>(route.flags >> (8 * i)));
  out.push_back(static_cast<char>(route.tls_target_count));
  out.push_back(static_cast<char>(route.home_length));
  out.append(route.home.data(), route.home_length);
  for (const SocketAddress& target : route.targets()) append_address(out, target);
  append_address(out, route.http_target);
  return out;
}

Result<Route> decode_route(std::span<const uint8_t> bytes) {
  Reader reader(bytes);
  Route route;
  uint8_t version = 0;
  if (!reader.u8(version)) return invalid("route record is empty");
  if (version != kRecordVersion) {
    return invalid("route record has unsupported version " + std::to_string(version));
  }
  if (!reader.u32(route.flags) || !reader.u8(route.tls_target_count) ||
      !reader.u8(route.home_length)) {
    return invalid("route record truncated in header");
  }
  if ((route.flags & ~kKnownFlags) != 0) return invalid("route record has unknown flag bits");
  if (route.tls_target_count > kMaxRouteTargets) {
    return invalid("route record has " + std::to_string(route.tls_target_count) +
                   " targets, more than " + std::to_string(kMaxRouteTargets));
  }
  if (route.home_length == 0 || route.home_length > kMaxHomeIdLength) {
    return invalid("route record has home id length " + std::to_string(route.home_length));
  }
  if (!reader.copy(route.home.data(), route.home_length)) {
    return invalid("route record truncated in home id");
  }
  if (!is_valid_home(route.home_id())) return invalid("route record has a bad home id");
  for (uint8_t i = 0; i < route.tls_target_count; ++i) {
    AddressStatus status = read_address(reader, false, route.tls_targets[i]);
    if (status != AddressStatus::kOk) return address_error(status, "a TLS target");
  }
  AddressStatus status = read_address(reader, true, route.http_target);
  if (status != AddressStatus::kOk) return address_error(status, "the HTTP target");
  if (route.tls_target_count == 0 && route.http_target.empty()) {
    return invalid("route record has no targets");
  }
  if (reader.remaining() != 0) {
    return invalid("route record has " + std::to_string(reader.remaining()) + " trailing bytes");
  }
  return route;
}

}  // namespace cloudlink
