// Least-connections choice among a route's targets, counted across all workers: each target's
// open (and connecting) connections live in one shared atomic counter. A worker finds a
// target's counter under a lock the first time it sees the address and keeps the pointer, so
// the connect path itself takes no lock.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <unordered_map>

#include "common/socket_address.h"

namespace cloudlink::dataplane {

struct SocketAddressHash {
  size_t operator()(const SocketAddress& a) const;
};

// One counter per target address ever connected to, shared by the workers. Counters are never
// removed (targets are few and a pointer handed out must stay valid), so memory grows with the
// number of distinct target addresses, not with connections.
class TargetLoads {
 public:
  std::atomic<uint32_t>* counter(const SocketAddress& target);

 private:
  std::mutex mutex_;
  std::unordered_map<SocketAddress, std::unique_ptr<std::atomic<uint32_t>>, SocketAddressHash>
      counters_;
};

// A worker's view of TargetLoads.
class TargetBalancer {
 public:
  explicit TargetBalancer(TargetLoads& loads) : loads_(loads) {}

  // Index of the target with the fewest connections among those whose bit is clear in
  // tried_mask; ties go to the earliest. -1 when all were tried.
  int pick(std::span<const SocketAddress> targets, uint32_t tried_mask);
  // Counted from the moment a connect starts, so a burst of new connections spreads out
  // instead of all choosing the target that was least loaded before any of them connected.
  void opened(const SocketAddress& target);
  void closed(const SocketAddress& target);
  uint32_t open_count(const SocketAddress& target);

 private:
  std::atomic<uint32_t>& counter(const SocketAddress& target);

  TargetLoads& loads_;
  std::unordered_map<SocketAddress, std::atomic<uint32_t>*, SocketAddressHash> cache_;
};

}  // namespace cloudlink::dataplane
