// `cloudlink-home run`: one thread per tunnel (libssh sessions are not thread-safe, so each
// thread owns its session outright, tunnel_set.h); the main thread waits for signals (SIGHUP:
// reload the config, SIGINT/SIGTERM: stop), rewrites the status file on every state change and
// every few seconds, and tells systemd where it stands (common/service_notify.h).
#include <libssh/libssh.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>

#include "common/log.h"
#include "common/service_notify.h"
#include "home-agent/commands/commands.h"
#include "home-agent/commands/running_agent.h"
#include "home-agent/status/status_board.h"
#include "home-agent/status/status_file.h"

namespace cloudlink::home {

namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kStatusEvery = std::chrono::seconds(3);
constexpr auto kTick = std::chrono::milliseconds(200);
// READY=1 once every tunnel has made its first attempt (up, or down with a reason), or after
// this long: a VPS that does not answer must not hold `systemctl start` for ever.
constexpr auto kReadyAtLatest = std::chrono::seconds(15);

class StatusWriter {
 public:
  StatusWriter(std::string path, const StatusBoard& board)
      : path_(std::move(path)), board_(board) {}

  // Rewrites the file when a state changed or kStatusEvery passed.
  void maybe_write() {
    auto now = Clock::now();
    if (board_.version() == written_version_ && now - written_at_ < kStatusEvery) return;
    write(true);
  }
  void write(bool running) {
    written_version_ = board_.version();
    written_at_ = Clock::now();
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
  Clock::time_point written_at_{};
  bool warned_ = false;
};

struct BoardSummary {
  size_t up = 0;
  size_t attempted = 0;  // up, down or stopped: past its first connection attempt
  size_t total = 0;
};

BoardSummary summarize(const StatusBoard& board) {
  BoardSummary s;
  for (const auto& t : board.snapshot()) {
    ++s.total;
    if (t.state == TunnelState::kUp) ++s.up;
    if (t.state != TunnelState::kStarting && t.state != TunnelState::kConnecting) ++s.attempted;
  }
  return s;
}

// systemd's STATUS=: one line for `systemctl status cloudlink-home`.
std::string status_line(const BoardSummary& s, size_t services) {
  return std::to_string(s.up) + " of " + std::to_string(s.total) + " tunnel(s) up for " +
         std::to_string(services) + " service(s)";
}

sigset_t agent_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  return signals;
}

timespec tick_for(std::optional<std::chrono::microseconds> watchdog) {
  auto tick = std::chrono::duration_cast<std::chrono::microseconds>(kTick);
  if (watchdog) tick = std::min(tick, *watchdog);
  return timespec{0, static_cast<long>(tick.count() * 1000)};
}

}  // namespace

int run_command(const std::string& config_path, const RunOptions& options) {
  // Signals go to this thread only (sigtimedwait below); every thread started later (tunnels,
  // terminators, the certificate keeper) inherits the mask.
  sigset_t signals = agent_signals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  ssh_init();

  std::atomic<bool> stop{false};
  std::atomic<bool> fatal_seen{false};
  auto fatal = [&](const std::string& message) {
    // Every tunnel may hit the same changed key: say it once.
    if (!fatal_seen.exchange(true)) log_error("%s", message.c_str());
    stop.store(true);
  };
  StatusBoard board;
  int exit_code = kExitOk;
  {
    RunningAgent agent(config_path, options, board, fatal);
    exit_code = agent.start();
    if (exit_code == kExitOk) {
      StatusWriter status(status_path_for(config_path), board);
      const auto watchdog = service::watchdog_period();
      const timespec tick = tick_for(watchdog);
      const auto started_at = Clock::now();
      bool ready = false;
      uint64_t reported_version = ~uint64_t{0};
      std::string reported;
      while (!stop.load()) {
        int sig = sigtimedwait(&signals, nullptr, &tick);
        if (sig == SIGINT || sig == SIGTERM) {
          log_line("stopping (signal %d)", sig);
          break;
        }
        if (sig == SIGHUP) {
          service::notify_reloading();
          auto outcome = agent.reload();
          if (outcome.applied) {
            log_line("%s", outcome.message.c_str());
          } else {
            log_warn("%s", outcome.message.c_str());
          }
          ready = false;  // READY=1 again below ends the reload
          reported_version = ~uint64_t{0};
        }
        agent.reap();
        if (watchdog) service::notify_watchdog();
        if (board.version() != reported_version) {
          reported_version = board.version();
          BoardSummary summary = summarize(board);
          std::string line = status_line(summary, agent.service_count());
          bool first_attempts_done = summary.attempted == summary.total;
          if (!ready && (first_attempts_done || sig == SIGHUP)) {
            service::notify_ready(line);
            ready = true;
          } else if (line != reported) {
            service::notify_status(line);
          }
          reported = line;
        }
        if (!ready && Clock::now() - started_at >= kReadyAtLatest) {
          service::notify_ready(reported);
          ready = true;
        }
        status.maybe_write();
      }
      service::notify_stopping();
      agent.stop_all();
      status.write(false);
    }
  }
  ssh_finalize();
  if (fatal_seen.load()) return kExitHostKeyChanged;
  return exit_code;
}

}  // namespace cloudlink::home
