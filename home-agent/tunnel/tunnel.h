// One tunnel: one SSH connection holding one reverse forward (127.0.0.1:<tunnel port> on the
// VPS) for one service, kept up for as long as the agent runs: connect, verify, authenticate,
// bind, serve; after any drop, wait (capped exponential backoff with jitter) and start over.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "home-agent/config/agent_config.h"
#include "home-agent/status/status_board.h"
#include "home-agent/tunnel/serve_forwards.h"
#include "home-agent/tunnel/ssh_connect.h"

namespace cloudlink::home {

struct TunnelSpec {
  SshTarget ssh;
  ServiceConfig service;
  uint16_t tunnel_port = 0;
  size_t board_index = 0;
  KeepaliveSettings keepalive;
};

// Called once per failure that retrying cannot fix (the server's host key changed).
using FatalHandler = std::function<void(const std::string& message)>;

// Runs on its own thread until stop becomes true or a fatal failure.
void run_tunnel(const TunnelSpec& spec, StatusBoard& board, const std::atomic<bool>& stop,
                const FatalHandler& fatal);

}  // namespace cloudlink::home
