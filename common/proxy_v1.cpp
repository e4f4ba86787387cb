#include "common/proxy_v1.h"

#include <arpa/inet.h>

#include <cstring>
#include <string>
#include <string_view>

namespace cloudlink {
namespace {

constexpr std::string_view kPrefix = "PROXY ";

ProxyParseStatus fail(const char** error, const char* why) {
  if (error != nullptr) *error = why;
  return ProxyParseStatus::kInvalid;
}

// The next space-separated field of line starting at at; advances at past its space.
std::string_view field(std::string_view line, size_t& at) {
  size_t end = line.find(' ', at);
  if (end == std::string_view::npos) end = line.size();
  std::string_view out = line.substr(at, end - at);
  at = end + 1;
  return out;
}

bool parse_port(std::string_view text, uint16_t& port) {
  if (text.empty() || text.size() > 5 || (text.size() > 1 && text[0] == '0')) return false;
  uint32_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<uint32_t>(c - '0');
  }
  if (value > 65535) return false;
  port = static_cast<uint16_t>(value);
  return true;
}

// inet_pton into a SocketAddress of family with port.
bool make_address(int family, std::string_view text, uint16_t port, SocketAddress& out) {
  char buffer[INET6_ADDRSTRLEN + 1];
  if (text.empty() || text.size() >= sizeof buffer) return false;
  text.copy(buffer, text.size());
  buffer[text.size()] = '\0';
  if (family == AF_INET) {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    if (inet_pton(AF_INET, buffer, &sa.sin_addr) != 1) return false;
    out = SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  } else {
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    sa.sin6_port = htons(port);
    if (inet_pton(AF_INET6, buffer, &sa.sin6_addr) != 1) return false;
    out = SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  }
  return true;
}

}  // namespace

ProxyParseStatus decode_proxy_v1(std::span<const uint8_t> bytes, ProxyV2Header& out,
                                 const char** error) {
  const std::string_view data(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  const size_t prefix = std::min(data.size(), kPrefix.size());
  if (data.substr(0, prefix) != kPrefix.substr(0, prefix)) {
    return fail(error, "PROXY v1: no \"PROXY \" prefix");
  }
  const std::string_view window = data.substr(0, std::min(data.size(), kProxyV1MaxLength));
  const size_t lf = window.find('\n');
  if (lf == std::string_view::npos) {
    for (size_t i = 0; i < window.size(); ++i) {
      const auto c = static_cast<uint8_t>(window[i]);
      const bool cr_last = c == '\r' && i + 1 == window.size();
      if ((c < 0x20 || c > 0x7e) && !cr_last) return fail(error, "PROXY v1: bad character");
    }
    if (data.size() >= kProxyV1MaxLength) return fail(error, "PROXY v1: longer than 107 bytes");
    return ProxyParseStatus::kNeedMore;
  }
  if (lf == 0 || window[lf - 1] != '\r') return fail(error, "PROXY v1: line does not end in CRLF");
  const std::string_view line = window.substr(0, lf - 1);
  for (char c : line) {
    const auto u = static_cast<uint8_t>(c);
    if (u < 0x20 || u > 0x7e) return fail(error, "PROXY v1: bad character");
  }
  size_t at = kPrefix.size();
  const std::string_view protocol = field(line, at);
  out = ProxyV2Header{};
  out.length = lf + 1;
  if (protocol == "UNKNOWN") {
    // The sender could not tell; the receiver keeps the connection's own addresses.
    out.local_command = true;
    return ProxyParseStatus::kComplete;
  }
  int family = 0;
  if (protocol == "TCP4") {
    family = AF_INET;
  } else if (protocol == "TCP6") {
    family = AF_INET6;
  } else {
    return fail(error, "PROXY v1: protocol is not TCP4, TCP6 or UNKNOWN");
  }
  if (at > line.size()) return fail(error, "PROXY v1: missing addresses");
  const std::string_view source = field(line, at);
  const std::string_view destination = at <= line.size() ? field(line, at) : std::string_view();
  const std::string_view source_port = at <= line.size() ? field(line, at) : std::string_view();
  const std::string_view destination_port =
      at <= line.size() ? field(line, at) : std::string_view();
  if (at <= line.size()) return fail(error, "PROXY v1: extra fields");
  uint16_t sport = 0;
  uint16_t dport = 0;
  if (!parse_port(source_port, sport) || !parse_port(destination_port, dport)) {
    return fail(error, "PROXY v1: bad port");
  }
  if (!make_address(family, source, sport, out.source) ||
      !make_address(family, destination, dport, out.destination)) {
    return fail(error, "PROXY v1: address does not match the protocol");
  }
  return ProxyParseStatus::kComplete;
}

ProxyParseStatus decode_proxy_header(std::span<const uint8_t> bytes, size_t max_length,
                                     ProxyV2Header& out, const char** error) {
  if (bytes.empty()) return ProxyParseStatus::kNeedMore;
  if (bytes[0] == 'P') return decode_proxy_v1(bytes, out, error);
  if (bytes[0] != '\r') return fail(error, "no PROXY protocol header");
  // A v2 header declares its length in bytes 14-15: refuse one past the cap up front.
  if (bytes.size() >= 16 && 16 + ((size_t{bytes[14]} << 8) | bytes[15]) > max_length) {
    const char* signature_error = nullptr;
    ProxyV2Header ignored;
    if (decode_proxy_v2(bytes.first(16), ignored, &signature_error) == ProxyParseStatus::kInvalid) {
      return fail(error, signature_error);
    }
    return fail(error, "PROXY v2: header longer than accepted");
  }
  return decode_proxy_v2(bytes, out, error);
}

}  // namespace cloudlink
