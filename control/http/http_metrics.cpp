#include "control/http/http_metrics.h"

#include <prometheus/text_serializer.h>

namespace cloudlink::control::http {

namespace {
const prometheus::Histogram::BucketBoundaries kDurationBuckets{
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0};
}  // namespace

HttpMetrics::HttpMetrics(std::shared_ptr<prometheus::Registry> registry)
    : registry_(std::move(registry)) {
  requests_ = &prometheus::BuildCounter()
                   .Name("cloudlink_control_http_requests_total")
                   .Help("Control API requests answered, by route pattern, method and status")
                   .Register(*registry_);
  duration_ = &prometheus::BuildHistogram()
                   .Name("cloudlink_control_http_request_duration_seconds")
                   .Help("Control API request handling time (headers read to response written)")
                   .Register(*registry_);
  connections_ = &prometheus::BuildGauge()
                      .Name("cloudlink_control_http_connections")
                      .Help("Control API connections open now (any phase, TLS handshake included)")
                      .Register(*registry_)
                      .Add({});
  refused_ = &prometheus::BuildCounter()
                  .Name("cloudlink_control_http_connections_refused_total")
                  .Help("Control API connections closed before a request, by reason")
                  .Register(*registry_);
  // Every reason from the start, at 0: a dashboard tells "none" from "not exported".
  for (const char* reason :
       {"max_connections", "per_source", "fd_limit", "bad_proxy", "tls_handshake"}) {
    refused_->Add({{"reason", reason}});
  }
}

void HttpMetrics::connection_refused(std::string_view reason) const {
  refused_->Add({{"reason", std::string(reason)}}).Increment();
}

void HttpMetrics::observe(std::string_view route, std::string_view method, int status,
                          double seconds) const {
  // Family::Add returns the existing child for known labels (a lookup under its mutex).
  requests_
      ->Add({{"route", std::string(route)},
             {"method", std::string(method)},
             {"status", std::to_string(status)}})
      .Increment();
  if (seconds >= 0) {
    duration_->Add({{"route", std::string(route)}}, kDurationBuckets).Observe(seconds);
  }
}

std::string HttpMetrics::text() const {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace cloudlink::control::http
