// One connection the agent terminates TLS for: the handshake with the VPS side (the tunnel's
// bytes, arriving on a loopback socket) using a server context, then plain bytes to the
// service and back, with half-close both ways: the client's close_notify (or FIN) becomes
// shutdown(SHUT_WR) toward the service, the service's FIN becomes close_notify. The SSL object
// keeps the context it started with, so a certificate reloaded meanwhile changes nothing for
// connections already open.
#pragma once

#include <openssl/ssl.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "common/result.h"
#include "common/unique_fd.h"

namespace cloudlink::home {

struct SslDeleter {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};
using SslPtr = std::unique_ptr<SSL, SslDeleter>;

class TlsRelay {
 public:
  // client must be non-blocking.
  TlsRelay(SslPtr ssl, UniqueFd client) : ssl_(std::move(ssl)), client_(std::move(client)) {}

  // The server handshake, within timeout (an error saying why not).
  Result<void> handshake(std::chrono::milliseconds timeout, const std::atomic<bool>& stop);

  // Relays until both directions ended, one failed, or stop. target must be non-blocking.
  void run(UniqueFd target, const std::atomic<bool>& stop);

 private:
  static constexpr size_t kChunk = 16 * 1024;  // one TLS record

  bool step();  // moves what can move now; true when anything did
  bool client_to_target();
  bool target_to_client();
  bool done() const;

  SslPtr ssl_;
  UniqueFd client_;
  UniqueFd target_;
  char to_target_[kChunk];
  size_t to_target_length_ = 0;
  size_t to_target_offset_ = 0;
  char to_client_[kChunk];  // stays put while SSL_write is retried
  size_t to_client_length_ = 0;
  bool client_eof_ = false;
  bool target_shut_ = false;
  bool target_eof_ = false;
  bool notify_sent_ = false;
  bool failed_ = false;
  short client_events_ = 0;  // what the client socket must become for the next step
  short target_events_ = 0;
};

}  // namespace cloudlink::home
