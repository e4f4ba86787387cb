// The certificate a TLS service presents for a name, read the way a client gets it: connect,
// (PROXY v2 header when the route asks the dataplane for one), TLS ClientHello with the name
// as SNI, and the leaf certificate's notAfter once the handshake is through. Nothing is
// verified (an expiring or self-signed certificate is exactly what this is for) and nothing
// is sent after the handshake. Blocking, bounded by timeout for each step.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "common/result.h"
#include "common/socket_address.h"

namespace cloudlink::control::probe {

// The leaf certificate's notAfter (unix seconds) of the TLS service at target for sni.
Result<int64_t> certificate_expiry(const SocketAddress& target, const std::string& sni,
                                   bool proxy_v2, std::chrono::milliseconds timeout);

}  // namespace cloudlink::control::probe
