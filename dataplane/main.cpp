// cloudlink-dataplane: parse flags and the settings file, start the workers (taking the
// listeners over from a predecessor when started with --takeover-fd), then wait for signals:
// SIGTERM/SIGINT drain and exit, SIGHUP/SIGUSR2 start a successor and hand it the listeners.
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "common/log.h"
#include "common/service_notify.h"
#include "dataplane/config.h"
#include "dataplane/dataplane.h"
#include "dataplane/fd_limit.h"
#include "dataplane/handover.h"
#include "dataplane/successor.h"

using cloudlink::log_error;
using cloudlink::log_line;
using cloudlink::log_warn;
using cloudlink::Result;
using cloudlink::UniqueFd;
using namespace cloudlink::dataplane;
namespace service = cloudlink::service;

namespace {

// How long each side of a handover waits for the other before giving up (the old one then
// keeps serving; a successor exits).
constexpr std::chrono::milliseconds kHandoverPatience{30000};
constexpr std::chrono::milliseconds kMetricsPortPatience{10000};

std::string describe(const Config& config, const Config& effective) {
  std::string text = "serving TLS on";
  for (const auto& addr : config.tls_listeners) text += " " + addr.to_string();
  if (!config.http_listeners.empty()) text += ", HTTP on";
  for (const auto& addr : config.http_listeners) text += " " + addr.to_string();
  text +=
      " with " + std::to_string(config.workers) + " workers, relay " +
      relay_mode_name(effective.relay) + ", routes in " + config.data_dir + "/routes, metrics " +
      (config.metrics_listener.empty() ? std::string("off") : config.metrics_listener.to_string());
  return text;
}

// Said after a successful start, so a failed start stays one line.
void log_fd_limit(const Config& config, const Result<FdLimit>& limit) {
  if (!limit) {
    log_warn("%s", limit.error().message().c_str());
    return;
  }
  const std::string warning = fd_limit_warning(config, *limit);
  if (!warning.empty()) log_warn("%s", warning.c_str());
}

// Old side: start a successor and hand it every listener. True once it has taken them over
// (we stopped accepting and must drain); false when the upgrade failed and we keep serving.
bool hand_over(Dataplane& dataplane, const Result<SuccessorCommand>& command,
               const std::string& status) {
  if (!command) {
    log_error("upgrade impossible: %s", command.error().message().c_str());
    return false;
  }
  service::notify_reloading();
  auto successor = spawn_successor(*command);
  if (!successor) {
    log_error("upgrade failed: %s; still serving", successor.error().message().c_str());
    service::notify_ready(status);
    return false;
  }
  const size_t count = dataplane.listener_fds().size();
  auto sent = send_listeners(successor->socket.get(), dataplane.listener_fds());
  Result<pid_t> ready =
      sent ? wait_ready(successor->socket.get(), kHandoverPatience) : Result<pid_t>(sent.error());
  if (!ready) {
    log_error("upgrade failed (%s pid %d): %s; still serving", command->executable().c_str(),
              static_cast<int>(successor->pid), ready.error().message().c_str());
    abandon_successor(*successor);
    service::notify_ready(status);
    return false;
  }
  // The successor accepts on the same sockets already: stop our accepts, free /metrics.
  dataplane.request_stop();
  dataplane.release_for_successor();
  if (auto r = send_released(successor->socket.get()); !r) {
    log_warn("handover: %s", r.error().message().c_str());
  }
  log_line("handed %zu listeners to pid %d; no new connections here, draining for up to %lld ms",
           count, static_cast<int>(*ready),
           static_cast<long long>(dataplane.config().drain_timeout.count()));
  return true;
}

// New side, after our workers accept on the handed-over sockets: become systemd's main
// process (before the predecessor can exit), then tell the predecessor to stop accepting.
Result<void> announce_takeover(int sock) {
  service::notify_main_pid(::getpid());
  service::notify_barrier(std::chrono::milliseconds(5000));
  return send_ready(sock);
}

// Then take /metrics once the predecessor has let go of its port (civetweb's stop takes about
// a second: scrapes in that window miss, connections do not).
void take_metrics(Dataplane& dataplane, int sock) {
  if (auto r = wait_released(sock, kHandoverPatience); !r) {
    log_line("%s", r.error().message().c_str());
  }
  if (auto r = dataplane.expose_metrics(kMetricsPortPatience); !r) {
    log_line("%s", r.error().message().c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  cloudlink::log_program_name() = "cloudlink-dataplane";
  auto cli = parse_command_line(argc, argv);
  if (!cli) {
    log_error("%s (see --help)", cli.error().message().c_str());
    return 2;
  }
  if (cli->exit_now) return cli->exit_code;
  const Config& config = cli->config;
  const auto successor_command = SuccessorCommand::capture(argc, argv);

  // Blocked in every thread (workers inherit the mask); only the signalfd below receives them.
  sigset_t signals;
  sigemptyset(&signals);
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGUSR2}) sigaddset(&signals, sig);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  UniqueFd signal_fd(::signalfd(-1, &signals, SFD_CLOEXEC));
  if (!signal_fd) {
    log_error("signalfd: %s", std::strerror(errno));
    return 1;
  }

  const auto fd_limit = raise_fd_limit();
  UniqueFd takeover(config.takeover_fd);
  std::vector<UniqueFd> inherited;
  if (takeover) {
    auto received = receive_listeners(takeover.get(), kHandoverPatience);
    if (!received) {
      log_error("%s", received.error().message().c_str());
      return 1;
    }
    inherited = std::move(received).value();
  }
  const size_t inherited_count = inherited.size();
  auto dataplane = Dataplane::start(config, std::move(inherited), static_cast<bool>(takeover));
  if (!dataplane) {
    log_error("%s", dataplane.error().message().c_str());
    return 1;
  }
  const std::string status = describe(config, (*dataplane)->config());
  if (takeover) {
    if (auto r = announce_takeover(takeover.get()); !r) {
      log_line("%s", r.error().message().c_str());
    }
    log_line("took over %zu listeners (pid %d)", inherited_count, static_cast<int>(::getpid()));
  }
  log_line("%s", status.c_str());
  log_fd_limit(config, fd_limit);
  service::notify_ready(status);
  if (takeover) {
    take_metrics(**dataplane, takeover.get());
    takeover.reset();
  }

  bool handed_over = false;
  while (true) {
    signalfd_siginfo info{};
    if (::read(signal_fd.get(), &info, sizeof info) != sizeof info) {
      if (errno == EINTR) continue;
      log_line("signalfd read: %s", std::strerror(errno));
      break;
    }
    const int sig = static_cast<int>(info.ssi_signo);
    if (sig == SIGHUP || sig == SIGUSR2) {
      log_line("signal %d: starting a successor to hand the listeners to", sig);
      handed_over = hand_over(**dataplane, successor_command, status);
      if (handed_over) break;
      continue;
    }
    service::notify_stopping();
    log_line("signal %d: no new connections; draining for up to %lld ms", sig,
             static_cast<long long>(config.drain_timeout.count()));
    (*dataplane)->request_stop();
    break;
  }
  (*dataplane)->join();
  log_line("stopped");
  return 0;
}
