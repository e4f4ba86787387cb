// Control API metrics: cloudlink_control_http_requests_total{route,method,status} and
// cloudlink_control_http_request_duration_seconds{route}. `route` is a registered pattern or
// "unmatched", `method` one of the few the HTTP library parses, `status` a status code: every
// label is bounded, whatever paths clients send.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
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

  // Counts one answered request; seconds < 0 (time unknown) skips the histogram.
  void observe(std::string_view route, std::string_view method, int status, double seconds);

  const std::shared_ptr<prometheus::Registry>& registry() const { return registry_; }
  // The whole registry in the Prometheus text exposition format (version 0.0.4).
  std::string text() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* requests_;
  prometheus::Family<prometheus::Histogram>* duration_;
};

}  // namespace cloudlink::control::http
