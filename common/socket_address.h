// An IPv4 or IPv6 address with a port, held inline (no heap), convertible to and from sockaddr.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace cloudlink {

class SocketAddress {
 public:
  // Longest text form: "[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]:65535" plus NUL.
  static constexpr size_t kMaxTextLength = 56;

  SocketAddress() = default;

  // Parses "1.2.3.4:80" or "[::1]:443". Port 1..65535 is required; no names are resolved.
  static Result<SocketAddress> parse(std::string_view text);
  // Copies an AF_INET/AF_INET6 sockaddr; any other family yields an empty address.
  static SocketAddress from_sockaddr(const sockaddr* sa, socklen_t length);

  bool empty() const { return family() == AF_UNSPEC; }
  int family() const { return storage_.any.sa_family; }
  uint16_t port() const;
  const sockaddr* sockaddr_ptr() const { return &storage_.any; }
  socklen_t length() const;

  // Writes the text form into out without allocating; returns the length written
  // (truncated to capacity - 1, always NUL-terminated when capacity > 0).
  size_t format(char* out, size_t capacity) const;
  std::string to_string() const;

  bool operator==(const SocketAddress& other) const;

 private:
  union Storage {
    sockaddr any;
    sockaddr_in v4;
    sockaddr_in6 v6;
  };
  Storage storage_{};
};

}  // namespace cloudlink
