// The life of one established tunnel connection: accept the server's forwarded channels, pump
// each to the local service, keep the connection alive and notice when it is dead.
#pragma once

#include <atomic>
#include <chrono>
#include <string>

#include "home-agent/config/agent_config.h"
#include "home-agent/status/status_board.h"
#include "home-agent/tunnel/ssh_handles.h"

namespace cloudlink::home {

struct KeepaliveSettings {
  // A keepalive request (which the server must answer) goes out this often...
  std::chrono::milliseconds interval{10000};
  // ...and a connection from which nothing arrived for this long is dead.
  std::chrono::milliseconds dead_after{35000};

  // Three unanswered keepalives and a half: a lost reply or two is no reason to reconnect.
  static KeepaliveSettings every(std::chrono::milliseconds interval) {
    return {interval, interval * 7 / 2};
  }
};

// Runs on a session that is connected, has its reverse forward bound and is non-blocking,
// until the connection drops (returns why) or stop becomes true (returns "").
std::string serve_forwards(ssh_session session, const ServiceConfig& service, StatusBoard& board,
                           size_t tunnel, const std::atomic<bool>& stop,
                           const KeepaliveSettings& keepalive);

}  // namespace cloudlink::home
