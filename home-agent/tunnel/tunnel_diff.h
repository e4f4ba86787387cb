// What a reload changes: the running tunnels against the ones the new config wants. A tunnel
// is kept when everything that shapes its behaviour is the same (the SSH endpoint and key,
// keepalive, the service's name and target, TLS termination and where its certificates live,
// its tunnel port), so a reload that touches one service leaves every other tunnel, and the
// connections open through it, alone. A changed `connections:` count starts or stops only the
// tunnels past the old or new count; a changed target restarts that service's tunnels.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace cloudlink::home {

struct TunnelSpec;

// Two tunnels with equal identities behave the same: a running one can stand for a wanted one.
struct TunnelIdentity {
  std::string ssh;  // host, port, user, known host key, resolved private key path
  int64_t keepalive_ms = 0;
  std::string service;  // hostname
  std::string target;   // HOST:PORT as configured (before a TLS terminator is put in front)
  std::string tls;      // terminate_tls: the certificate folder; otherwise ""
  uint16_t tunnel_port = 0;
  bool operator==(const TunnelIdentity&) const = default;
};

// certificates_dir: where the service's certificate would be read from when it terminates TLS.
TunnelIdentity identity_of(const TunnelSpec& spec, const std::string& certificates_dir);

struct TunnelDiff {
  std::vector<size_t> keep;   // indices into running, each standing for one wanted tunnel
  std::vector<size_t> stop;   // indices into running that nothing wanted matches
  std::vector<size_t> start;  // indices into wanted that no running tunnel stands for
};

// Matches each wanted tunnel with at most one equal running tunnel. Output indices ascend.
TunnelDiff diff_tunnels(const std::vector<TunnelIdentity>& running,
                        const std::vector<TunnelIdentity>& wanted);

}  // namespace cloudlink::home
