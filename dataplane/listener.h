// Listening sockets: one SO_REUSEPORT socket per worker and address, so the kernel spreads
// new connections across workers that share nothing.
#pragma once

#include "common/result.h"
#include "common/socket_address.h"
#include "common/unique_fd.h"

namespace cloudlink::dataplane {

// Binds and listens on addr with SO_REUSEPORT. The error names the address.
Result<UniqueFd> open_listener(const SocketAddress& addr);

}  // namespace cloudlink::dataplane
