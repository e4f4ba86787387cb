// The bytes of one accepted, non-blocking socket, plain or through OpenSSL in user space (this
// kernel has no kTLS). Every call returns at once and says how far it got and what it waits
// for, so a connection loop can drive thousands of sockets from one thread.
#pragma once

#include <openssl/ssl.h>

#include <cstddef>
#include <memory>

#include "common/unique_fd.h"

namespace cloudlink::control::http {

struct Io {
  enum class Status { kDone, kWantRead, kWantWrite, kClosed, kError };
  Status status = Status::kDone;
  size_t bytes = 0;  // kDone: how many bytes moved

  static Io done(size_t n) { return {Status::kDone, n}; }
  static Io want_read() { return {Status::kWantRead, 0}; }
  static Io want_write() { return {Status::kWantWrite, 0}; }
  static Io closed() { return {Status::kClosed, 0}; }
  static Io error() { return {Status::kError, 0}; }
};

class Transport {
 public:
  explicit Transport(UniqueFd fd) : fd_(std::move(fd)) {}

  int fd() const { return fd_.get(); }
  bool tls() const { return ssl_ != nullptr; }

  // Starts a TLS session on the socket with context (server side); false when OpenSSL cannot
  // make one. Buffers are released while a connection is idle (SSL_MODE_RELEASE_BUFFERS).
  bool start_tls(SSL_CTX* context);
  // The server side of the handshake; kDone when finished.
  Io handshake();

  // Application bytes, decrypted when TLS. kClosed: the peer's FIN or close_notify.
  Io read(char* out, size_t capacity);
  Io write(const char* data, size_t size);
  // Bytes a TLS session already holds decrypted (a read then needs no new socket data).
  bool has_pending() const { return ssl_ != nullptr && SSL_pending(ssl_.get()) > 0; }

  // The raw socket, under TLS or not: a look at the first bytes without taking them (a PROXY
  // header before TLS), taking exactly n of them, and dropping whatever arrives (a connection
  // that is being closed).
  Io peek(char* out, size_t capacity);
  // kDone when n bytes were dropped; otherwise what stopped it (kWantRead: none left now),
  // with bytes = how many were dropped before.
  Io discard(size_t n);
  // close_notify when TLS (best effort), then FIN: the peer learns the answer is complete.
  void shutdown_write();

 private:
  struct SslFree {
    void operator()(SSL* ssl) const { SSL_free(ssl); }
  };

  Io tls_result(int result, size_t bytes);

  UniqueFd fd_;
  std::unique_ptr<SSL, SslFree> ssl_;  // freed before the fd is closed
};

}  // namespace cloudlink::control::http
