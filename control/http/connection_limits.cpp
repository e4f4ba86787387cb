#include "control/http/connection_limits.h"

#include <cstring>

namespace cloudlink::control::http {

namespace {

// IPv4 as its v4-mapped IPv6 form, so a dual-stack listener counts one client once.
std::array<uint8_t, 16> address_key(const SocketAddress& address) {
  std::array<uint8_t, 16> key{};
  const sockaddr* sa = address.sockaddr_ptr();
  if (address.family() == AF_INET) {
    key[10] = 0xff;
    key[11] = 0xff;
    std::memcpy(key.data() + 12, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, 4);
  } else if (address.family() == AF_INET6) {
    std::memcpy(key.data(), &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, 16);
  }
  return key;
}

}  // namespace

size_t ConnectionLimits::KeyHash::operator()(const std::array<uint8_t, 16>& key) const {
  uint64_t a = 0;
  uint64_t b = 0;
  std::memcpy(&a, key.data(), 8);
  std::memcpy(&b, key.data() + 8, 8);
  return static_cast<size_t>((a * 0x9E3779B97F4A7C15ull) ^ (b + 0x632BE59BD9B4E019ull));
}

ConnectionLimits::SourceTicket& ConnectionLimits::SourceTicket::operator=(
    SourceTicket&& other) noexcept {
  if (this != &other) {
    release();
    owner_ = other.owner_;
    key_ = other.key_;
    other.owner_ = nullptr;
  }
  return *this;
}

void ConnectionLimits::SourceTicket::release() {
  if (owner_ != nullptr) owner_->give_back(key_);
  owner_ = nullptr;
}

ConnectionLimits::SourceTicket ConnectionLimits::try_source(const SocketAddress& source) {
  SourceTicket ticket;
  const auto key = address_key(source);
  uint32_t& count = per_source_[key];
  if (count >= max_per_source_) {
    if (count == 0) per_source_.erase(key);
    return ticket;
  }
  ++count;
  ticket.owner_ = this;
  ticket.key_ = key;
  return ticket;
}

void ConnectionLimits::give_back(const std::array<uint8_t, 16>& key) {
  auto it = per_source_.find(key);
  if (it == per_source_.end()) return;
  if (--it->second == 0) per_source_.erase(it);
}

}  // namespace cloudlink::control::http
