// A TCP connection to the home's local service, made without blocking the tunnel's thread:
// each resolved address is tried in turn with a non-blocking connect; the socket is
// non-blocking and has TCP_NODELAY.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"

namespace cloudlink::home {

class TargetConnector {
 public:
  enum class State { kPending, kConnected, kFailed };

  // Resolves host (an address, or a name: /etc/hosts names such as localhost do not wait on
  // the network) and starts connecting to the first address. An error when none can start.
  static Result<TargetConnector> start(const std::string& host, uint16_t port);

  // Where the connect is: call when fd() polls writable (or at any time). A failed address
  // moves on to the next one (kPending again); kFailed once every address failed.
  State check();

  // The socket to poll for POLLOUT while pending.
  int fd() const { return fd_.get(); }
  // The connected socket (after kConnected).
  UniqueFd take() { return std::move(fd_); }
  // Why the last address failed ("connect 127.0.0.1:8443: Connection refused").
  const std::string& error() const { return error_; }
  const std::string& where() const { return where_; }

 private:
  struct Address {
    sockaddr_storage storage;
    socklen_t length;
  };

  bool start_next();

  std::vector<Address> addresses_;
  size_t next_ = 0;
  UniqueFd fd_;
  std::string where_;
  std::string error_;
};

}  // namespace cloudlink::home
