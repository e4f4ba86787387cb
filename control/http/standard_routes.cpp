#include "control/http/server.h"

namespace cloudlink::control::http {

Result<void> add_standard_routes(Server& server, bool with_metrics) {
  Route health;
  health.pattern = "/api/health";
  health.summary = "Liveness: the server answers";
  health.tag = "meta";
  health.responses = {{200, "The server is up: {\"status\":\"ok\"}"}};
  health.handler = [](const Request&) { return Response::ok({{"status", "ok"}}); };
  if (auto added = server.add(std::move(health)); !added) return added;

  Route openapi;
  openapi.pattern = "/api/openapi.json";
  openapi.summary = "This API's OpenAPI 3 document, built from the registered routes";
  openapi.tag = "meta";
  openapi.responses = {{200, "The OpenAPI document"}};
  openapi.handler = [&server](const Request&) { return Response::ok(server.openapi()); };
  if (auto added = server.add(std::move(openapi)); !added) return added;
  if (!with_metrics) return ok();

  Route metrics;
  metrics.pattern = "/metrics";
  metrics.summary = "Prometheus metrics (text exposition format 0.0.4)";
  metrics.tag = "meta";
  metrics.responses = {{200, "The metrics"}};
  metrics.handler = [&server](const Request&) {
    return Response::raw(200, "text/plain; version=0.0.4; charset=utf-8", server.metrics().text());
  };
  return server.add(std::move(metrics));
}

}  // namespace cloudlink::control::http
