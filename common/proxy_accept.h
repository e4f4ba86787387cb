// --accept-proxy-from, shared by the dataplane and control: which peers are trusted load
// balancers, and what the first bytes of a connection say about its PROXY header. A connection
// from a trusted network must start with a PROXY v1 or v2 header (haproxy.org
// proxy-protocol.txt), whose source then becomes the client; from anywhere else a PROXY header
// is refused, so an internet client cannot claim another address.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "common/cidr.h"
#include "common/proxy_v2.h"
#include "common/socket_address.h"

namespace cloudlink {

// More than enough for v2 with a load balancer's TLVs; a longer header is refused.
inline constexpr size_t kMaxAcceptedProxyHeader = 1024;

// True when peer is inside one of the trusted networks.
bool is_trusted_proxy(std::span<const Cidr> trusted, const SocketAddress& peer);

enum class ProxyIntake : uint8_t {
  kNoHeader,  // untrusted peer and no PROXY signature: the bytes are the client's own
  kNeedMore,  // a trusted peer's header is not complete yet (or too few bytes to tell)
  kRefused,   // a trusted peer's header is missing or malformed, or an untrusted peer sent one
  kTaken,     // a trusted peer's header is complete: header.length bytes to drop
};

struct ProxyIntakeResult {
  ProxyIntake status = ProxyIntake::kNeedMore;
  ProxyV2Header header;     // kTaken
  const char* reason = "";  // kRefused: static text for logs
};

// Looks at the first bytes received on a connection (all of them so far; call again with more
// on kNeedMore). trusted: the peer is a trusted load balancer. An untrusted peer's bytes are
// kNoHeader unless they start with "PROXY " or the v2 signature; fewer bytes than a signature
// are kNoHeader too (they cannot be told apart from a short request, and a PROXY header cut
// that short is refused by whatever parses them next).
ProxyIntakeResult take_proxy_header(std::span<const uint8_t> received, bool trusted);

// The client a taken header names: its source, or fallback (the connection's own peer) for
// LOCAL and UNKNOWN, which carry no address.
const SocketAddress& proxied_client(const ProxyV2Header& header, const SocketAddress& fallback);

}  // namespace cloudlink
