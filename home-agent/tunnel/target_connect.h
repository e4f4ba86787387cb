// A TCP connection to the home's local service, non-blocking once connected, TCP_NODELAY.
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"
#include "common/unique_fd.h"

namespace cloudlink::home {

// Resolves host (a name or an address) and connects, waiting at most timeout_ms. Called on a
// tunnel's thread: the target is on the home's own network, so a connect is quick or refused.
Result<UniqueFd> connect_target(const std::string& host, uint16_t port, int timeout_ms);

}  // namespace cloudlink::home
