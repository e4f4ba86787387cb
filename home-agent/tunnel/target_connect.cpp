#include "home-agent/tunnel/target_connect.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <memory>

namespace cloudlink::home {

namespace {

struct AddrInfoDeleter {
  void operator()(addrinfo* info) const { ::freeaddrinfo(info); }
};

Result<UniqueFd> connect_one(const addrinfo* ai, int timeout_ms, const std::string& where) {
  UniqueFd fd(
      ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol));
  if (!fd) return errno_error("socket for " + where);
  int one = 1;
  // Small first writes (a TLS ClientHello) must leave at once, not wait for an ACK.
  ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (::connect(fd.get(), ai->ai_addr, ai->ai_addrlen) == 0) return fd;
  if (errno != EINPROGRESS) return errno_error("connect " + where);
  pollfd p{fd.get(), POLLOUT, 0};
  int ready = ::poll(&p, 1, timeout_ms);
  if (ready == 0) return Error(ETIMEDOUT, "connect " + where);
  if (ready < 0) return errno_error("connect " + where);
  int error = 0;
  socklen_t length = sizeof error;
  ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &length);
  if (error != 0) return Error(error, "connect " + where);
  return fd;
}

}  // namespace

Result<UniqueFd> connect_target(const std::string& host, uint16_t port, int timeout_ms) {
  std::string where =
      (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* raw = nullptr;
  int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &raw);
  if (rc != 0) return Error(std::error_code(), "resolve " + where + ": " + ::gai_strerror(rc));
  std::unique_ptr<addrinfo, AddrInfoDeleter> list(raw);
  Result<UniqueFd> last = Error(ENOENT, "resolve " + where);
  for (const addrinfo* ai = list.get(); ai != nullptr; ai = ai->ai_next) {
    last = connect_one(ai, timeout_ms, where);
    if (last.ok()) return last;
  }
  return last;
}

}  // namespace cloudlink::home
