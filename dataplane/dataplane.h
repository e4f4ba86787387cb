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
#include "dataplane/worker.h"

namespace cloudlink::dataplane {

class Dataplane {
 public:
  // Opens the route table and every listener, starts the workers, and returns once each has
  // set up its ring (or the first error, naming what failed).
  static Result<std::unique_ptr<Dataplane>> start(const Config& config);
  ~Dataplane();

  // Stop accepting; workers drain their connections for up to --drain-timeout.
  void request_stop() { stop_requested_.store(true); }
  // Blocks until every worker has finished.
  void join();
  // The settings in effect: --relay sockmap reads as copy after a fallback.
  const Config& config() const { return config_; }

 private:
  explicit Dataplane(const Config& config) : config_(config), limit_(config.max_connections) {}
  Config config_;
  ConnectionLimit limit_;
  TargetLoads target_loads_;
  std::optional<RouteTable> routes_;
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<SockmapRelay> sockmap_;  // loaded only for --relay sockmap
  std::atomic<bool> stop_requested_{false};
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;
};

}  // namespace cloudlink::dataplane
