#include "home-agent/tls/tls_relay.h"

#include <openssl/err.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>

#include "common/tls/openssl_error.h"

namespace cloudlink::home {
namespace {

constexpr int kIdlePollMs = 500;

short events_for(int ssl_error) { return ssl_error == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN; }

bool wants_io(int ssl_error) {
  return ssl_error == SSL_ERROR_WANT_READ || ssl_error == SSL_ERROR_WANT_WRITE;
}

// A peer that closed the TCP connection without close_notify: an end, not a failure (curl and
// browsers often do it).
bool unexpected_eof(int ssl_error) {
  const unsigned long code = ERR_peek_error();
  ERR_clear_error();
  if (ssl_error == SSL_ERROR_SYSCALL && code == 0) return true;
  return ssl_error == SSL_ERROR_SSL && ERR_GET_REASON(code) == SSL_R_UNEXPECTED_EOF_WHILE_READING;
}

std::string ssl_error_text() { return openssl_error_text("the connection ended"); }

}  // namespace

Result<void> TlsRelay::handshake(std::chrono::milliseconds timeout, const std::atomic<bool>& stop) {
  SSL_set_fd(ssl_.get(), client_.get());
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!stop.load()) {
    const int result = SSL_accept(ssl_.get());
    if (result == 1) return ok();
    const int error = SSL_get_error(ssl_.get(), result);
    if (!wants_io(error)) return Error(EPROTO, "TLS handshake: " + ssl_error_text());
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return Error(ETIMEDOUT, "TLS handshake: no ClientHello in time");
    pollfd fd{client_.get(), events_for(error), 0};
    ::poll(&fd, 1, static_cast<int>(std::min<long long>(left.count(), kIdlePollMs)));
  }
  return Error(ECANCELED, "TLS handshake: stopping");
}

bool TlsRelay::client_to_target() {
  bool moved = false;
  if (!client_eof_ && to_target_length_ == 0) {
    const int n = SSL_read(ssl_.get(), to_target_, sizeof to_target_);
    if (n > 0) {
      to_target_length_ = static_cast<size_t>(n);
      to_target_offset_ = 0;
      moved = true;
    } else if (const int error = SSL_get_error(ssl_.get(), n); wants_io(error)) {
      client_events_ |= events_for(error);
    } else if (error == SSL_ERROR_ZERO_RETURN || unexpected_eof(error)) {
      client_eof_ = moved = true;
    } else {
      failed_ = true;
      return true;
    }
  }
  if (to_target_offset_ < to_target_length_) {
    const ssize_t n = ::send(target_.get(), to_target_ + to_target_offset_,
                             to_target_length_ - to_target_offset_, MSG_NOSIGNAL);
    if (n > 0) {
      to_target_offset_ += static_cast<size_t>(n);
      if (to_target_offset_ == to_target_length_) to_target_length_ = to_target_offset_ = 0;
      moved = true;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
      target_events_ |= POLLOUT;
    } else {
      failed_ = true;
      return true;
    }
  }
  if (client_eof_ && to_target_length_ == 0 && !target_shut_) {
    ::shutdown(target_.get(), SHUT_WR);
    target_shut_ = moved = true;
  }
  return moved;
}

bool TlsRelay::target_to_client() {
  bool moved = false;
  if (!target_eof_ && to_client_length_ == 0) {
    const ssize_t n = ::recv(target_.get(), to_client_, sizeof to_client_, 0);
    if (n > 0) {
      to_client_length_ = static_cast<size_t>(n);
      moved = true;
    } else if (n == 0) {
      target_eof_ = moved = true;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
      target_events_ |= POLLIN;
    } else {
      failed_ = true;
      return true;
    }
  }
  if (to_client_length_ > 0) {
    // Without SSL_MODE_ENABLE_PARTIAL_WRITE a write succeeds whole or is retried whole.
    const int n = SSL_write(ssl_.get(), to_client_, static_cast<int>(to_client_length_));
    if (n > 0) {
      to_client_length_ = 0;
      moved = true;
    } else if (const int error = SSL_get_error(ssl_.get(), n); wants_io(error)) {
      client_events_ |= events_for(error);
    } else {
      ERR_clear_error();
      failed_ = true;
      return true;
    }
  }
  if (target_eof_ && to_client_length_ == 0 && !notify_sent_) {
    const int n = SSL_shutdown(ssl_.get());
    if (n < 0 && SSL_get_error(ssl_.get(), n) == SSL_ERROR_WANT_WRITE) {
      client_events_ |= POLLOUT;
    } else {
      ERR_clear_error();
      notify_sent_ = moved = true;
    }
  }
  return moved;
}

bool TlsRelay::step() {
  client_events_ = target_events_ = 0;
  const bool in = client_to_target();
  const bool out = !failed_ && target_to_client();
  return in || out;
}

bool TlsRelay::done() const {
  return failed_ || (client_eof_ && target_shut_ && target_eof_ && notify_sent_);
}

void TlsRelay::run(UniqueFd target, const std::atomic<bool>& stop) {
  target_ = std::move(target);
  while (!stop.load() && !done()) {
    if (step()) continue;
    pollfd fds[2] = {{client_.get(), client_events_, 0}, {target_.get(), target_events_, 0}};
    ::poll(fds, 2, kIdlePollMs);
  }
}

}  // namespace cloudlink::home
