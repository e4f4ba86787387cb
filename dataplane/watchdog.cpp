#include "dataplane/watchdog.h"

#include "common/service_notify.h"

namespace cloudlink::dataplane {

Watchdog::Watchdog(unsigned workers, std::optional<std::chrono::microseconds> period)
    : workers_(workers), last_beat_(std::make_unique<std::atomic<int64_t>[]>(workers)) {
  if (period) period_ns_ = static_cast<int64_t>(period->count()) * 1000;
  for (unsigned i = 0; i < workers_; ++i) last_beat_[i].store(0);
}

void Watchdog::beat(unsigned worker, int64_t now_ns) {
  if (period_ns_ == 0 || worker >= workers_) return;
  last_beat_[worker].store(now_ns, std::memory_order_relaxed);
  int64_t last = last_ping_.load(std::memory_order_relaxed);
  if (now_ns - last < period_ns_ || silenced_.load(std::memory_order_relaxed)) return;
  for (unsigned i = 0; i < workers_; ++i) {
    if (now_ns - last_beat_[i].load(std::memory_order_relaxed) > period_ns_) return;
  }
  // One worker wins the period's ping.
  if (last_ping_.compare_exchange_strong(last, now_ns, std::memory_order_relaxed)) {
    service::notify_watchdog();
  }
}

}  // namespace cloudlink::dataplane
