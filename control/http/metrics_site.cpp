#include "control/http/metrics_site.h"

#include "common/log.h"

namespace cloudlink::control::http {
namespace {

LoopOptions scraper_limits() {
  LoopOptions options;
  options.max_head_bytes = 8 * 1024;
  options.max_body_bytes = 0;
  options.threads = 1;
  options.max_queued_requests = 16;
  // Within the descriptors serve keeps aside for everything but the API's connections.
  options.max_connections = 16;
  options.max_connections_per_source = 8;
  return options;
}

}  // namespace

Result<std::unique_ptr<MetricsSite>> MetricsSite::start(const std::string& host, uint16_t port,
                                                        std::function<std::string()> text) {
  std::unique_ptr<MetricsSite> site(new MetricsSite(std::move(text)));
  const Site& served = *site;
  site->loop_ = std::make_unique<HttpLoop>(scraper_limits(), served, nullptr, nullptr);
  auto bound = site->loop_->bind(host, port);
  if (!bound) return Error(bound.error().code(), "--metrics-listen: " + bound.error().context());
  site->port_ = bound.value();
  HttpLoop* loop = site->loop_.get();
  site->thread_ = std::thread([loop] {
    if (auto served = loop->run(); !served) {
      log_error("metrics listener stopped: %s", served.error().message().c_str());
    }
  });
  return site;
}

MetricsSite::~MetricsSite() {
  if (loop_) loop_->stop();
  if (thread_.joinable()) thread_.join();
}

std::string MetricsSite::route_label(std::string_view, std::string_view path) const {
  return path == "/metrics" || path == "/api/health" ? std::string(path) : "unmatched";
}

Response MetricsSite::handle(const RawRequest& request, std::string* route_label_out) const {
  *route_label_out = route_label(request.method, request.path);
  if (request.method != "GET" && request.method != "HEAD") {
    Response refused = Response::error(405, "method_not_allowed", "only GET is served here");
    refused.headers.emplace_back("Allow", "GET, HEAD");
    return refused;
  }
  if (request.path == "/metrics") {
    return Response::raw(200, "text/plain; version=0.0.4; charset=utf-8", text_());
  }
  if (request.path == "/api/health") return Response::ok({{"status", "ok"}});
  return Response::error(404, "not_found", "this listener serves /metrics only");
}

}  // namespace cloudlink::control::http
