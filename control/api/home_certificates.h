// serve's check of the homes' certificates: every interval (serve --home-certificate-check,
// 1 h by default, the first an interval after start; 0 turns it off) a thread reads the certificate
// each mapped hostname presents through its tunnel (control/probe/certificate_probe.h: 127.0.0.1:P
// on this VPS, with the PROXY v2 header when the route has one) and sets
//   cloudlink_control_home_certificate_expiry_timestamp_seconds{hostname, home}
// to its notAfter, so one alert rule covers every home's certificate whether the agent's ACME
// renewal, a hand-installed certificate or a plain `ssh -R` home serves it. A home that is
// offline keeps its last value (its certificate does not change meanwhile); a hostname that is
// no longer mapped loses its series. Wildcard mappings (no name to ask for) and control's own
// routes (its own gauge, cloudlink_control_certificate_expiry_timestamp_seconds) are skipped.
// Label values are bounded by the mapping quotas.
#pragma once

#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "control/state/state_store.h"

namespace cloudlink::control::api {

class HomeCertificates {
 public:
  static constexpr std::chrono::milliseconds kProbeTimeout{5000};

  HomeCertificates(state::StateStore& store, std::shared_ptr<prometheus::Registry> registry,
                   std::chrono::seconds interval);
  ~HomeCertificates();  // stops the thread
  HomeCertificates(const HomeCertificates&) = delete;
  HomeCertificates& operator=(const HomeCertificates&) = delete;

  // One round now (what the thread runs every interval, the first one interval after start).
  void run_once();
  void start();

 private:
  state::StateStore& store_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::chrono::seconds interval_;
  prometheus::Family<prometheus::Gauge>* expiry_ = nullptr;
  std::map<std::string, prometheus::Gauge*> series_;  // by hostname
  std::map<std::string, std::string> problems_;       // the last failure logged, by hostname
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace cloudlink::control::api
