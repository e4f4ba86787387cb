// The whole dataplane process: route table, metrics, and one worker thread per core.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "common/result.h"
#include "common/route_table.h"
#include "dataplane/config.h"
#include "dataplane/connection_limit.h"
#include "dataplane/metrics.h"
#include "dataplane/sockmap.h"
#include "dataplane/watchdog.h"
#include "dataplane/worker.h"

namespace cloudlink::dataplane {

class Dataplane {
 public:
  // Opens the route table and every listener, starts the workers, and returns once each has
  // set up its ring (or the first error, naming what failed). `inherited`: listening sockets
  // handed over by a predecessor (listener.h says how they are used). With `defer_metrics`
  // /metrics is not served until expose_metrics(): the predecessor still holds its port.
  static Result<std::unique_ptr<Dataplane>> start(const Config& config,
                                                  std::vector<UniqueFd> inherited = {},
                                                  bool defer_metrics = false);
  ~Dataplane();

  // Stop accepting; workers drain their connections for up to --drain-timeout.
  void request_stop() { stop_requested_.store(true); }
  // Blocks until every worker has finished.
  void join();
  // The settings in effect: --relay sockmap reads as copy after a fallback.
  const Config& config() const { return config_; }

  // Every listening socket of every worker, for a handover. Valid until request_stop().
  const std::vector<int>& listener_fds() const { return listener_fds_; }
  // Handover, old side: stop serving /metrics (the successor binds its port) and stop pinging
  // the watchdog (the successor is the service now).
  void release_for_successor();
  // Handover, new side: serve /metrics now, retrying for up to `patience` while the port is
  // still held by the predecessor.
  Result<void> expose_metrics(std::chrono::milliseconds patience);

 private:
  explicit Dataplane(const Config& config);
  Config config_;
  ConnectionLimit limit_;
  TargetLoads target_loads_;
  std::optional<RouteTable> routes_;
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<SockmapRelay> sockmap_;  // loaded only for --relay sockmap
  std::atomic<bool> stop_requested_{false};
  Watchdog watchdog_;
  std::vector<int> listener_fds_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;
};

}  // namespace cloudlink::dataplane
