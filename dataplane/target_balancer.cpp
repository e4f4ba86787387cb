#include "dataplane/target_balancer.h"

#include <string_view>

namespace cloudlink::dataplane {

size_t SocketAddressHash::operator()(const SocketAddress& a) const {
  return std::hash<std::string_view>()(
      std::string_view(reinterpret_cast<const char*>(a.sockaddr_ptr()), a.length()));
}

std::atomic<uint32_t>* TargetLoads::counter(const SocketAddress& target) {
  std::lock_guard lock(mutex_);
  auto& slot = counters_[target];
  if (!slot) slot = std::make_unique<std::atomic<uint32_t>>(0);
  return slot.get();
}

std::atomic<uint32_t>& TargetBalancer::counter(const SocketAddress& target) {
  auto it = cache_.find(target);
  if (it == cache_.end()) it = cache_.emplace(target, loads_.counter(target)).first;
  return *it->second;
}

int TargetBalancer::pick(std::span<const SocketAddress> targets, uint32_t tried_mask) {
  int best = -1;
  uint32_t best_count = UINT32_MAX;
  for (size_t i = 0; i < targets.size() && i < 32; ++i) {
    if ((tried_mask & (1u << i)) != 0) continue;
    const uint32_t c = open_count(targets[i]);
    if (best < 0 || c < best_count) {
      best = static_cast<int>(i);
      best_count = c;
    }
  }
  return best;
}

void TargetBalancer::opened(const SocketAddress& target) {
  counter(target).fetch_add(1, std::memory_order_relaxed);
}

void TargetBalancer::closed(const SocketAddress& target) {
  std::atomic<uint32_t>& count = counter(target);
  uint32_t current = count.load(std::memory_order_relaxed);
  // Never below zero, whatever the caller does.
  while (current > 0 &&
         !count.compare_exchange_weak(current, current - 1, std::memory_order_relaxed)) {
  }
}

uint32_t TargetBalancer::open_count(const SocketAddress& target) {
  return counter(target).load(std::memory_order_relaxed);
}

}  // namespace cloudlink::dataplane
