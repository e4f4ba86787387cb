#include "common/cidr.h"

#include <arpa/inet.h>

#include <cstring>

namespace cloudlink {
namespace {

// The leading prefix bits of a and b are equal.
bool prefix_equal(const uint8_t* a, const uint8_t* b, unsigned prefix) {
  const unsigned whole = prefix / 8;
  if (std::memcmp(a, b, whole) != 0) return false;
  const unsigned rest = prefix % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<uint8_t>(0xFF << (8 - rest));
  return (a[whole] & mask) == (b[whole] & mask);
}

constexpr uint8_t kV4MappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};

}  // namespace

Result<Cidr> Cidr::parse(std::string_view text) {
  const std::string whole(text);
  const size_t slash = text.find('/');
  const std::string address(text.substr(0, slash));
  Cidr out;
  if (inet_pton(AF_INET, address.c_str(), out.bytes_.data()) == 1) {
    out.v4_ = true;
    out.prefix_ = 32;
  } else if (inet_pton(AF_INET6, address.c_str(), out.bytes_.data()) == 1) {
    out.v4_ = false;
    out.prefix_ = 128;
  } else {
    return invalid(whole + ": not an IPv4 or IPv6 address");
  }
  if (slash != std::string_view::npos) {
    const std::string_view digits = text.substr(slash + 1);
    if (digits.empty() || digits.size() > 3 || (digits.size() > 1 && digits[0] == '0')) {
      return invalid(whole + ": bad prefix length");
    }
    unsigned prefix = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') return invalid(whole + ": bad prefix length");
      prefix = prefix * 10 + static_cast<unsigned>(c - '0');
    }
    if (prefix > out.prefix_) return invalid(whole + ": prefix longer than the address");
    out.prefix_ = prefix;
  }
  const unsigned size = out.v4_ ? 4 : 16;
  for (unsigned bit = out.prefix_; bit < size * 8; ++bit) {
    if ((out.bytes_[bit / 8] >> (7 - bit % 8)) & 1) {
      return invalid(whole + ": host bits set (the network is " + [&] {
        Cidr network = out;
        for (unsigned b = out.prefix_; b < size * 8; ++b) {
          network.bytes_[b / 8] &= static_cast<uint8_t>(~(1u << (7 - b % 8)));
        }
        return network.to_string();
      }() + ")");
    }
  }
  return out;
}

bool Cidr::contains(const SocketAddress& address) const {
  if (address.family() == AF_INET) {
    if (!v4_) return false;
    const auto* sa = reinterpret_cast<const sockaddr_in*>(address.sockaddr_ptr());
    return prefix_equal(reinterpret_cast<const uint8_t*>(&sa->sin_addr), bytes_.data(), prefix_);
  }
  if (address.family() == AF_INET6) {
    const auto* sa = reinterpret_cast<const sockaddr_in6*>(address.sockaddr_ptr());
    const auto* bytes = reinterpret_cast<const uint8_t*>(&sa->sin6_addr);
    if (!v4_) return prefix_equal(bytes, bytes_.data(), prefix_);
    if (std::memcmp(bytes, kV4MappedPrefix, sizeof kV4MappedPrefix) != 0) return false;
    return prefix_equal(bytes + 12, bytes_.data(), prefix_);
  }
  return false;
}

std::string Cidr::to_string() const {
  char text[INET6_ADDRSTRLEN];
  inet_ntop(v4_ ? AF_INET : AF_INET6, bytes_.data(), text, sizeof text);
  return std::string(text) + "/" + std::to_string(prefix_);
}

}  // namespace cloudlink
