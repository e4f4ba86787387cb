// `terminate_tls: true` for one service: a listener on 127.0.0.1 (any free port) that the
// service's tunnels point at instead of the service. Each connection gets a thread: the TLS
// handshake with the newest certificate in CERTIFICATES/HOSTNAME (re-read when the files
// change, common/tls/tls_context.h: a renewed certificate reaches new connections, open ones
// keep theirs), then a connection to the service and plain bytes both ways (tls_relay.h).
// Until a certificate that loads is there, connections are closed at once (logged once per
// change of the reason).
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/result.h"
#include "common/tls/tls_context.h"
#include "common/unique_fd.h"
#include "home-agent/cert/cert_files.h"

namespace cloudlink::home {

class TlsTerminator {
 public:
  static Result<std::unique_ptr<TlsTerminator>> start(std::string hostname, CertificatePaths paths,
                                                      std::string target_host,
                                                      uint16_t target_port);
  // Stops accepting, ends the open connections and waits for their threads.
  ~TlsTerminator();
  TlsTerminator(const TlsTerminator&) = delete;
  TlsTerminator& operator=(const TlsTerminator&) = delete;

  uint16_t port() const { return port_; }

 private:
  TlsTerminator(std::string hostname, CertificatePaths paths, std::string target_host,
                uint16_t target_port);
  void accept_loop();
  void serve(UniqueFd client);
  tls::SslCtxPtr context();  // the newest certificate, or null while there is none

  std::string hostname_;
  CertificatePaths paths_;
  std::string target_host_;
  uint16_t target_port_;
  UniqueFd listener_;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::condition_variable idle_;
  size_t active_ = 0;                     // connection threads alive (under mutex_)
  std::unique_ptr<tls::TlsContext> tls_;  // under mutex_; null until the files first load
  std::string last_problem_;              // under mutex_
  std::thread acceptor_;
};

}  // namespace cloudlink::home
