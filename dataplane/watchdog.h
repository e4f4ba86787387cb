// systemd's watchdog for the dataplane: the heartbeat goes out only while every worker's event
// loop keeps ticking, so one wedged worker is caught even though the others still run. The
// workers call beat() from their loops; no timer thread pings on their behalf.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>

namespace cloudlink::dataplane {

class Watchdog {
 public:
  // period: how often systemd wants a heartbeat (service::watchdog_period()); none = disabled.
  Watchdog(unsigned workers, std::optional<std::chrono::microseconds> period);

  // Worker `worker` is alive at now_ns (CLOCK_MONOTONIC). Sends WATCHDOG=1 at most once a
  // period, and only when every worker has beaten within the last period.
  void beat(unsigned worker, int64_t now_ns);
  // After a handover the successor is the one systemd watches: stop speaking for the service.
  void silence() { silenced_.store(true, std::memory_order_relaxed); }

 private:
  unsigned workers_;
  int64_t period_ns_ = 0;
  std::unique_ptr<std::atomic<int64_t>[]> last_beat_;
  std::atomic<int64_t> last_ping_{0};
  std::atomic<bool> silenced_{false};
};

}  // namespace cloudlink::dataplane
