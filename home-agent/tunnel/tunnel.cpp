#include "home-agent/tunnel/tunnel.h"

#include <thread>

#include "home-agent/tunnel/backoff.h"

namespace cloudlink::home {

namespace {

constexpr int kConnectTimeoutSeconds = 10;
constexpr auto kStableAfter = std::chrono::seconds(10);

// Sleeps for delay, waking early when stop is set.
void pause(std::chrono::milliseconds delay, const std::atomic<bool>& stop) {
  auto until = std::chrono::steady_clock::now() + delay;
  while (!stop.load() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace

void run_tunnel(const TunnelSpec& spec, StatusBoard& board, const std::atomic<bool>& stop,
                const FatalHandler& fatal) {
  Backoff backoff;
  const size_t index = spec.board_index;
  while (!stop.load()) {
    board.set_state(index, TunnelState::kConnecting);
    ConnectError error{ConnectFailure::kTransient, ""};
    SshSession session = ssh_connect_verified(spec.ssh, kConnectTimeoutSeconds, &error);
    if (!session) {
      if (error.kind == ConnectFailure::kHostKeyChanged) {
        board.set_state(index, TunnelState::kStopped, error.message, /*log=*/false);
        fatal(error.message);
        return;
      }
      board.set_state(index, TunnelState::kRetrying, error.message);
      pause(backoff.next(), stop);
      continue;
    }
    // A listener left by a dead session of ours may hold the port until sshd notices (its
    // ClientAlive timeout): the refusal is retried like any other failure.
    if (ssh_channel_listen_forward(session.get(), "127.0.0.1", spec.tunnel_port, nullptr) !=
        SSH_OK) {
      board.set_state(
          index, TunnelState::kRetrying,
          "the server refused to listen on 127.0.0.1:" + std::to_string(spec.tunnel_port) + " (" +
              ssh_get_error(session.get()) + ")");
      pause(backoff.next(), stop);
      continue;
    }
    ssh_set_blocking(session.get(), 0);
    board.set_state(index, TunnelState::kUp);
    auto up_since = std::chrono::steady_clock::now();
    std::string why =
        serve_forwards(session.get(), spec.service, board, index, stop, spec.keepalive);
    // Only a connection that stayed up a while earns a fast retry: one that the server drops
    // right after the bind (a flapping sshd, a home deleted mid-session) keeps backing off.
    if (std::chrono::steady_clock::now() - up_since >= kStableAfter) backoff.reset();
    if (stop.load()) break;
    board.set_state(index, TunnelState::kRetrying, why);
    pause(backoff.next(), stop);
  }
  board.set_state(index, TunnelState::kStopped);
}

}  // namespace cloudlink::home
