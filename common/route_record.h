// The route record: value of one entry in the LMDB `routes` environment (key = hostname).
// A small versioned binary encoding; decode is allocation-free and treats every length as hostile.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "common/result.h"
#include "common/socket_address.h"

namespace cloudlink {

inline constexpr size_t kMaxRouteTargets = 16;
inline constexpr size_t kMaxHomeIdLength = 64;

enum RouteFlag : uint32_t {
  kRouteProxyV2 = 1u << 0,        // write a PROXY protocol v2 header toward the target
  kRouteProxyV1 = 1u << 1,        // write a PROXY protocol v1 line toward the target
  kRouteRedirectHttps = 1u << 2,  // on :80, answer 308 to https instead of relaying
};

// Decoded form, fixed capacity, no heap: what the dataplane copies out of a read transaction.
struct Route {
  uint32_t flags = 0;
  uint8_t tls_target_count = 0;
  std::array<SocketAddress, kMaxRouteTargets> tls_targets{};
  SocketAddress http_target{};  // empty() when the route has no HTTP target
  uint8_t home_length = 0;
  std::array<char, kMaxHomeIdLength> home{};  // owning home's id (not NUL-terminated)

  std::string_view home_id() const { return {home.data(), home_length}; }
  std::span<const SocketAddress> targets() const { return {tls_targets.data(), tls_target_count}; }
  bool has_flag(RouteFlag f) const { return (flags & f) != 0; }
};

// Builds a Route; fails (with a message naming the field) when a limit is exceeded.
Result<Route> make_route(std::string_view home_id, uint32_t flags,
                         std::span<const SocketAddress> tls_targets,
                         const SocketAddress& http_target = {});

// Encodes the current version of the record.
std::string encode_route(const Route& route);
// Decodes any supported version; a truncated, oversized, or inconsistent record is an error.
Result<Route> decode_route(std::span<const uint8_t> bytes);

}  // namespace cloudlink
