// An IPv4 or IPv6 network ("10.0.0.0/8", "2001:db8::/32", or one address), for the list of
// load balancers whose PROXY header is trusted. An IPv4 network also matches the v4-mapped
// IPv6 form of its addresses (a dual-stack listener sees those).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"
#include "common/socket_address.h"

namespace cloudlink {

class Cidr {
 public:
  // "ADDR/PREFIX" or "ADDR" (a single host); the host bits must be zero ("10.1.0.0/8" is an
  // error naming the network meant, so a typo cannot widen or narrow the list silently).
  static Result<Cidr> parse(std::string_view text);

  bool contains(const SocketAddress& address) const;
  std::string to_string() const;

 private:
  bool v4_ = true;
  std::array<uint8_t, 16> bytes_{};  // v4: the first 4
  unsigned prefix_ = 0;
};

}  // namespace cloudlink
