// cloudlink-dataplane: parse flags, start the workers, and turn SIGTERM/SIGINT into a drain.
#include <signal.h>

#include <cstdio>

#include "common/log.h"
#include "dataplane/config.h"
#include "dataplane/dataplane.h"

using cloudlink::log_error;
using cloudlink::log_line;
using namespace cloudlink::dataplane;

int main(int argc, char** argv) {
  cloudlink::log_program_name() = "cloudlink-dataplane";
  auto cli = parse_command_line(argc, argv);
  if (!cli) {
    log_error("%s (see --help)", cli.error().message().c_str());
    return 2;
  }
  if (cli->exit_now) return cli->exit_code;
  const Config& config = cli->config;

  // Blocked in every thread (workers inherit the mask); only sigwait below receives them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto dataplane = Dataplane::start(config);
  if (!dataplane) {
    log_error("%s", dataplane.error().message().c_str());
    return 1;
  }
  const Config& effective = (*dataplane)->config();
  std::string listeners;
  for (const auto& addr : config.tls_listeners) {
    listeners.push_back(' ');
    listeners.append(addr.to_string());
  }
  if (!config.http_listeners.empty()) listeners.append(", HTTP on");
  for (const auto& addr : config.http_listeners) {
    listeners.push_back(' ');
    listeners.append(addr.to_string());
  }
  log_line("serving TLS on%s with %u workers, relay %s, routes in %s/routes, metrics %s",
           listeners.c_str(), config.workers, relay_mode_name(effective.relay),
           config.data_dir.c_str(),
           config.metrics_listener.empty() ? "off" : config.metrics_listener.to_string().c_str());

  int sig = 0;
  sigwait(&signals, &sig);
  log_line("signal %d: no new connections; draining for up to %lld ms", sig,
           static_cast<long long>(config.drain_timeout.count()));
  (*dataplane)->request_stop();
  (*dataplane)->join();
  log_line("stopped");
  return 0;
}
