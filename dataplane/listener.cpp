#include "dataplane/listener.h"

#include <netinet/in.h>
#include <sys/socket.h>

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

}  // namespace cloudlink::dataplane
