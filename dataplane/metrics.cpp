#include "dataplane/metrics.h"

#include <ctime>
#include <exception>
#include <string>

#include "common/version.h"

namespace cloudlink::dataplane {

namespace {
const prometheus::Histogram::BucketBoundaries kLatencyBuckets{
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
    0.05,   0.1,     0.25,   0.5,   1.0,    2.5,   5.0,  10.0};
constexpr const char* kUpstreamFailureNames[] = {"refused", "timeout", "error"};
}  // namespace

Metrics::Metrics(const Config& config) : registry_(std::make_shared<prometheus::Registry>()) {
  using prometheus::BuildCounter;
  using prometheus::BuildGauge;
  using prometheus::BuildHistogram;
  auto& r = *registry_;
  accepted_ = &BuildCounter()
                   .Name("cloudlink_connections_accepted_total")
                   .Help("Client connections accepted on the TLS listeners")
                   .Register(r)
                   .Add({});
  routed_ = &BuildCounter()
                 .Name("cloudlink_connections_routed_total")
                 .Help("Connections whose ClientHello matched a route and reached a target")
                 .Register(r)
                 .Add({});
  auto& rejected = BuildCounter()
                       .Name("cloudlink_connections_rejected_total")
                       .Help("Connections closed before relaying, by reason")
                       .Register(r);
  auto& closed = BuildCounter()
                     .Name("cloudlink_connections_closed_total")
                     .Help("Connections closed, by result (as in the access log)")
                     .Register(r);
  for (size_t i = 0; i < static_cast<size_t>(CloseResult::kCount); ++i) {
    const auto result = static_cast<CloseResult>(i);
    closed_[i] = &closed.Add({{"result", close_result_name(result)}});
    if (is_rejection(result)) rejected_[i] = &rejected.Add({{"reason", close_result_name(result)}});
  }
  active_ = &BuildGauge()
                 .Name("cloudlink_connections_active")
                 .Help("Client connections open now")
                 .Register(r)
                 .Add({});
  auto& bytes = BuildCounter()
                    .Name("cloudlink_relay_bytes_total")
                    .Help("Bytes relayed, counted from TCP_INFO of the client socket at close")
                    .Register(r);
  bytes_c2t_ = &bytes.Add({{"direction", "client_to_target"}});
  bytes_t2c_ = &bytes.Add({{"direction", "target_to_client"}});
  hello_wait_ = &BuildHistogram()
                     .Name("cloudlink_client_hello_wait_seconds")
                     .Help("Time from accept until the whole ClientHello was read")
                     .Register(r)
                     .Add({}, kLatencyBuckets);
  connect_time_ = &BuildHistogram()
                       .Name("cloudlink_upstream_connect_seconds")
                       .Help("Time to connect to a route target (successful attempts)")
                       .Register(r)
                       .Add({}, kLatencyBuckets);
  auto& failures = BuildCounter()
                       .Name("cloudlink_upstream_failures_total")
                       .Help("Failed connection attempts to route targets, by reason")
                       .Register(r);
  for (size_t i = 0; i < upstream_failures_.size(); ++i) {
    upstream_failures_[i] = &failures.Add({{"reason", kUpstreamFailureNames[i]}});
  }
  sockmap_flows_ = &BuildGauge()
                        .Name("cloudlink_sockmap_flows")
                        .Help("Flows relayed inside the kernel by the BPF sockmap now")
                        .Register(r)
                        .Add({});
  auto& fallbacks =
      BuildCounter()
          .Name("cloudlink_sockmap_fallbacks_total")
          .Help("--relay sockmap could not be used (at start, or for one flow), by reason")
          .Register(r);
  for (size_t i = 0; i < sockmap_fallbacks_.size(); ++i) {
    sockmap_fallbacks_[i] =
        &fallbacks.Add({{"reason", sockmap_fallback_name(static_cast<SockmapFallback>(i))}});
  }
  sockmap_redirect_failures_ =
      &BuildCounter()
           .Name("cloudlink_sockmap_redirect_failures_total")
           .Help(
               "Packets the BPF verdict could not redirect to the peer socket (kept, not dropped)")
           .Register(r)
           .Add({});
  auto& backpressure =
      BuildCounter()
          .Name("cloudlink_sockmap_backpressure_total")
          .Help(
              "Times a sockmap direction moved from in-kernel redirect to the user-space copy "
              "lane because its backlog behind a slow reader reached the budget")
          .Register(r);
  sockmap_backpressure_[0] = &backpressure.Add({{"direction", "client_to_target"}});
  sockmap_backpressure_[1] = &backpressure.Add({{"direction", "target_to_client"}});
  sockmap_lane_overflows_ =
      &BuildCounter()
           .Name("cloudlink_sockmap_lane_overflows_total")
           .Help(
               "Sockmap flows reset because both readers stalled while both writers pushed and "
               "a copy lane outgrew its cap")
           .Register(r)
           .Add({});
  BuildGauge()
      .Name("cloudlink_connections_max")
      .Help("The --max-connections limit, to compare cloudlink_connections_active against")
      .Register(r)
      .Add({})
      .Set(static_cast<double>(config.max_connections));
  BuildGauge()
      .Name("cloudlink_dataplane_info")
      .Help("Always 1; labels carry the version and the settings this process runs with")
      .Register(r)
      .Add({{"version", CLOUDLINK_VERSION},
            {"relay", relay_mode_name(config.relay)},
            {"workers", std::to_string(config.workers)}})
      .Set(1);
  BuildGauge()
      .Name("process_start_time_seconds")
      .Help("Start time of the process since the Unix epoch in seconds")
      .Register(r)
      .Add({})
      .Set(static_cast<double>(std::time(nullptr)));
}

Result<std::unique_ptr<Metrics>> Metrics::create(const Config& config, bool expose) {
  std::unique_ptr<Metrics> m(new Metrics(config));
  if (expose) {
    if (auto r = m->expose(config.metrics_listener); !r) return r.error();
  }
  return m;
}

Result<void> Metrics::expose(const SocketAddress& listen) {
  if (listen.empty()) return ok();
  char text[SocketAddress::kMaxTextLength];
  listen.format(text, sizeof text);
  // prometheus-cpp's exposer (civetweb) reports a bind failure by throwing; this runs at
  // start-up only, so it is caught here and returned as a value.
  try {
    exposer_ = std::make_unique<prometheus::Exposer>(text, 1);
  } catch (const std::exception& e) {
    return Error(EADDRINUSE, std::string("cannot serve /metrics on ") + text + ": " + e.what());
  }
  exposer_->RegisterCollectable(registry_);
  return ok();
}

}  // namespace cloudlink::dataplane
