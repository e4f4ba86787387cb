// Least-connections choice among a route's targets. Counts are per worker: workers share
// nothing, and with SO_REUSEPORT spreading clients evenly the per-worker view tracks the
// global one without a shared cache line on every connect.
#pragma once

#include <cstdint>
#include <span>
#include <unordered_map>

#include "common/socket_address.h"

namespace cloudlink::dataplane {

class TargetBalancer {
 public:
  // Index of the target with the fewest open connections among those whose bit is clear in
  // tried_mask; ties go to the earliest. -1 when all were tried.
  int pick(std::span<const SocketAddress> targets, uint32_t tried_mask) const;
  void opened(const SocketAddress& target) { ++counts_[target]; }
  void closed(const SocketAddress& target);
  uint32_t open_count(const SocketAddress& target) const;

 private:
  struct Hash {
    size_t operator()(const SocketAddress& a) const;
  };
  std::unordered_map<SocketAddress, uint32_t, Hash> counts_;
};

}  // namespace cloudlink::dataplane
