// `cloudlink-home run`: one thread per tunnel (libssh sessions are not thread-safe, so each
// thread owns its session outright); the main thread waits for SIGINT/SIGTERM and rewrites the
// status file on every state change and every few seconds.
#include <libssh/libssh.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "common/log.h"
#include "home-agent/cert/certificate_keeper.h"
#include "home-agent/commands/commands.h"
#include "home-agent/keys/keygen.h"
#include "home-agent/status/status_board.h"
#include "home-agent/status/status_file.h"
#include "home-agent/tls/tls_services.h"
#include "home-agent/tunnel/tunnel.h"

namespace cloudlink::home {

namespace {

constexpr auto kStatusEvery = std::chrono::seconds(3);

// Start-up checks whose failure stops the agent with one line: the config and the key.
Result<std::vector<TunnelSpec>> plan_tunnels(const std::string& config_path,
                                             const RunOptions& options, StatusBoard& board) {
  auto config = load_agent_config(config_path);
  if (!config.ok()) return config.error();
  auto runnable = require_runnable(*config, config_path);
  if (!runnable.ok()) return runnable.error();
  SshTarget target{*config->ssh, resolve_key_path(config_path, config->ssh->private_key)};
  auto key = public_key_of(target.private_key_path);
  if (!key.ok()) {
    return Error(std::error_code(), config_path + ": ssh.private_key: " + key.error().message());
  }
  std::vector<TunnelSpec> specs;
  for (const auto& service : config->services) {
    for (int k = 0; k < service.connections; ++k) {
      TunnelSpec spec{target, service, service.tunnel_ports[k], 0,
                      KeepaliveSettings::every(std::chrono::seconds(options.keepalive_seconds))};
      spec.board_index =
          board.add(service.hostname + "#" + std::to_string(k), service.target(), spec.tunnel_port);
      specs.push_back(std::move(spec));
    }
  }
  return specs;
}

class StatusWriter {
 public:
  StatusWriter(std::string path, const StatusBoard& board)
      : path_(std::move(path)), board_(board) {}

  // Rewrites the file when a state changed or kStatusEvery passed.
  void maybe_write() {
    auto now = std::chrono::steady_clock::now();
    if (board_.version() == written_version_ && now - written_at_ < kStatusEvery) return;
    write(true);
  }
  void write(bool running) {
    written_version_ = board_.version();
    written_at_ = std::chrono::steady_clock::now();
    auto done = write_status_file(path_, ::getpid(), running, board_.snapshot());
    if (!done.ok() && !warned_) {
      log_warn("status file: %s", done.error().message().c_str());
      warned_ = true;
    }
  }

 private:
  std::string path_;
  const StatusBoard& board_;
  uint64_t written_version_ = ~uint64_t{0};
  std::chrono::steady_clock::time_point written_at_{};
  bool warned_ = false;
};

}  // namespace

int run_command(const std::string& config_path, const RunOptions& options) {
  StatusBoard board;
  auto specs = plan_tunnels(config_path, options, board);
  if (!specs.ok()) {
    log_error("%s", specs.error().message().c_str());
    return kExitConfig;
  }
  // Signals go to this thread only (sigtimedwait below); the tunnel threads inherit the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  // Before the tunnels (and after the signal mask, which its threads inherit): the services
  // with terminate_tls get their terminator as target.
  auto terminators = terminate_tls(config_path, *specs);
  if (!terminators.ok()) {
    log_error("%s", terminators.error().message().c_str());
    return kExitFailure;
  }
  ssh_init();

  std::atomic<bool> stop{false};
  std::atomic<bool> fatal_seen{false};
  auto fatal = [&](const std::string& message) {
    // Every tunnel may hit the same changed key: say it once.
    if (!fatal_seen.exchange(true)) log_error("%s", message.c_str());
    stop.store(true);
  };
  log_line("running %zu tunnel(s) from %s", specs->size(), config_path.c_str());
  std::vector<std::thread> threads;
  for (const auto& spec : *specs) {
    threads.emplace_back([&, spec] { run_tunnel(spec, board, stop, fatal); });
  }
  // Temporary mappings left by an interrupted order, then certificate renewals.
  auto certificates = start_certificate_keeper(config_path);
  StatusWriter status(status_path_for(config_path), board);
  timespec tick{0, 200 * 1000 * 1000};
  while (!stop.load()) {
    int sig = sigtimedwait(&signals, nullptr, &tick);
    if (sig == SIGINT || sig == SIGTERM) {
      log_line("stopping (signal %d)", sig);
      stop.store(true);
    }
    status.maybe_write();
  }
  for (auto& thread : threads) thread.join();
  certificates.reset();
  status.write(false);
  ssh_finalize();
  return fatal_seen.load() ? kExitHostKeyChanged : kExitOk;
}

}  // namespace cloudlink::home
