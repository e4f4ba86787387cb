#include "control/probe/certificate_probe.h"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <array>
#include <cerrno>
#include <ctime>
#include <memory>

#include "common/proxy_v2.h"
#include "common/tls/openssl_error.h"
#include "common/unique_fd.h"

namespace cloudlink::control::probe {
namespace {

struct SslCtxFree {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
struct SslFree {
  void operator()(SSL* s) const { SSL_free(s); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};

std::string ssl_reason() { return openssl_error_text("the connection ended during the handshake"); }

Result<UniqueFd> connect_within(const SocketAddress& target, std::chrono::milliseconds timeout) {
  UniqueFd fd(::socket(target.family(), SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return errno_error("socket");
  if (::connect(fd.get(), target.sockaddr_ptr(), target.length()) != 0) {
    if (errno != EINPROGRESS) return errno_error("connect " + target.to_string());
    pollfd p{fd.get(), POLLOUT, 0};
    int ready = ::poll(&p, 1, static_cast<int>(timeout.count()));
    if (ready == 0) return Error(ETIMEDOUT, "connect " + target.to_string());
    int error = 0;
    socklen_t length = sizeof error;
    ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &length);
    if (ready < 0 || error != 0) {
      return Error(ready < 0 ? errno : error, "connect " + target.to_string());
    }
  }
  return fd;
}

// SSL_connect on the non-blocking socket until done or the deadline: a service that trickles
// its handshake a byte at a time still costs at most the timeout.
Result<void> handshake_by(SSL* ssl, int fd, std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    int rc = SSL_connect(ssl);
    if (rc == 1) return ok();
    int error = SSL_get_error(ssl, rc);
    if (error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) {
      return Error(EPROTO, ssl_reason());
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{fd, static_cast<short>(error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT), 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
      return Error(ETIMEDOUT, "the handshake took too long");
    }
  }
}

Result<void> send_proxy_header(int fd, const SocketAddress& target) {
  sockaddr_storage local{};
  socklen_t length = sizeof local;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) != 0) {
    return errno_error("getsockname");
  }
  std::array<uint8_t, kProxyV2MaxHeaderLength> header{};
  size_t n = encode_proxy_v2(
      SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&local), length), target, header);
  if (n == 0 || ::send(fd, header.data(), n, MSG_NOSIGNAL) != static_cast<ssize_t>(n)) {
    return Error(EIO, "PROXY header to " + target.to_string());
  }
  return ok();
}

}  // namespace

Result<int64_t> certificate_expiry(const SocketAddress& target, const std::string& sni,
                                   bool proxy_v2, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto fd = connect_within(target, timeout);
  if (!fd) return fd.error();
  if (proxy_v2) {
    if (auto sent = send_proxy_header(fd->get(), target); !sent) return sent.error();
  }
  std::unique_ptr<SSL_CTX, SslCtxFree> ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) return Error(ENOMEM, "SSL_CTX_new");
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  std::unique_ptr<SSL, SslFree> ssl(SSL_new(ctx.get()));
  if (!ssl || SSL_set_fd(ssl.get(), fd->get()) != 1 ||
      SSL_set_tlsext_host_name(ssl.get(), sni.c_str()) != 1) {
    return Error(EIO, "TLS to " + sni + ": " + ssl_reason());
  }
  if (auto shaken = handshake_by(ssl.get(), fd->get(), deadline); !shaken) {
    return Error(shaken.error().code(),
                 "TLS to " + sni + " at " + target.to_string() + ": " + shaken.error().context());
  }
  std::unique_ptr<X509, X509Free> leaf(SSL_get1_peer_certificate(ssl.get()));
  if (!leaf) return Error(EPROTO, "TLS to " + sni + ": no certificate");
  std::tm tm{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(leaf.get()), &tm) != 1) {
    return Error(EPROTO, "TLS to " + sni + ": unreadable notAfter");
  }
  return static_cast<int64_t>(::timegm(&tm));
}

}  // namespace cloudlink::control::probe
