// `run`'s TLS termination: one TlsTerminator per service with terminate_tls, and that
// service's tunnels pointed at it instead of at the service.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "home-agent/tls/tls_terminator.h"
#include "home-agent/tunnel/tunnel.h"

namespace cloudlink::home {

// Starts the terminators the config at config_path asks for and rewrites the targets of
// their services' specs. Keep the result alive for as long as the tunnels run.
Result<std::vector<std::unique_ptr<TlsTerminator>>> terminate_tls(const std::string& config_path,
                                                                  std::vector<TunnelSpec>& specs);

}  // namespace cloudlink::home
