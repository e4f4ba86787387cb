// Listening sockets: one SO_REUSEPORT socket per worker and address, so the kernel spreads
// new connections across workers that share nothing.
#pragma once

#include <vector>

#include "common/result.h"
#include "common/socket_address.h"
#include "common/unique_fd.h"
#include "dataplane/config.h"

namespace cloudlink::dataplane {

// Binds and listens on addr with SO_REUSEPORT. The error names the address.
Result<UniqueFd> open_listener(const SocketAddress& addr);

struct ListenerSocket {
  UniqueFd fd;
  bool http = false;  // a --listen-http socket (routed by Host), else TLS (routed by SNI)
};

// The listeners of each of config.workers workers. Sockets handed over by a predecessor
// (handover.h) are reused for the configured address they are bound to, every one of them:
// closing one would reset the connections waiting in its accept queue. A worker gets more than
// one socket of an address when the predecessor had more workers; an address with fewer
// sockets than workers gets new SO_REUSEPORT ones beside them. A handed-over socket that no
// configured address names any more is closed, with a log line.
Result<std::vector<std::vector<ListenerSocket>>> assign_listeners(const Config& config,
                                                                  std::vector<UniqueFd> inherited);

}  // namespace cloudlink::dataplane
