// The control API's HTTP server: a route table (control/http/router.h) served by control's own
// connection loop (control/http/http_loop.h). Every answer, including the loop's own
// (malformed request, oversized head or body, timeout) and a handler's exception, is JSON
// {"error":{"code","message"}} with its status. Requests are counted per route pattern in
// HttpMetrics.
//
// Limits (ServerOptions, from LoopOptions): a silent, trickling or slow-reading client holds a
// deadline on a list, never a thread; the request head is at most 16 KiB (431), a body at
// most max_body_bytes (413, refused before it is read); connections are bounded overall and
// per client address; handlers run on `threads` threads behind a bounded queue (503 beyond).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"
#include "control/http/http_metrics.h"
#include "control/http/loop_options.h"
#include "control/http/message.h"
#include "control/http/openapi.h"
#include "control/http/route.h"
#include "control/http/router.h"
#include "control/http/site.h"

namespace cloudlink::tls {
class TlsContext;
}  // namespace cloudlink::tls

namespace cloudlink::control::http {

using cloudlink::tls::TlsContext;

class HttpLoop;

struct ServerOptions : LoopOptions {
  // HTTPS: a PEM certificate chain and its key (both or neither); reloaded when they change.
  std::string tls_cert_file;
  std::string tls_key_file;
  ApiInfo info;
};

class Server final : private Site {
 public:
  explicit Server(ServerOptions options = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Registers a route; refuses a bad pattern or a (method, pattern) pair seen before.
  // Routes are matched in registration order. Register everything before bind().
  Result<void> add(Route route);
  const std::vector<Route>& routes() const { return routes_; }
  const ServerOptions& options() const { return options_; }

  // The OpenAPI document of the routes registered so far.
  nlohmann::json openapi() const;
  HttpMetrics& metrics() { return metrics_; }

  // The whole pipeline after HTTP parsing: route lookup (404/405), bearer presence (401),
  // content type (415), size (413), body schema (400), the handler (exceptions → 500).
  // The route label for metrics goes to *route_label when given. Thread-safe.
  Response handle(const RawRequest& request, std::string* route_label = nullptr) const override;

  // Binds host:port (an IP address; port 0: any free port); returns the port bound. With
  // tls_cert_file set, loads the certificate first (an error names the file).
  Result<uint16_t> bind(const std::string& host, uint16_t port);
  // Serves until stop(); returns an error when the loop fails.
  Result<void> run();
  // Stops run() from any thread: closes the listener, lets answers in progress finish.
  void stop();

 private:
  std::string route_label(std::string_view method, std::string_view path) const override;
  void answered(std::string_view route, std::string_view method, int status,
                double seconds) const override;

  ServerOptions options_;
  Router router_;
  std::vector<Route> routes_;
  HttpMetrics metrics_;
  std::unique_ptr<TlsContext> tls_;  // before loop_, which reads it
  std::unique_ptr<HttpLoop> loop_;
};

// The routes every control server has: GET /api/health, GET /api/openapi.json (the
// server's own document) and, with_metrics, GET /metrics (its registry, Prometheus text
// format) on the API listener; without, serve's --metrics-listen serves it instead.
Result<void> add_standard_routes(Server& server, bool with_metrics = true);

}  // namespace cloudlink::control::http
