#include "dataplane/dataplane.h"

#include <future>
#include <string>

#include "common/log.h"
#include "common/service_notify.h"
#include "dataplane/listener.h"

namespace cloudlink::dataplane {

Dataplane::Dataplane(const Config& config)
    : config_(config),
      limit_(config.max_connections),
      watchdog_(config.workers, service::watchdog_period()) {}

Result<std::unique_ptr<Dataplane>> Dataplane::start(const Config& config,
                                                    std::vector<UniqueFd> inherited,
                                                    bool defer_metrics) {
  std::unique_ptr<Dataplane> dp(new Dataplane(config));
  auto routes = RouteTable::open_readonly(config.data_dir);
  if (!routes)
    return Error(routes.error().code(),
                 "--data " + config.data_dir + ": " + routes.error().message());
  dp->routes_.emplace(std::move(routes).value());
  std::optional<SockmapFallback> fallback;
  if (config.relay == RelayMode::kSockmap) {
    SockmapRelay::LoadError why{SockmapFallback::kError, Error(0, "")};
    dp->sockmap_ = SockmapRelay::load(config.max_connections, kSockmapBacklogBytes, why);
    if (!dp->sockmap_) {
      const std::string reason = std::string("sockmap relay unavailable (") +
                                 sockmap_fallback_name(why.reason) + "): " + why.error.message();
      if (config.require_bpf) return Error(std::error_code(), reason + " (--require-bpf)");
      log_warn("%s; falling back to --relay copy", reason.c_str());
      dp->config_.relay = RelayMode::kCopy;
      fallback = why.reason;
    }
  }
  auto metrics = Metrics::create(dp->config_, !defer_metrics);
  if (!metrics) return metrics.error();
  dp->metrics_ = std::move(metrics).value();
  if (fallback) dp->metrics_->sockmap_fallback(*fallback).Increment();

  // Every listener is bound before any worker starts, so "port in use" fails the start.
  auto assigned = assign_listeners(config, std::move(inherited));
  if (!assigned) return assigned.error();
  for (unsigned w = 0; w < config.workers; ++w) {
    for (const ListenerSocket& l : (*assigned)[w]) dp->listener_fds_.push_back(l.fd.get());
    dp->workers_.push_back(std::make_unique<Worker>(
        dp->config_, *dp->metrics_, *dp->routes_, dp->limit_, dp->target_loads_,
        std::move((*assigned)[w]), dp->stop_requested_, dp->sockmap_.get(), &dp->watchdog_, w));
  }
  std::vector<std::future<Result<void>>> ready;
  for (auto& worker : dp->workers_) {
    auto promise = std::make_shared<std::promise<Result<void>>>();
    ready.push_back(promise->get_future());
    Worker* w = worker.get();
    dp->threads_.emplace_back([w, promise] {
      Result<void> r = w->init();
      const bool good = r.ok();
      promise->set_value(std::move(r));
      if (good) w->run();
    });
  }
  std::optional<Error> first_error;
  for (auto& f : ready) {
    Result<void> r = f.get();
    if (!r && !first_error) first_error = r.error();
  }
  if (first_error) {
    dp->request_stop();
    dp->join();
    return *first_error;
  }
  return dp;
}

void Dataplane::release_for_successor() {
  watchdog_.silence();
  metrics_->stop_exposing();
}

Result<void> Dataplane::expose_metrics(std::chrono::milliseconds patience) {
  const auto give_up = std::chrono::steady_clock::now() + patience;
  while (true) {
    auto r = metrics_->expose(config_.metrics_listener);
    if (r || std::chrono::steady_clock::now() >= give_up) return r;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

void Dataplane::join() {
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

Dataplane::~Dataplane() {
  request_stop();
  join();
}

}  // namespace cloudlink::dataplane
