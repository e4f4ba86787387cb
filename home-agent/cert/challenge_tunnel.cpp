#include "home-agent/cert/challenge_tunnel.h"

#include "home-agent/tunnel/tunnel.h"

namespace cloudlink::home {

Result<std::unique_ptr<ChallengeTunnel>> ChallengeTunnel::open(
    const SshTarget& ssh, uint16_t tunnel_port, std::chrono::milliseconds timeout,
    const std::function<bool()>& cancelled) {
  std::unique_ptr<ChallengeTunnel> tunnel(new ChallengeTunnel());
  auto responder = acme::HttpChallengeServer::start("127.0.0.1", 0);
  if (!responder) return responder.error();
  tunnel->responder_ = std::move(*responder);

  TunnelSpec spec;
  spec.ssh = ssh;
  spec.service.hostname = "acme-challenge";
  spec.service.target_host = "127.0.0.1";
  spec.service.target_port = tunnel->responder_->port();
  spec.service.tunnel_ports = {tunnel_port};
  spec.tunnel_port = tunnel_port;
  spec.board_index = tunnel->board_.add("acme-challenge", spec.service.target(), tunnel_port);
  ChallengeTunnel* self = tunnel.get();
  tunnel->thread_ = std::thread([self, spec] {
    run_tunnel(spec, self->board_, self->stop_, [self](const std::string& message) {
      self->fatal_message_ = message;
      self->fatal_.store(true);
    });
  });
  if (auto up = tunnel->wait_up(timeout, cancelled); !up) return up.error();
  return tunnel;
}

ChallengeTunnel::~ChallengeTunnel() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
}

Result<void> ChallengeTunnel::wait_up(std::chrono::milliseconds timeout,
                                      const std::function<bool()>& cancelled) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    const TunnelSnapshot now = board_.snapshot().front();
    if (now.state == TunnelState::kUp) return ok();
    if (fatal_.load()) return Error(std::error_code(), fatal_message_);
    if (cancelled && cancelled()) return Error(ECANCELED, "cert: stopped");
    if (std::chrono::steady_clock::now() >= deadline) {
      return Error(ETIMEDOUT, "the challenge tunnel on port " + std::to_string(now.tunnel_port) +
                                  " did not come up" +
                                  (now.last_error.empty() ? "" : ": " + now.last_error));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace cloudlink::home
