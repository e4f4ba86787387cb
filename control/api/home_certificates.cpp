#include "control/api/home_certificates.h"

#include <set>

#include "common/log.h"
#include "control/probe/certificate_probe.h"

namespace cloudlink::control::api {

HomeCertificates::HomeCertificates(state::StateStore& store,
                                   std::shared_ptr<prometheus::Registry> registry,
                                   std::chrono::seconds interval)
    : store_(store), registry_(std::move(registry)), interval_(interval) {
  expiry_ = &prometheus::BuildGauge()
                 .Name("cloudlink_control_home_certificate_expiry_timestamp_seconds")
                 .Help(
                     "notAfter (unix seconds) of the certificate each mapped hostname presents "
                     "through its home's tunnel, as last read")
                 .Register(*registry_);
}

HomeCertificates::~HomeCertificates() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void HomeCertificates::run_once() {
  auto routes = store_.expected_routes();
  if (!routes) {
    log_error("home certificates: %s", routes.error().message().c_str());
    return;
  }
  std::set<std::string> mapped;
  for (const auto& [hostname, route] : *routes) {
    if (hostname.empty() || hostname.front() == '*' || route.home_id() == "control") continue;
    mapped.insert(hostname);
    Result<int64_t> expiry = Error(ENOENT, "no TLS target");
    for (const SocketAddress& target : route.targets()) {
      expiry =
          probe::certificate_expiry(target, hostname, route.has_flag(kRouteProxyV2), kProbeTimeout);
      if (expiry) break;
    }
    if (!expiry) {
      // Once per new problem, not every round: an offline home is normal.
      std::string problem = expiry.error().message();
      if (problems_[hostname] != problem) {
        log_warn("home certificates: %s: %s", hostname.c_str(), problem.c_str());
        problems_[hostname] = problem;
      }
      continue;
    }
    problems_.erase(hostname);
    auto [it, added] = series_.try_emplace(hostname, nullptr);
    if (added) {
      it->second = &expiry_->Add({{"hostname", hostname}, {"home", std::string(route.home_id())}});
    }
    it->second->Set(static_cast<double>(*expiry));
  }
  for (auto it = series_.begin(); it != series_.end();) {
    if (mapped.contains(it->first)) {
      ++it;
      continue;
    }
    expiry_->Remove(it->second);
    problems_.erase(it->first);
    it = series_.erase(it);
  }
}

void HomeCertificates::start() {
  thread_ = std::thread([this] {
    // The first round an interval after start, not at once: a restart of serve does not
    // knock on every home's service at the same moment.
    std::unique_lock lock(mutex_);
    while (!wake_.wait_for(lock, interval_, [this] { return stopping_; })) {
      lock.unlock();
      run_once();
      lock.lock();
    }
  });
}

}  // namespace cloudlink::control::api
