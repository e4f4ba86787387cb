// `cloudlink-control serve`: the REST API on one listener until SIGINT/SIGTERM.
//
// The route set is the standard one (GET /api/health, GET /api/openapi.json, GET /metrics)
// plus whatever ServeOptions::add_routes registers: the REST API registers its own
// (control/api/serve_api.h).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "common/result.h"
#include "control/http/server.h"

namespace cloudlink::control {

struct ServeOptions {
  std::string data_dir = "/var/lib/cloudlink";  // state::kDefaultDataDir
  std::string listen = "127.0.0.1:8000";        // ADDR:PORT, [v6]:PORT; port 0 picks a free one
  http::ServerOptions server;
  // --metrics-listen: ADDR:PORT of a plain-HTTP listener serving only /metrics (then the API
  // listener does not serve it); empty: /metrics on the API listener.
  std::string metrics_listen;
  // Registers the API's own routes (called once, before the listener opens).
  std::function<Result<void>(http::Server&)> add_routes;
  // Called once the listener is bound (with the port bound), before serving, on a thread
  // whose stop signals are blocked; an error ends the start (printed, exit code 1).
  std::function<Result<void>(uint16_t port)> on_bound;
};

// Splits "1.2.3.4:80" / "[::1]:80" into the host the server binds and the port (0 allowed).
Result<std::pair<std::string, uint16_t>> parse_listen(const std::string& listen);

// Raises RLIMIT_NOFILE's soft limit to the hard one, so thousands of sockets fit, and returns
// max_connections, lowered (and logged) when the descriptors left cannot hold that many.
uint32_t fit_descriptor_limit(uint32_t max_connections);

// Serves until SIGINT or SIGTERM; prints `listening on ADDR:PORT` on stderr once bound. Under
// systemd (common/service_notify.h): READY=1 once bound, STOPPING=1 at the signal, and the
// watchdog pinged from the connection loop itself when the unit sets WatchdogSec=.
// Before anything else, fits the connection limit to the descriptors (fit_descriptor_limit).
// Returns the process exit code (0 after a signal, 1 on a start-up error, printed).
int run_serve(const ServeOptions& options);

}  // namespace cloudlink::control
