// `cloudlink-home run`'s certificates, on a thread of their own. First, the temporary mappings
// an interrupted order left behind are taken back (retried until control answers). Then, when
// the config has an acme section, every service gets a certificate when it has none that
// works, and a new one at two thirds of its lifetime (common/acme/renewal.h). A failed order
// leaves the installed files alone and is retried after 1 min, doubling up to 6 h, plus up to
// 10 % jitter.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/acme/renewal.h"
#include "home-agent/config/agent_config.h"

namespace cloudlink::home {

class CertificateKeeper {
 public:
  CertificateKeeper(std::string config_path, AgentConfig config, acme::Backoff backoff = {});
  // Stops the thread; an order in flight stops after its current request and takes its
  // mapping back.
  ~CertificateKeeper();
  CertificateKeeper(const CertificateKeeper&) = delete;
  CertificateKeeper& operator=(const CertificateKeeper&) = delete;

  void start();

 private:
  struct Retry {
    unsigned failures = 0;
    acme::SystemTime not_before{};
  };

  void run();
  bool clean_up();
  // Orders every certificate that is due and not waiting for a retry; returns when to look
  // again.
  acme::SystemTime renew_due();
  void order(const std::string& hostname, acme::SystemTime now);
  // Waits until deadline or stop; false when stopping.
  bool sleep_until(acme::SystemTime deadline);

  std::string config_path_;
  AgentConfig config_;
  acme::Backoff backoff_;
  std::map<std::string, Retry> retries_;
  std::map<std::string, acme::SystemTime> announced_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;  // under mutex_
  std::atomic<bool> cancel_{false};
  std::thread thread_;
};

// A keeper for the config at config_path, started (call after ssh_init; destroy it before
// ssh_finalize).
std::unique_ptr<CertificateKeeper> start_certificate_keeper(const std::string& config_path);

}  // namespace cloudlink::home
