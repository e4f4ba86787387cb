#include "control/http/connection.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>

namespace cloudlink::control::http {

namespace {

// Set while a request is handled when its connection must close after the response. A
// connection is served start to end by one pool thread, so a thread_local is per request.
thread_local bool tls_close_connection = false;

using Clock = std::chrono::steady_clock;

int millis_until(Clock::time_point deadline, std::chrono::seconds cap) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return static_cast<int>(std::clamp<int64_t>(left.count(), 0, cap.count() * 1000));
}

bool wait_for(int fd, short events, int timeout_ms) {
  pollfd p{fd, events, 0};
  int n;
  do {
    n = ::poll(&p, 1, timeout_ms);
  } while (n < 0 && errno == EINTR);
  return n > 0;
}

// The library's Stream over one accepted socket, with a buffered read (its line reader reads
// byte by byte) and, besides the per-call read/write timeouts, a deadline for the whole
// request: a client that trickles a byte just before each timeout is still cut off.
class DeadlineStream final : public httplib::Stream {
 public:
  // ssl: the connection's TLS session (the socket is then non-blocking), or null.
  DeadlineStream(int fd, const ServerOptions& options, SSL* ssl = nullptr)
      : fd_(fd), options_(options), ssl_(ssl) {}

  void start_request() { deadline_ = Clock::now() + options_.request_timeout; }
  // Bytes of a pipelined next request already read from the socket (or decrypted).
  bool has_buffered() const { return begin_ < end_ || (ssl_ != nullptr && SSL_pending(ssl_) > 0); }

  bool is_readable() const override {
    return has_buffered() || wait_for(fd_, POLLIN, millis_until(deadline_, options_.read_timeout));
  }

  // The TLS handshake, within the request deadline.
  bool handshake() {
    start_request();
    for (;;) {
      ERR_clear_error();
      const int r = SSL_accept(ssl_);
      if (r == 1) return true;
      if (!wait_ssl(SSL_get_error(ssl_, r))) return false;
    }
  }
  bool is_writable() const override {
    return wait_for(fd_, POLLOUT, millis_until(deadline_, options_.write_timeout));
  }

  ssize_t read(char* ptr, size_t size) override {
    if (begin_ == end_) {
      ssize_t n = ssl_ != nullptr ? ssl_read() : plain_read();
      if (n <= 0) return n;
      begin_ = 0;
      end_ = static_cast<size_t>(n);
    }
    size_t n = std::min(size, end_ - begin_);
    std::memcpy(ptr, buffer_ + begin_, n);
    begin_ += n;
    return static_cast<ssize_t>(n);
  }

  ssize_t write(const char* ptr, size_t size) override {
    if (ssl_ == nullptr) {
      if (!is_writable()) return -1;
      return ::send(fd_, ptr, size, MSG_NOSIGNAL);
    }
    if (size == 0) return 0;
    for (;;) {
      ERR_clear_error();
      const int n = SSL_write(ssl_, ptr, static_cast<int>(std::min<size_t>(size, 1 << 30)));
      if (n > 0) return n;
      if (!wait_ssl(SSL_get_error(ssl_, n))) return -1;
    }
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    if (::getpeername(fd_, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
      address_text(address, ip, port);
    }
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
      address_text(address, ip, port);
    }
  }
  socket_t socket() const override { return fd_; }

 private:
  static void address_text(const sockaddr_storage& address, std::string& ip, int& port) {
    char text[INET6_ADDRSTRLEN] = {};
    if (address.ss_family == AF_INET) {
      const auto* v4 = reinterpret_cast<const sockaddr_in*>(&address);
      ::inet_ntop(AF_INET, &v4->sin_addr, text, sizeof text);
      port = ntohs(v4->sin_port);
    } else if (address.ss_family == AF_INET6) {
      const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&address);
      ::inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof text);
      port = ntohs(v6->sin6_port);
    }
    ip = text;
  }

  ssize_t plain_read() {
    if (!is_readable()) return -1;
    return ::recv(fd_, buffer_, sizeof buffer_, 0);
  }

  ssize_t ssl_read() {
    for (;;) {
      ERR_clear_error();
      const int n = SSL_read(ssl_, buffer_, sizeof buffer_);
      if (n > 0) return n;
      const int error = SSL_get_error(ssl_, n);
      if (error == SSL_ERROR_ZERO_RETURN) return 0;  // close_notify
      if (!wait_ssl(error)) return -1;
    }
  }

  // After an SSL call returned error: waits for what OpenSSL needs, within the deadline and
  // the per-call timeouts; false when it cannot go on (a real error, or time is up).
  bool wait_ssl(int error) const {
    if (error == SSL_ERROR_WANT_READ) {
      return wait_for(fd_, POLLIN, millis_until(deadline_, options_.read_timeout));
    }
    if (error == SSL_ERROR_WANT_WRITE) {
      return wait_for(fd_, POLLOUT, millis_until(deadline_, options_.write_timeout));
    }
    return false;
  }

  int fd_;
  const ServerOptions& options_;
  SSL* ssl_;
  Clock::time_point deadline_ = Clock::now();
  char buffer_[4096];
  size_t begin_ = 0;
  size_t end_ = 0;
};

// cpp-httplib 0.11 with our own connection loop: the library's loop keeps a connection open
// after an answer it gave without reading the whole request (an oversized body, a broken
// chunked body), so the bytes that follow would be parsed as the next request; and its
// timeouts are per read, not per request. The loop is the library's otherwise: keep-alive
// up to a count, each request parsed and routed by the library's process_request().
class ControlHttpServer final : public httplib::Server {
 public:
  ControlHttpServer(const ServerOptions& options, const std::unique_ptr<TlsContext>& tls)
      : options_(options), tls_(tls) {}

 private:
  bool process_and_close_socket(socket_t sock) override {
    if (!tls_) return serve(sock, nullptr);
    std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(tls_->current().get()), SSL_free);
    bool ok = false;
    if (ssl && SSL_set_fd(ssl.get(), sock) == 1) {
      ::fcntl(sock, F_SETFL, ::fcntl(sock, F_GETFL) | O_NONBLOCK);
      ok = serve(sock, ssl.get());
      // Best effort: a close_notify, without waiting for the peer's.
      if (ok) SSL_shutdown(ssl.get());
    }
    ::shutdown(sock, SHUT_RDWR);
    ::close(sock);
    return ok;
  }

  // The keep-alive loop over one connection; closes it only when plain (TLS closes after).
  bool serve(socket_t sock, SSL* ssl) {
    DeadlineStream stream(sock, options_, ssl);
    if (ssl != nullptr && !stream.handshake()) return false;
    bool ok = true;
    for (size_t left = options_.keep_alive_max_requests; left > 0; --left) {
      if (!stream.has_buffered() && !wait_for_request(sock)) break;
      stream.start_request();
      bool connection_closed = false;
      tls_close_connection = false;
      ok = process_request(stream, left == 1, connection_closed, nullptr);
      if (!ok || connection_closed || tls_close_connection) break;
    }
    if (ssl == nullptr) {
      ::shutdown(sock, SHUT_RDWR);
      ::close(sock);
    }
    return ok;
  }

  // Waits for the first byte of the next request, at most keep_alive_timeout, in short
  // slices so stop() does not wait for idle connections.
  bool wait_for_request(int fd) const {
    const auto deadline = Clock::now() + options_.keep_alive_timeout;
    while (is_running()) {
      int slice = std::min(millis_until(deadline, options_.keep_alive_timeout), 100);
      if (wait_for(fd, POLLIN, slice)) return true;
      if (Clock::now() >= deadline) return false;
    }
    return false;
  }

  const ServerOptions& options_;
  const std::unique_ptr<TlsContext>& tls_;
};

}  // namespace

std::unique_ptr<httplib::Server> make_library_server(const ServerOptions& options,
                                                     const std::unique_ptr<TlsContext>& tls) {
  return std::make_unique<ControlHttpServer>(options, tls);
}

void close_after_response() { tls_close_connection = true; }

}  // namespace cloudlink::control::http
