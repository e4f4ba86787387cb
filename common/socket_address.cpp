#include "common/socket_address.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstdio>
#include <cstring>

namespace cloudlink {
namespace {

// Port text: 1..5 decimal digits, value 1..65535, nothing else.
bool parse_port(std::string_view text, uint16_t& port) {
  if (text.empty() || text.size() > 5) return false;
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return false;
  if (value == 0 || value > 65535) return false;
  port = static_cast<uint16_t>(value);
  return true;
}

// inet_pton wants a NUL-terminated string; copy into a bounded stack buffer.
bool parse_ip(int family, std::string_view text, void* out) {
  char buf[INET6_ADDRSTRLEN + 1];
  if (text.empty() || text.size() >= sizeof buf) return false;
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  return ::inet_pton(family, buf, out) == 1;
}

}  // namespace

Result<SocketAddress> SocketAddress::parse(std::string_view text) {
  SocketAddress address;
  std::string_view host;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) {
      return invalid("address '" + std::string(text) + "': missing ']' after IPv6 address");
    }
    if (close + 1 >= text.size() || text[close + 1] != ':') {
      return invalid("address '" + std::string(text) + "': expected ':PORT' after ']'");
    }
    host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
    if (!parse_ip(AF_INET6, host, &address.storage_.v6.sin6_addr)) {
      return invalid("address '" + std::string(text) + "': invalid IPv6 address");
    }
    address.storage_.v6.sin6_family = AF_INET6;
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return invalid("address '" + std::string(text) + "': expected IP:PORT or [IPv6]:PORT");
    }
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return invalid("address '" + std::string(text) + "': IPv6 addresses need brackets");
    }
    if (!parse_ip(AF_INET, host, &address.storage_.v4.sin_addr)) {
      return invalid("address '" + std::string(text) + "': invalid IPv4 address");
    }
    address.storage_.v4.sin_family = AF_INET;
  }
  uint16_t port = 0;
  if (!parse_port(port_text, port)) {
    return invalid("address '" + std::string(text) + "': port must be 1..65535");
  }
  if (address.family() == AF_INET) {
    address.storage_.v4.sin_port = htons(port);
  } else {
    address.storage_.v6.sin6_port = htons(port);
  }
  return address;
}

SocketAddress SocketAddress::from_sockaddr(const sockaddr* sa, socklen_t length) {
  SocketAddress address;
  if (sa == nullptr || length < static_cast<socklen_t>(sizeof(sa_family_t))) return address;
  if (sa->sa_family == AF_INET && length >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
    std::memcpy(&address.storage_.v4, sa, sizeof(sockaddr_in));
  } else if (sa->sa_family == AF_INET6 && length >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
    std::memcpy(&address.storage_.v6, sa, sizeof(sockaddr_in6));
  }
  return address;
}

uint16_t SocketAddress::port() const {
  switch (family()) {
    case AF_INET:
      return ntohs(storage_.v4.sin_port);
    case AF_INET6:
      return ntohs(storage_.v6.sin6_port);
    default:
      return 0;
  }
}

socklen_t SocketAddress::length() const {
  switch (family()) {
    case AF_INET:
      return sizeof(sockaddr_in);
    case AF_INET6:
      return sizeof(sockaddr_in6);
    default:
      return 0;
  }
}

size_t SocketAddress::format(char* out, size_t capacity) const {
  if (capacity == 0) return 0;
  char ip[INET6_ADDRSTRLEN];
  char text[kMaxTextLength];
  int written = 0;
  if (family() == AF_INET) {
    ::inet_ntop(AF_INET, &storage_.v4.sin_addr, ip, sizeof ip);
    written = std::snprintf(text, sizeof text, "%s:%u", ip, port());
  } else if (family() == AF_INET6) {
    ::inet_ntop(AF_INET6, &storage_.v6.sin6_addr, ip, sizeof ip);
    written = std::snprintf(text, sizeof text, "[%s]:%u", ip, port());
  }
  size_t length = written > 0 ? static_cast<size_t>(written) : 0;
  if (length > capacity - 1) length = capacity - 1;
  std::memcpy(out, text, length);
  out[length] = '\0';
  return length;
}

std::string SocketAddress::to_string() const {
  char text[kMaxTextLength];
  size_t length = format(text, sizeof text);
  return std::string(text, length);
}

// Compares family, address and port only: sin_zero, flow info and scope are not identity.
bool SocketAddress::operator==(const SocketAddress& other) const {
  if (family() != other.family()) return false;
  switch (family()) {
    case AF_INET:
      return storage_.v4.sin_port == other.storage_.v4.sin_port &&
             storage_.v4.sin_addr.s_addr == other.storage_.v4.sin_addr.s_addr;
    case AF_INET6:
      return storage_.v6.sin6_port == other.storage_.v6.sin6_port &&
             std::memcmp(&storage_.v6.sin6_addr, &other.storage_.v6.sin6_addr, sizeof(in6_addr)) ==
                 0;
    default:
      return true;
  }
}

}  // namespace cloudlink
