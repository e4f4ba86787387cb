// Control API metrics: cloudlink_control_http_requests_total{route,method,status},
// cloudlink_control_http_request_duration_seconds{route}, the open connections
// (cloudlink_control_http_connections) and those refused before a request
// (cloudlink_control_http_connections_refused_total{reason}). `route` is a registered pattern
// or "unmatched", `method` one of the few the router knows or "other", `status` a status code,
// `reason` one of a fixed few: every label is bounded, whatever clients send.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>
#include <string_view>

namespace cloudlink::control::http {

// The route label of a request that matched no registered pattern.
inline constexpr std::string_view kUnmatchedRoute = "unmatched";

class HttpMetrics {
 public:
  explicit HttpMetrics(std::shared_ptr<prometheus::Registry> registry);

  // Counts one answered request; seconds < 0 (time unknown) skips the histogram. Thread-safe,
  // as is every method here.
  void observe(std::string_view route, std::string_view method, int status, double seconds) const;

  void connection_opened() const { connections_->Increment(); }
  void connection_closed() const { connections_->Decrement(); }
  // reason: "max_connections", "per_source", "fd_limit", "bad_proxy", "tls_handshake".
  void connection_refused(std::string_view reason) const;

  const std::shared_ptr<prometheus::Registry>& registry() const { return registry_; }
  // The whole registry in the Prometheus text exposition format (version 0.0.4).
  std::string text() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* requests_;
  prometheus::Family<prometheus::Histogram>* duration_;
  prometheus::Gauge* connections_;
  prometheus::Family<prometheus::Counter>* refused_;
};

}  // namespace cloudlink::control::http
