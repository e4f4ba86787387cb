// The SSH server's host key, fetched once at registration (trust on first use): connect with
// libssh, finish the key exchange, export the key the server proved it holds. No user
// authentication is attempted and no known_hosts or ssh_config file is read or written.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "common/result.h"

namespace cloudlink::home {

// The host key algorithms offered, best first (libssh's default order); `run` must offer the
// same list so that the server shows it the key it compares against.
inline constexpr const char* kHostKeyAlgorithms =
    "ssh-ed25519,ecdsa-sha2-nistp521,ecdsa-sha2-nistp384,ecdsa-sha2-nistp256,rsa-sha2-512,"
    "rsa-sha2-256";

// "ssh-ed25519 AAAA..." (type and base64, no comment) of host:port's host key.
Result<std::string> fetch_host_key(const std::string& host, uint16_t port,
                                   std::chrono::seconds timeout = std::chrono::seconds(10));

}  // namespace cloudlink::home
