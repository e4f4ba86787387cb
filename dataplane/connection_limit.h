// --max-connections across all workers: one counter every worker takes a place from at accept
// and gives back at close, so a client that lands on a busy worker is not refused while another
// worker has room.
#pragma once

#include <atomic>
#include <cstdint>

namespace cloudlink::dataplane {

class ConnectionLimit {
 public:
  explicit ConnectionLimit(uint32_t max) : max_(max) {}
  ConnectionLimit(const ConnectionLimit&) = delete;
  ConnectionLimit& operator=(const ConnectionLimit&) = delete;

  // True when a place was taken; the caller must release() it when the connection closes.
  bool try_acquire() {
    uint32_t current = active_.load(std::memory_order_relaxed);
    while (current < max_) {
      if (active_.compare_exchange_weak(current, current + 1, std::memory_order_relaxed)) {
        return true;
      }
    }
    return false;
  }

  void release() { active_.fetch_sub(1, std::memory_order_relaxed); }

 private:
  const uint32_t max_;
  std::atomic<uint32_t> active_{0};
};

}  // namespace cloudlink::dataplane
