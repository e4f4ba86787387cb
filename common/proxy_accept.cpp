#include "common/proxy_accept.h"

#include <cstring>

#include "common/proxy_v1.h"

namespace cloudlink {

bool is_trusted_proxy(std::span<const Cidr> trusted, const SocketAddress& peer) {
  for (const Cidr& network : trusted) {
    if (network.contains(peer)) return true;
  }
  return false;
}

ProxyIntakeResult take_proxy_header(std::span<const uint8_t> received, bool trusted) {
  ProxyIntakeResult result;
  if (!trusted) {
    static constexpr uint8_t kV2Signature[] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                               0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
    const bool v1 = received.size() >= 6 && std::memcmp(received.data(), "PROXY ", 6) == 0;
    const bool v2 = received.size() >= sizeof kV2Signature &&
                    std::memcmp(received.data(), kV2Signature, sizeof kV2Signature) == 0;
    if (v1 || v2) {
      result.status = ProxyIntake::kRefused;
      result.reason = "PROXY header from a peer outside --accept-proxy-from";
      return result;
    }
    result.status = ProxyIntake::kNoHeader;
    return result;
  }
  const char* error = "";
  switch (decode_proxy_header(received, kMaxAcceptedProxyHeader, result.header, &error)) {
    case ProxyParseStatus::kNeedMore:
      result.status = ProxyIntake::kNeedMore;
      return result;
    case ProxyParseStatus::kInvalid:
      result.status = ProxyIntake::kRefused;
      result.reason = error != nullptr ? error : "malformed PROXY header";
      return result;
    case ProxyParseStatus::kComplete:
      break;
  }
  result.status = ProxyIntake::kTaken;
  return result;
}

const SocketAddress& proxied_client(const ProxyV2Header& header, const SocketAddress& fallback) {
  if (header.local_command || header.source.empty()) return fallback;
  return header.source;
}

}  // namespace cloudlink
