#include "control/api/upkeep.h"

#include <prometheus/family.h>

#include "common/acme/certificate_info.h"
#include "common/acme/secret_file.h"
#include "common/log.h"

namespace cloudlink::control::api {

Upkeep::Upkeep(state::StateStore& store, std::shared_ptr<prometheus::Registry> metrics,
               std::string tls_cert_file)
    : store_(store), registry_(std::move(metrics)), tls_cert_file_(std::move(tls_cert_file)) {
  prometheus::Registry& registry = *registry_;
  auto& map = prometheus::BuildGauge()
                  .Name("cloudlink_control_lmdb_map_size_bytes")
                  .Help("Size of the LMDB memory map now, by environment (state, routes)")
                  .Register(registry);
  auto& used = prometheus::BuildGauge()
                   .Name("cloudlink_control_lmdb_used_bytes")
                   .Help("LMDB pages in use up to the highest written, by environment")
                   .Register(registry);
  auto& max = prometheus::BuildGauge()
                  .Name("cloudlink_control_lmdb_map_max_bytes")
                  .Help("The largest the LMDB map may grow to (map-size-max), by environment")
                  .Register(registry);
  auto& growths = prometheus::BuildCounter()
                      .Name("cloudlink_control_lmdb_map_growths_total")
                      .Help("Times control grew a full LMDB map, by environment")
                      .Register(registry);
  for (auto [gauges, env] : {std::pair{&state_, "state"}, {&routes_, "routes"}}) {
    gauges->map = &map.Add({{"env", env}});
    gauges->used = &used.Add({{"env", env}});
    gauges->max = &max.Add({{"env", env}});
    gauges->growths = &growths.Add({{"env", env}});
  }
  audit_records_ = &prometheus::BuildGauge()
                        .Name("cloudlink_control_audit_records")
                        .Help("Audit records kept (older ones are pruned by the retention)")
                        .Register(registry)
                        .Add({});
  routes_in_step_ = &prometheus::BuildGauge()
                         .Name("cloudlink_control_routes_in_step")
                         .Help(
                             "1 when the route table follows the state, 0 while a failed "
                             "projection waits for its re-sync")
                         .Register(registry)
                         .Add({});
  if (!tls_cert_file_.empty()) {
    certificate_family_ = &prometheus::BuildGauge()
                               .Name("cloudlink_control_certificate_expiry_timestamp_seconds")
                               .Help("notAfter of control's own certificate (--tls-cert)")
                               .Register(registry);
  }
}

Upkeep::~Upkeep() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Upkeep::set(EnvGauges& gauges, const MapUsage& usage) {
  gauges.map->Set(static_cast<double>(usage.map_bytes));
  gauges.used->Set(static_cast<double>(usage.used_bytes));
  gauges.max->Set(static_cast<double>(usage.max_bytes));
  double growths = static_cast<double>(usage.growths);
  if (growths > gauges.growths->Value())
    gauges.growths->Increment(growths - gauges.growths->Value());
}

void Upkeep::run_once() {
  auto pruned = store_.maintain();
  if (!pruned) {
    log_error("upkeep: %s", pruned.error().message().c_str());
  } else if (*pruned > 0) {
    log_line("upkeep: pruned %zu audit records beyond the retention", *pruned);
  }
  auto usage = store_.storage_usage();
  if (!usage) {
    log_error("upkeep: %s", usage.error().message().c_str());
    return;
  }
  set(state_, usage->state);
  set(routes_, usage->routes);
  audit_records_->Set(static_cast<double>(usage->audit_records));
  routes_in_step_->Set(usage->routes_in_step ? 1 : 0);
  read_certificate();
}

void Upkeep::read_certificate() {
  if (certificate_family_ == nullptr) return;
  auto pem = cloudlink::acme::read_small_file(tls_cert_file_);
  auto info = pem ? cloudlink::acme::read_certificate_info(*pem)
                  : Result<cloudlink::acme::CertificateInfo>(pem.error());
  if (!info) {
    if (certificate_problem_ != info.error().message()) {
      certificate_problem_ = info.error().message();
      log_warn("upkeep: %s", certificate_problem_.c_str());
    }
    return;
  }
  certificate_problem_.clear();
  std::string hostname = info->dns_names.empty() ? "" : info->dns_names.front();
  if (certificate_expiry_ == nullptr || hostname != certificate_hostname_) {
    if (certificate_expiry_ != nullptr) certificate_family_->Remove(certificate_expiry_);
    certificate_expiry_ = &certificate_family_->Add({{"hostname", hostname}});
    certificate_hostname_ = hostname;
  }
  certificate_expiry_->Set(
      static_cast<double>(std::chrono::system_clock::to_time_t(info->not_after)));
}

void Upkeep::start() {
  thread_ = std::thread([this] {
    std::unique_lock lock(mutex_);
    while (!wake_.wait_for(lock, kInterval, [this] { return stopping_; })) {
      lock.unlock();
      run_once();
      lock.lock();
    }
  });
}

}  // namespace cloudlink::control::api
