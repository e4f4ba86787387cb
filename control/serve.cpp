#include "control/serve.h"

#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>

#include <atomic>
#include <thread>

#include "common/log.h"
#include "common/service_notify.h"
#include "common/socket_address.h"
#include "control/http/metrics_site.h"

namespace cloudlink::control {

Result<std::pair<std::string, uint16_t>> parse_listen(const std::string& listen) {
  // SocketAddress refuses port 0, which tests use for "any free port": parse it as port 1.
  std::string text = listen;
  bool any_port = text.size() > 2 && text.compare(text.size() - 2, 2, ":0") == 0;
  if (any_port) text.replace(text.size() - 1, 1, "1");
  auto address = SocketAddress::parse(text);
  if (!address) return Error(address.error().code(), "--listen " + listen);
  std::string host = address->to_string();
  host.erase(host.rfind(':'));
  if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  return std::make_pair(host, any_port ? uint16_t{0} : address->port());
}

uint32_t fit_descriptor_limit(uint32_t max_connections) {
  // Descriptors kept for what is not a client connection: LMDB, the ACME client and responder,
  // files handlers open, the loop's own.
  constexpr rlim_t kReserved = 128;
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return max_connections;
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  if (limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur >= rlim_t{max_connections} + kReserved) {
    return max_connections;
  }
  const auto fits =
      static_cast<uint32_t>(limit.rlim_cur > kReserved + 16 ? limit.rlim_cur - kReserved : 16);
  log_warn("at most %u connections: RLIMIT_NOFILE is %llu (raise LimitNOFILE= for more)", fits,
           static_cast<unsigned long long>(limit.rlim_cur));
  return fits;
}

int run_serve(const ServeOptions& options) {
  // Block the stop signals before any thread exists, so every thread inherits the mask and
  // only the waiter below receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto listen = parse_listen(options.listen);
  if (!listen) {
    log_error("%s", listen.error().message().c_str());
    return 1;
  }
  http::ServerOptions server_options = options.server;
  server_options.max_connections = fit_descriptor_limit(server_options.max_connections);
  if (auto period = service::watchdog_period()) {
    server_options.heartbeat = [] { service::notify_watchdog(); };
    server_options.heartbeat_period = *period;
  }
  http::Server server(std::move(server_options));
  auto routes = http::add_standard_routes(server, options.metrics_listen.empty());
  if (routes && options.add_routes) routes = options.add_routes(server);
  if (!routes) {
    log_error("%s", routes.error().message().c_str());
    return 1;
  }
  auto port = server.bind(listen->first, listen->second);
  if (!port) {
    log_error("%s", port.error().message().c_str());
    return 1;
  }
  const bool v6 = listen->first.find(':') != std::string::npos;
  log_line("listening on %s%s%s:%u (%s, data %s)", v6 ? "[" : "", listen->first.c_str(),
           v6 ? "]" : "", static_cast<unsigned>(*port),
           options.server.tls_cert_file.empty() ? "HTTP" : "HTTPS", options.data_dir.c_str());
  std::unique_ptr<http::MetricsSite> metrics_site;
  if (!options.metrics_listen.empty()) {
    auto at = parse_listen(options.metrics_listen);
    auto site = at ? http::MetricsSite::start(at->first, at->second,
                                              [&server] { return server.metrics().text(); })
                   : Result<std::unique_ptr<http::MetricsSite>>(at.error());
    if (!site) {
      log_error("--metrics-listen %s: %s", options.metrics_listen.c_str(),
                site.error().message().c_str());
      return 1;
    }
    metrics_site = std::move(site.value());
    log_line("metrics on http://%s:%u/metrics", at->first.c_str(),
             static_cast<unsigned>(metrics_site->port()));
  }
  if (options.on_bound) {
    if (auto started = options.on_bound(*port); !started) {
      log_error("%s", started.error().message().c_str());
      return 1;
    }
  }

  // Ready for systemd (Type=notify) once the listener is bound and control's certificate
  // has started: a client connecting from now on is answered.
  service::notify_ready("serving on port " + std::to_string(*port) + ", data " + options.data_dir);

  std::atomic<bool> finished{false};
  std::thread waiter([&] {
    int signal_number = 0;
    sigwait(&stop_signals, &signal_number);
    if (!finished.load()) {
      service::notify_stopping();
      server.stop();
    }
  });
  auto served = server.run();
  finished.store(true);
  // Wake the waiter when the listener ended on its own (an error, not a signal).
  pthread_kill(waiter.native_handle(), SIGTERM);
  waiter.join();
  if (!served) {
    log_error("%s", served.error().message().c_str());
    return 1;
  }
  return 0;
}

}  // namespace cloudlink::control
