// `cloudlink-control serve`: opens the state store (which rebuilds the routes environment from
// state, repairing any crash between a state and a routes commit) and serves the REST API
// on it until SIGINT/SIGTERM.
#pragma once

#include <chrono>
#include <optional>

#include "control/acme/own_certificate.h"
#include "control/api/views.h"
#include "control/serve.h"
#include "control/state/state_store.h"

namespace cloudlink::control::api {

struct ApiServeOptions {
  ServeOptions serve;  // --data, --listen, HTTP limits
  SshEndpoint ssh;     // what new homes are told to connect to
  state::StoreOptions store;
  // A certificate for control's own name from ACME (--acme-hostname), served on the TLS
  // listener (--listen-tls); the listener's files are then the TLS directory's.
  std::optional<acme::OwnCertificateOptions> own_certificate;
  // How often the homes' certificates are read through their tunnels
  // (control/api/home_certificates.h); 0: never.
  std::chrono::seconds home_certificate_interval{3600};
};

// The process exit code: 0 after a signal, 1 when the store or the listener cannot start, 2 when
// the data folder was never initialised (`cloudlink-control init`).
int run_api_serve(ApiServeOptions options);

}  // namespace cloudlink::control::api
