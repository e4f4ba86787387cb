#include "dataplane/target_balancer.h"

#include <string_view>

namespace cloudlink::dataplane {

size_t TargetBalancer::Hash::operator()(const SocketAddress& a) const {
  return std::hash<std::string_view>()(
      std::string_view(reinterpret_cast<const char*>(a.sockaddr_ptr()), a.length()));
}

int TargetBalancer::pick(std::span<const SocketAddress> targets, uint32_t tried_mask) const {
  int best = -1;
  uint32_t best_count = UINT32_MAX;
  for (size_t i = 0; i < targets.size() && i < 32; ++i) {
    if ((tried_mask & (1u << i)) != 0) continue;
    const uint32_t c = open_count(targets[i]);
    if (c < best_count) {
      best = static_cast<int>(i);
      best_count = c;
    }
  }
  return best;
}

void TargetBalancer::closed(const SocketAddress& target) {
  auto it = counts_.find(target);
  if (it == counts_.end()) return;
  if (--it->second == 0) counts_.erase(it);  // keeps the map as small as the live targets
}

uint32_t TargetBalancer::open_count(const SocketAddress& target) const {
  auto it = counts_.find(target);
  return it == counts_.end() ? 0 : it->second;
}

}  // namespace cloudlink::dataplane
