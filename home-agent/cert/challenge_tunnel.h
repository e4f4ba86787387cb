// The agent's own path for HTTP-01: an ACME challenge responder on a loopback port of the home
// and one SSH connection whose reverse forward (127.0.0.1:tunnel_port on the VPS) leads to it,
// so the CA's request goes dataplane :80 -> sshd -> this process. The tunnel is the same code
// `run` uses (home-agent/tunnel), on its own thread, for the length of one order.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "common/acme/challenge_server.h"
#include "common/result.h"
#include "home-agent/status/status_board.h"
#include "home-agent/tunnel/ssh_connect.h"

namespace cloudlink::home {

class ChallengeTunnel {
 public:
  // Starts both and returns once sshd listens on tunnel_port for us; an error with the
  // tunnel's last problem after timeout, or at once when the host key changed or cancelled()
  // says stop. libssh must be initialised (ssh_init) by the caller.
  static Result<std::unique_ptr<ChallengeTunnel>> open(const SshTarget& ssh, uint16_t tunnel_port,
                                                       std::chrono::milliseconds timeout,
                                                       const std::function<bool()>& cancelled);
  ~ChallengeTunnel();  // closes the SSH connection (sshd stops listening), then the responder
  ChallengeTunnel(const ChallengeTunnel&) = delete;
  ChallengeTunnel& operator=(const ChallengeTunnel&) = delete;

  acme::ChallengeResponder& responder() { return *responder_; }

 private:
  ChallengeTunnel() = default;
  Result<void> wait_up(std::chrono::milliseconds timeout, const std::function<bool()>& cancelled);

  std::unique_ptr<acme::HttpChallengeServer> responder_;
  StatusBoard board_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> fatal_{false};
  std::string fatal_message_;  // written before fatal_ is set
  std::thread thread_;
};

}  // namespace cloudlink::home
