// serve's upkeep thread: every few seconds it runs StateStore::maintain() (audit retention,
// re-syncing the routes after a failed projection) and refreshes the storage gauges on
// control's /metrics:
//   cloudlink_control_lmdb_map_size_bytes{env}       the map now (env: state, routes)
//   cloudlink_control_lmdb_used_bytes{env}           pages in use, up to the highest written
//   cloudlink_control_lmdb_map_max_bytes{env}        how far the map may grow (map-size-max)
//   cloudlink_control_lmdb_map_growths_total{env}    times control grew the map
//   cloudlink_control_audit_records                  audit records kept
//   cloudlink_control_routes_in_step                 0 while the routes wait for a re-sync
// and, for a certificate given as files (--tls-cert, not --acme-hostname, whose renewal sets
// it), cloudlink_control_certificate_expiry_timestamp_seconds{hostname}: the notAfter of the
// file's leaf as it is now (the listener reloads a replaced file).
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "control/state/state_store.h"

namespace cloudlink::control::api {

class Upkeep {
 public:
  static constexpr std::chrono::seconds kInterval{5};

  // Keeps the registry alive as long as the thread that sets its gauges.
  Upkeep(state::StateStore& store, std::shared_ptr<prometheus::Registry> registry,
         std::string tls_cert_file = {});
  ~Upkeep();  // stops the thread
  Upkeep(const Upkeep&) = delete;
  Upkeep& operator=(const Upkeep&) = delete;

  // One pass now (also what the thread runs); start() begins the periodic passes.
  void run_once();
  void start();

 private:
  struct EnvGauges {
    prometheus::Gauge* map = nullptr;
    prometheus::Gauge* used = nullptr;
    prometheus::Gauge* max = nullptr;
    prometheus::Counter* growths = nullptr;
  };
  static void set(EnvGauges& gauges, const MapUsage& usage);
  void read_certificate();

  state::StateStore& store_;
  std::shared_ptr<prometheus::Registry> registry_;
  EnvGauges state_;
  EnvGauges routes_;
  prometheus::Gauge* audit_records_ = nullptr;
  prometheus::Gauge* routes_in_step_ = nullptr;
  std::string tls_cert_file_;
  prometheus::Family<prometheus::Gauge>* certificate_family_ = nullptr;
  prometheus::Gauge* certificate_expiry_ = nullptr;
  std::string certificate_hostname_;
  std::string certificate_problem_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace cloudlink::control::api
