// The numbers of control's connection loop (control/http/http_loop.h): what a slow, silent or
// hostile client may hold, and for how long. Every wait is a deadline on a list (a timer),
// never a thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "common/cidr.h"

namespace cloudlink::control::http {

struct LoopOptions {
  static constexpr size_t kDefaultMaxBodyBytes = 64 * 1024;
  static constexpr size_t kDefaultMaxHeadBytes = 16 * 1024;

  // The request line and header fields together (431 beyond; 414 when the line alone is).
  size_t max_head_bytes = kDefaultMaxHeadBytes;
  size_t max_body_bytes = kDefaultMaxBodyBytes;  // 413 beyond, before it is read
  // To receive a whole request: from accept for the first one (PROXY header and TLS handshake
  // included), from its first byte for the next ones on a kept-alive connection.
  std::chrono::seconds request_timeout{10};
  // To write a whole answer, however slowly the client reads.
  std::chrono::seconds write_timeout{10};
  // A kept-alive connection waiting for its next request.
  std::chrono::seconds keep_alive_timeout{5};
  size_t keep_alive_max_requests = 100;
  // Handler threads (a handler may block: login runs Argon2id, ~64 MiB each) and the requests
  // that may wait for one (503 beyond).
  size_t threads = 4;
  size_t max_queued_requests = 256;
  // Open connections, all together and per client address (refused beyond: closed at once,
  // plain HTTP after a 503).
  uint32_t max_connections = 4096;
  uint32_t max_connections_per_source = 256;
  // --accept-proxy-from: peers whose connections start with a PROXY v1/v2 header
  // (common/proxy_accept.h).
  std::vector<Cidr> trusted_proxies;
  // Called by the loop itself at least every heartbeat_period while it runs, so a ping to
  // systemd's watchdog proves that the loop which accepts and answers still turns (a timer
  // thread would keep pinging for a wedged loop). Zero period or no function: never.
  std::function<void()> heartbeat;
  std::chrono::microseconds heartbeat_period{0};
};

}  // namespace cloudlink::control::http
