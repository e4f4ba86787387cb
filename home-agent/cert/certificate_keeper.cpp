#include "home-agent/cert/certificate_keeper.h"

#include <ctime>

#include "common/acme/certificate_info.h"
#include "common/log.h"
#include "home-agent/cert/cert_files.h"
#include "home-agent/cert/order_certificate.h"
#include "home-agent/cert/pending_mapping.h"
#include "home-agent/control_client/control_client.h"

namespace cloudlink::home {
namespace {

using std::chrono::system_clock;

// Files an operator replaced by hand are looked at again the same day.
constexpr auto kMaxSleep = std::chrono::hours(12);

}  // namespace

CertificateKeeper::CertificateKeeper(std::string config_path, AgentConfig config,
                                     acme::Backoff backoff)
    : config_path_(std::move(config_path)), config_(std::move(config)), backoff_(backoff) {}

CertificateKeeper::~CertificateKeeper() {
  cancel_.store(true);
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void CertificateKeeper::start() {
  thread_ = std::thread([this] { run(); });
}

bool CertificateKeeper::sleep_until(acme::SystemTime deadline) {
  std::unique_lock lock(mutex_);
  wake_.wait_until(lock, deadline, [this] { return stopping_; });
  return !stopping_;
}

bool CertificateKeeper::clean_up() {
  if (!config_.server || !config_.home) return true;
  auto client = ControlClient::create({config_.server->url, ""});
  if (!client) return true;  // a URL that cannot work: nothing this thread can fix
  (*client)->set_token(config_.server->token);
  return clean_up_leftovers(**client, pending_dir(config_path_)).ok();
}

void CertificateKeeper::order(const std::string& hostname, acme::SystemTime now) {
  CertificateOrder order{config_path_, config_, hostname, "", [this] { return cancel_.load(); }};
  Result<acme::CertificateInfo> installed = order_certificate(order);
  if (cancel_.load()) return;
  // The files must now say "not due": if they do not, waiting as after a failure keeps a
  // broken file from turning into a stream of orders.
  const auto paths = certificate_paths(config_path_, *config_.acme, hostname);
  if (installed && acme::renewal_time(installed_certificate(paths), hostname) <= now) {
    installed =
        Error(std::error_code(), "the certificate just written is not usable: " + paths.dir);
  }
  if (installed) {
    retries_.erase(hostname);
    log_line("cert: new certificate for %s (valid until %s)", hostname.c_str(),
             acme::utc_text(installed->not_after).c_str());
    return;
  }
  Retry& retry = retries_[hostname];
  ++retry.failures;
  const auto delay = acme::with_jitter(acme::retry_delay(backoff_, retry.failures));
  retry.not_before = now + delay;
  log_warn(
      "cert: certificate for %s not obtained (attempt %u): %s; keeping the current "
      "certificate, next attempt in %llds",
      hostname.c_str(), retry.failures, installed.error().message().c_str(),
      static_cast<long long>(delay.count()));
}

acme::SystemTime CertificateKeeper::renew_due() {
  auto next = system_clock::now() + kMaxSleep;
  for (const ServiceConfig& service : config_.services) {
    if (cancel_.load()) break;
    const auto now = system_clock::now();
    const auto info =
        installed_certificate(certificate_paths(config_path_, *config_.acme, service.hostname));
    auto due = acme::renewal_time(info, service.hostname);
    if (auto retry = retries_.find(service.hostname); retry != retries_.end()) {
      due = std::max(due, retry->second.not_before);
    }
    if (due <= now) {
      order(service.hostname, now);
      next = now;  // look again at once: the files (or the retry time) say what is next
      continue;
    }
    if (info && announced_[service.hostname] != due) {
      announced_[service.hostname] = due;
      log_line("cert: the certificate for %s is valid until %s; renewal at %s",
               service.hostname.c_str(), acme::utc_text(info->not_after).c_str(),
               acme::utc_text(due).c_str());
    }
    next = std::min(next, due);
  }
  return next;
}

void CertificateKeeper::run() {
  unsigned failures = 0;
  while (!clean_up()) {
    const auto delay = acme::with_jitter(acme::retry_delay(backoff_, ++failures));
    if (!sleep_until(system_clock::now() + delay)) return;
  }
  if (!config_.acme) return;
  while (!cancel_.load()) {
    const auto next = renew_due();
    if (!sleep_until(next)) return;
  }
}

std::unique_ptr<CertificateKeeper> start_certificate_keeper(const std::string& config_path) {
  auto config = load_agent_config(config_path);
  auto keeper = std::make_unique<CertificateKeeper>(config_path, config ? *config : AgentConfig{});
  keeper->start();
  return keeper;
}

}  // namespace cloudlink::home
