#include "dataplane/listener.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include "common/log.h"

namespace cloudlink::dataplane {

Result<UniqueFd> open_listener(const SocketAddress& addr) {
  char text[SocketAddress::kMaxTextLength];
  addr.format(text, sizeof text);
  const std::string where = std::string("cannot listen on ") + text;
  UniqueFd fd(::socket(addr.family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return errno_error(where);
  int one = 1;
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
    return errno_error(where);
  }
  if (addr.family() == AF_INET6) {
    ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  }
  if (::bind(fd.get(), addr.sockaddr_ptr(), addr.length()) != 0) return errno_error(where);
  if (::listen(fd.get(), 4096) != 0) return errno_error(where);
  return fd;
}

namespace {

// The address a handed-over socket listens on; empty when it is not a listening TCP socket.
SocketAddress listening_address(int fd) {
  int type = 0;
  int listening = 0;
  socklen_t len = sizeof type;
  if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM) return {};
  len = sizeof listening;
  if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening) return {};
  sockaddr_storage sa;
  len = sizeof sa;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0) return {};
  return SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&sa), len);
}

}  // namespace

Result<std::vector<std::vector<ListenerSocket>>> assign_listeners(const Config& config,
                                                                  std::vector<UniqueFd> inherited) {
  std::vector<SocketAddress> bound(inherited.size());
  for (size_t i = 0; i < inherited.size(); ++i) bound[i] = listening_address(inherited[i].get());

  std::vector<std::vector<ListenerSocket>> out(config.workers);
  // TLS listeners first, then HTTP: the same order as the flags.
  for (const bool http : {false, true}) {
    for (const SocketAddress& addr : http ? config.http_listeners : config.tls_listeners) {
      std::vector<UniqueFd> mine;
      for (size_t i = 0; i < inherited.size(); ++i) {
        if (inherited[i] && !bound[i].empty() && bound[i] == addr) {
          mine.push_back(std::move(inherited[i]));
        }
      }
      for (unsigned w = 0; w < config.workers || !mine.empty(); ++w) {
        ListenerSocket socket;
        socket.http = http;
        if (!mine.empty()) {
          socket.fd = std::move(mine.back());
          mine.pop_back();
        } else {
          auto fd = open_listener(addr);
          if (!fd) return fd.error();
          socket.fd = std::move(fd).value();
        }
        out[w % config.workers].push_back(std::move(socket));
      }
    }
  }
  for (size_t i = 0; i < inherited.size(); ++i) {
    if (!inherited[i]) continue;
    const std::string what = bound[i].empty() ? "not a listening TCP socket" : bound[i].to_string();
    log_line("handover: closing a handed-over listener no longer configured (%s)", what.c_str());
  }
  return out;
}

}  // namespace cloudlink::dataplane
