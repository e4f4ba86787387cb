// cloudlink-control's certificate for its own name (the VPS's), from ACME HTTP-01 through the
// same :80 path the homes use. A system route (control/state) sends the name's plain HTTP to
// a challenge responder control runs on loopback (control/acme/challenge_site.h), and its TLS
// to control's own --listen-tls listener; with PROXY v2 when control reads it from the
// dataplane (system_route_proxy_v2). A thread orders a certificate when there is none (or only the
// placeholder written at the first start) and renews it at two thirds of its lifetime, retrying
// failures with capped exponential backoff. The key (0600) and the full chain are each written
// atomically into the TLS directory, where the listener's reload (control/http/tls_context.h) picks
// them up; a failed order leaves the files as they were.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "common/acme/acme_client.h"
#include "common/cidr.h"
#include "common/result.h"
#include "common/socket_address.h"
#include "control/acme/challenge_site.h"
#include "control/acme/renewal.h"
#include "control/state/state_store.h"

namespace cloudlink::control::acme {

struct OwnCertificateOptions {
  std::string hostname;
  cloudlink::acme::AcmeOptions acme;  // directory, CA bundle, contact e-mail
  std::string tls_dir;                // fullchain.pem and key.pem
  std::string account_key_file;       // the ACME account key (0600), created when absent
  std::string challenge_host = "127.0.0.1";
  uint16_t challenge_port = 0;  // 0: any free port (the system route names the one bound)
  // --accept-proxy-from: read by both listeners; decides the route's PROXY v2 flag.
  std::vector<Cidr> trusted_proxies;
  Backoff backoff;

  std::string chain_file() const { return tls_dir + "/fullchain.pem"; }
  std::string key_file() const { return tls_dir + "/key.pem"; }
};

class OwnCertificate {
 public:
  // Before the TLS listener binds: creates the TLS directory and the account key's (0700,
  // when absent) and, when it lacks a key
  // and chain that belong together, writes a self-signed placeholder pair (logged) so the
  // listener can start before the CA has answered. A key or chain file that exists but cannot
  // be read is an error, and the files are left alone.
  static Result<std::unique_ptr<OwnCertificate>> prepare(OwnCertificateOptions options);
  // Stops the renewal thread (an order in flight stops after its current request).
  ~OwnCertificate();
  OwnCertificate(const OwnCertificate&) = delete;
  OwnCertificate& operator=(const OwnCertificate&) = delete;

  // Registers, before start(): cloudlink_control_certificate_expiry_timestamp_seconds
  // {hostname} (notAfter of the CA certificate served; 0 while there is none, e.g. the
  // placeholder) and cloudlink_control_acme_orders_total{result="ok"|"error"}.
  void attach_metrics(prometheus::Registry& registry);

  // Once the TLS listener is bound at tls_target: binds the challenge responder, writes the
  // system route for the hostname (conflict when a home maps it; PROXY v2 as
  // system_route_proxy_v2 says) and starts the renewal thread. Call it after the process has
  // blocked its stop signals, and before the API listener serves its first connection: it
  // starts threads, and the route must say what the listeners expect before the dataplane
  // sends anything.
  Result<void> start(state::StateStore& store, const SocketAddress& tls_target);

 private:
  explicit OwnCertificate(OwnCertificateOptions options);
  void run();
  // One order: a certificate for the hostname, then the key and chain written.
  Result<SystemTime> obtain();
  std::optional<cloudlink::acme::CertificateInfo> current() const;

  OwnCertificateOptions options_;
  std::unique_ptr<ChallengeSite> responder_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;            // under mutex_, for the waits
  std::atomic<bool> cancel_{false};  // the same, for an order in flight
  std::thread thread_;
  prometheus::Gauge* expiry_ = nullptr;
  prometheus::Counter* orders_ok_ = nullptr;
  prometheus::Counter* orders_failed_ = nullptr;
};

// Where the dataplane reaches a listener bound at host:port: the host itself, or loopback
// when the listener is bound to every address (0.0.0.0, ::).
Result<SocketAddress> reachable_address(const std::string& host, uint16_t port);

// Whether control's system route asks the dataplane for a PROXY v2 header: exactly when the
// trusted networks hold the addresses the dataplane reaches control at. The dataplane runs on
// the same VPS and connects to a local address from that same address, so its connections
// then come from a trusted peer, which must send the header, and otherwise from an untrusted
// one, which must not: the flag and the listeners cannot disagree. The flag covers both
// targets, so an --accept-proxy-from that holds one of them and not the other is an error.
Result<bool> system_route_proxy_v2(const std::vector<Cidr>& trusted,
                                   const SocketAddress& tls_target,
                                   const SocketAddress& http_target);

}  // namespace cloudlink::control::acme
