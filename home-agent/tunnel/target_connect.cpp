#include "home-agent/tunnel/target_connect.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace cloudlink::home {

namespace {

struct AddrInfoDeleter {
  void operator()(addrinfo* info) const { ::freeaddrinfo(info); }
};

}  // namespace

Result<TargetConnector> TargetConnector::start(const std::string& host, uint16_t port) {
  TargetConnector connector;
  connector.where_ =
      (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* raw = nullptr;
  int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &raw);
  if (rc != 0) {
    return Error(std::error_code(), "resolve " + connector.where_ + ": " + ::gai_strerror(rc));
  }
  std::unique_ptr<addrinfo, AddrInfoDeleter> list(raw);
  for (const addrinfo* ai = list.get(); ai != nullptr; ai = ai->ai_next) {
    if (ai->ai_addrlen > sizeof(sockaddr_storage)) continue;
    Address address{};
    std::memcpy(&address.storage, ai->ai_addr, ai->ai_addrlen);
    address.length = ai->ai_addrlen;
    connector.addresses_.push_back(address);
  }
  if (!connector.start_next()) return Error(std::error_code(), connector.error_);
  return connector;
}

bool TargetConnector::start_next() {
  while (next_ < addresses_.size()) {
    const Address& address = addresses_[next_++];
    fd_.reset(::socket(address.storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd_) {
      error_ = "socket for " + where_ + ": " + std::strerror(errno);
      continue;
    }
    int one = 1;
    // Small first writes (a TLS ClientHello) must leave at once, not wait for an ACK.
    ::setsockopt(fd_.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::connect(fd_.get(), reinterpret_cast<const sockaddr*>(&address.storage), address.length) ==
            0 ||
        errno == EINPROGRESS) {
      return true;  // check() sees the result once the socket polls writable
    }
    error_ = "connect " + where_ + ": " + std::strerror(errno);
    fd_.reset();
  }
  if (error_.empty()) error_ = "resolve " + where_ + ": no address";
  return false;
}

TargetConnector::State TargetConnector::check() {
  if (!fd_) return State::kFailed;
  pollfd p{fd_.get(), POLLOUT, 0};
  if (::poll(&p, 1, 0) == 0) return State::kPending;
  int error = 0;
  socklen_t length = sizeof error;
  if (::getsockopt(fd_.get(), SOL_SOCKET, SO_ERROR, &error, &length) != 0) error = errno;
  if (error == 0) return State::kConnected;
  error_ = "connect " + where_ + ": " + std::strerror(error);
  fd_.reset();
  return start_next() ? State::kPending : State::kFailed;
}

}  // namespace cloudlink::home
