// The dataplane's Prometheus metrics (prometheus-cpp), shared by all workers: every counter is
// an atomic, so workers update them without locks.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <memory>

#include "common/result.h"
#include "common/socket_address.h"
#include "dataplane/close_result.h"
#include "dataplane/config.h"
#include "dataplane/sockmap.h"

namespace cloudlink::dataplane {

enum class UpstreamFailure : uint8_t { kRefused, kTimeout, kError, kCount };

class Metrics {
 public:
  // Serves /metrics on config.metrics_listener unless it is empty. A bind failure is an Error
  // naming the address. The settings an operator compares against (the connection limit, the
  // relay mode, the version) are published once here.
  // With expose = false nothing listens until expose() (a successor waiting for the port).
  static Result<std::unique_ptr<Metrics>> create(const Config& config, bool expose = true);
  // Serves /metrics on listen (nothing when it is empty). Not thread-safe against itself.
  Result<void> expose(const SocketAddress& listen);
  // Stops serving /metrics and frees its port (the counters keep counting).
  void stop_exposing() { exposer_.reset(); }

  prometheus::Counter& accepted() { return *accepted_; }
  prometheus::Counter& routed() { return *routed_; }
  prometheus::Counter& rejected(CloseResult r) { return *rejected_[static_cast<size_t>(r)]; }
  prometheus::Counter& closed(CloseResult r) { return *closed_[static_cast<size_t>(r)]; }
  prometheus::Gauge& active() { return *active_; }
  prometheus::Counter& bytes_client_to_target() { return *bytes_c2t_; }
  prometheus::Counter& bytes_target_to_client() { return *bytes_t2c_; }
  prometheus::Histogram& hello_wait() { return *hello_wait_; }
  prometheus::Histogram& connect_time() { return *connect_time_; }
  prometheus::Counter& upstream_failure(UpstreamFailure f) {
    return *upstream_failures_[static_cast<size_t>(f)];
  }
  prometheus::Gauge& sockmap_flows() { return *sockmap_flows_; }
  prometheus::Counter& sockmap_fallback(SockmapFallback f) {
    return *sockmap_fallbacks_[static_cast<size_t>(f)];
  }
  prometheus::Counter& sockmap_redirect_failures() { return *sockmap_redirect_failures_; }
  // Index: Dir (0 client -> target, 1 target -> client).
  prometheus::Counter& sockmap_backpressure(int d) { return *sockmap_backpressure_[d]; }
  prometheus::Counter& sockmap_lane_overflows() { return *sockmap_lane_overflows_; }

 private:
  explicit Metrics(const Config& config);
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  prometheus::Counter* accepted_;
  prometheus::Counter* routed_;
  std::array<prometheus::Counter*, static_cast<size_t>(CloseResult::kCount)> rejected_{};
  std::array<prometheus::Counter*, static_cast<size_t>(CloseResult::kCount)> closed_{};
  prometheus::Gauge* active_;
  prometheus::Counter* bytes_c2t_;
  prometheus::Counter* bytes_t2c_;
  prometheus::Histogram* hello_wait_;
  prometheus::Histogram* connect_time_;
  std::array<prometheus::Counter*, static_cast<size_t>(UpstreamFailure::kCount)>
      upstream_failures_{};
  prometheus::Gauge* sockmap_flows_;
  std::array<prometheus::Counter*, static_cast<size_t>(SockmapFallback::kCount)>
      sockmap_fallbacks_{};
  prometheus::Counter* sockmap_redirect_failures_;
  std::array<prometheus::Counter*, 2> sockmap_backpressure_{};
  prometheus::Counter* sockmap_lane_overflows_;
};

}  // namespace cloudlink::dataplane
