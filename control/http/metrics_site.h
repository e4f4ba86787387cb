// `serve --metrics-listen ADDR:PORT`: a second, plain-HTTP listener that serves only
// GET /metrics (and GET /api/health), for a Prometheus on the VPS itself. The API listener
// is reached from the internet through the dataplane (and in production speaks TLS with a
// certificate for the VPS's public name), so a loopback metrics listener is what the shipped
// Prometheus config scrapes; with it, the API listener no longer serves /metrics.
//
// Runs on control's connection loop (control/http/http_loop.h) on a thread of its own, with
// small bounds: a scraper sends small requests, few at once.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "common/result.h"
#include "control/http/http_loop.h"
#include "control/http/site.h"

namespace cloudlink::control::http {

class MetricsSite final : private Site {
 public:
  // Binds host:port and starts serving text() as the metrics (called per scrape, any thread).
  static Result<std::unique_ptr<MetricsSite>> start(const std::string& host, uint16_t port,
                                                    std::function<std::string()> text);
  ~MetricsSite() override;
  MetricsSite(const MetricsSite&) = delete;
  MetricsSite& operator=(const MetricsSite&) = delete;

  uint16_t port() const { return port_; }

 private:
  explicit MetricsSite(std::function<std::string()> text) : text_(std::move(text)) {}
  Response handle(const RawRequest& request, std::string* route_label) const override;
  std::string route_label(std::string_view method, std::string_view path) const override;
  void answered(std::string_view, std::string_view, int, double) const override {}

  std::function<std::string()> text_;
  uint16_t port_ = 0;
  std::unique_ptr<HttpLoop> loop_;
  std::thread thread_;
};

}  // namespace cloudlink::control::http
