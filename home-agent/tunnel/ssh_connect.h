// One authenticated SSH connection to the VPS: TCP_NODELAY, the server's host key checked
// against the configured one before anything else is sent, public-key authentication.
#pragma once

#include <string>

#include "common/result.h"
#include "home-agent/config/agent_config.h"
#include "home-agent/tunnel/ssh_handles.h"

namespace cloudlink::home {

// Why a connection attempt failed: a changed host key is never retried.
enum class ConnectFailure { kTransient, kHostKeyChanged };

struct ConnectError {
  ConnectFailure kind;
  std::string message;
};

struct SshTarget {
  SshConfig ssh;
  std::string private_key_path;  // resolved against the config's folder
};

// Connects and authenticates (blocking, bounded by timeout_seconds). On success the session
// is still in blocking mode.
SshSession ssh_connect_verified(const SshTarget& target, int timeout_seconds, ConnectError* error);

}  // namespace cloudlink::home
