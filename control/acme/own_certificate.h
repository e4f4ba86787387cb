// cloudlink-control's certificate for its own name (the VPS's), from ACME HTTP-01 through the
// same :80 path the homes use. A system route (control/state) sends the name's plain HTTP to
// a challenge responder control runs on loopback, and its TLS to control's own --listen-tls
// listener. A thread orders a certificate when there is none (or only the placeholder written
// at the first start) and renews it at two thirds of its lifetime, retrying failures with
// capped exponential backoff. The key (0600) and the full chain are each written atomically
// into the TLS directory, where the listener's reload (control/http/tls_context.h) picks them
// up; a failed order leaves the files as they were.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "common/acme/acme_client.h"
#include "common/acme/challenge_server.h"
#include "common/result.h"
#include "common/socket_address.h"
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
  Backoff backoff;

  std::string chain_file() const { return tls_dir + "/fullchain.pem"; }
  std::string key_file() const { return tls_dir + "/key.pem"; }
};

class OwnCertificate {
 public:
  // Before the TLS listener binds: creates the TLS directory and the account key's (0700,
  // when absent) and, when it lacks a key
  // and chain that belong together, writes a self-signed placeholder pair (logged) so the
  // listener can start before the CA has answered.
  static Result<std::unique_ptr<OwnCertificate>> prepare(OwnCertificateOptions options);
  // Stops the renewal thread (an order in flight runs to its deadline first).
  ~OwnCertificate();
  OwnCertificate(const OwnCertificate&) = delete;
  OwnCertificate& operator=(const OwnCertificate&) = delete;

  // Once the TLS listener is bound at tls_target: binds the challenge responder, writes the
  // system route for the hostname (conflict when a home maps it) and starts the renewal
  // thread. Call it after the process has blocked its stop signals: it starts threads.
  Result<void> start(state::StateStore& store, const SocketAddress& tls_target);

 private:
  explicit OwnCertificate(OwnCertificateOptions options);
  void run();
  // One order: a certificate for the hostname, then the key and chain written.
  Result<SystemTime> obtain();
  std::optional<cloudlink::acme::CertificateInfo> current() const;

  OwnCertificateOptions options_;
  std::unique_ptr<cloudlink::acme::HttpChallengeServer> responder_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

// Where the dataplane reaches a listener bound at host:port: the host itself, or loopback
// when the listener is bound to every address (0.0.0.0, ::).
Result<SocketAddress> reachable_address(const std::string& host, uint16_t port);

}  // namespace cloudlink::control::acme
