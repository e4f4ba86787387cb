#include "control/http/transport.h"

#include <openssl/err.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

namespace cloudlink::control::http {

namespace {

Io socket_result(ssize_t n) {
  if (n > 0) return Io::done(static_cast<size_t>(n));
  if (n == 0) return Io::closed();
  if (errno == EAGAIN || errno == EWOULDBLOCK) return Io::want_read();
  return Io::error();
}

}  // namespace

bool Transport::start_tls(SSL_CTX* context) {
  ssl_.reset(SSL_new(context));
  if (!ssl_ || SSL_set_fd(ssl_.get(), fd_.get()) != 1) {
    ssl_.reset();
    ERR_clear_error();
    return false;
  }
  SSL_set_mode(ssl_.get(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                               SSL_MODE_RELEASE_BUFFERS);
  SSL_set_accept_state(ssl_.get());
  return true;
}

Io Transport::tls_result(int result, size_t bytes) {
  if (result == 1) return Io::done(bytes);
  const int error = SSL_get_error(ssl_.get(), result);
  // The thread's error queue must be empty before the next call on any connection.
  ERR_clear_error();
  switch (error) {
    case SSL_ERROR_WANT_READ:
      return Io::want_read();
    case SSL_ERROR_WANT_WRITE:
      return Io::want_write();
    case SSL_ERROR_ZERO_RETURN:
      return Io::closed();
    case SSL_ERROR_SYSCALL:
      // No errno: the peer closed the socket without close_notify. Treated as an end, since
      // every request here is framed by its own Content-Length.
      return errno == 0 ? Io::closed() : Io::error();
    default:
      return Io::error();
  }
}

Io Transport::handshake() {
  ERR_clear_error();
  errno = 0;
  return tls_result(SSL_do_handshake(ssl_.get()), 0);
}

Io Transport::read(char* out, size_t capacity) {
  if (!ssl_) {
    ssize_t n;
    do {
      n = ::recv(fd_.get(), out, capacity, 0);
    } while (n < 0 && errno == EINTR);
    return socket_result(n);
  }
  ERR_clear_error();
  errno = 0;
  size_t n = 0;
  const int result = SSL_read_ex(ssl_.get(), out, capacity, &n);
  return tls_result(result, n);
}

Io Transport::write(const char* data, size_t size) {
  if (!ssl_) {
    ssize_t n;
    do {
      n = ::send(fd_.get(), data, size, MSG_NOSIGNAL | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return Io::want_write();
    if (n <= 0) return Io::error();
    return Io::done(static_cast<size_t>(n));
  }
  ERR_clear_error();
  errno = 0;
  size_t n = 0;
  const int result = SSL_write_ex(ssl_.get(), data, size, &n);
  return tls_result(result, n);
}

Io Transport::peek(char* out, size_t capacity) {
  ssize_t n;
  do {
    n = ::recv(fd_.get(), out, capacity, MSG_PEEK);
  } while (n < 0 && errno == EINTR);
  return socket_result(n);
}

Io Transport::discard(size_t n) {
  char scratch[16384];
  size_t taken = 0;
  while (taken < n) {
    ssize_t got;
    do {
      got = ::recv(fd_.get(), scratch, std::min(sizeof scratch, n - taken), 0);
    } while (got < 0 && errno == EINTR);
    Io io = socket_result(got);
    if (io.status != Io::Status::kDone) {
      io.bytes = taken;
      return io;
    }
    taken += io.bytes;
  }
  return Io::done(taken);
}

void Transport::shutdown_write() {
  if (ssl_ && SSL_is_init_finished(ssl_.get())) {
    ERR_clear_error();
    SSL_shutdown(ssl_.get());  // queues close_notify; the peer's is not waited for
    ERR_clear_error();
  }
  ::shutdown(fd_.get(), SHUT_WR);
}

}  // namespace cloudlink::control::http
