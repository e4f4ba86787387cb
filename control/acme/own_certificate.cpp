#include "control/acme/own_certificate.h"

#include <sys/stat.h>

#include <cerrno>
#include <ctime>

#include "common/acme/account_key.h"
#include "common/acme/certificate_info.h"
#include "common/acme/secret_file.h"
#include "common/log.h"
#include "common/proxy_accept.h"

namespace cloudlink::control::acme {
namespace {

namespace ca = cloudlink::acme;
using std::chrono::system_clock;

// A wait never sleeps longer than this, so a certificate an operator replaced by hand is
// looked at again the same day.
constexpr auto kMaxSleep = std::chrono::hours(12);
// The placeholder only has to let the listener start; its validity does not matter.
constexpr auto kPlaceholderLifetime = std::chrono::hours(24 * 30);

// Why the files in the TLS directory cannot be served as they are ("" when they can). A file
// that exists but cannot be read is an error: it may hold a working certificate that this
// process is merely not allowed to see, and nothing may overwrite that.
Result<std::string> pair_problem(const OwnCertificateOptions& options) {
  auto chain = ca::read_small_file(options.chain_file());
  auto key = ca::read_small_file(options.key_file());
  for (const auto* file : {&chain, &key}) {
    if (!*file && file->error().code() != std::errc::no_such_file_or_directory) {
      return file->error();
    }
  }
  if (!chain) return chain.error().message();
  if (!key) return key.error().message();
  if (auto matches = ca::check_key_matches(*chain, *key); !matches) {
    return options.tls_dir + ": " + matches.error().message();
  }
  return std::string();
}

}  // namespace

Result<SocketAddress> reachable_address(const std::string& host, uint16_t port) {
  std::string reach = host;
  if (host == "0.0.0.0" || host.empty()) reach = "127.0.0.1";
  if (host == "::") reach = "::1";
  const bool v6 = reach.find(':') != std::string::npos;
  return SocketAddress::parse((v6 ? "[" + reach + "]" : reach) + ":" + std::to_string(port));
}

OwnCertificate::OwnCertificate(OwnCertificateOptions options) : options_(std::move(options)) {
  options_.acme.cancelled = [this] { return cancel_.load(); };
}

OwnCertificate::~OwnCertificate() {
  cancel_.store(true);
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Result<std::unique_ptr<OwnCertificate>> OwnCertificate::prepare(OwnCertificateOptions options) {
  const std::string account_dir =
      options.account_key_file.substr(0, options.account_key_file.rfind('/') + 1);
  for (const std::string& dir : {options.tls_dir, account_dir}) {
    if (!dir.empty() && ::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
      return errno_error(dir);
    }
  }
  auto problem = pair_problem(options);
  if (!problem) return problem.error();
  if (!problem->empty()) {
    const auto now = system_clock::now();
    auto placeholder = ca::make_self_signed_certificate(
        options.hostname, now - std::chrono::hours(1), now + kPlaceholderLifetime);
    if (!placeholder) return placeholder.error();
    if (auto w = ca::write_secret_file(options.key_file(), placeholder->key_pem); !w) {
      return w.error();
    }
    if (auto w = ca::write_secret_file(options.chain_file(), placeholder->chain_pem, 0644); !w) {
      return w.error();
    }
    log_warn("acme: %s; serving a self-signed placeholder for %s until the CA answers",
             problem->c_str(), options.hostname.c_str());
  }
  return std::unique_ptr<OwnCertificate>(new OwnCertificate(std::move(options)));
}

void OwnCertificate::attach_metrics(prometheus::Registry& registry) {
  expiry_ = &prometheus::BuildGauge()
                 .Name("cloudlink_control_certificate_expiry_timestamp_seconds")
                 .Help("notAfter of control's own CA certificate (0: none, a placeholder)")
                 .Register(registry)
                 .Add({{"hostname", options_.hostname}});
  auto& orders = prometheus::BuildCounter()
                     .Name("cloudlink_control_acme_orders_total")
                     .Help("ACME orders for control's own certificate, by result")
                     .Register(registry);
  orders_ok_ = &orders.Add({{"result", "ok"}});
  orders_failed_ = &orders.Add({{"result", "error"}});
}

Result<bool> system_route_proxy_v2(const std::vector<Cidr>& trusted,
                                   const SocketAddress& tls_target,
                                   const SocketAddress& http_target) {
  const bool tls = is_trusted_proxy(trusted, tls_target);
  const bool http = is_trusted_proxy(trusted, http_target);
  if (tls != http) {
    const SocketAddress& in = tls ? tls_target : http_target;
    const SocketAddress& out = tls ? http_target : tls_target;
    return invalid("--accept-proxy-from holds " + in.to_string() + " but not " + out.to_string() +
                   ": the dataplane sends control's name a PROXY header to both or to neither");
  }
  return tls;
}

Result<void> OwnCertificate::start(state::StateStore& store, const SocketAddress& tls_target) {
  auto responder = ChallengeSite::start(options_.challenge_host, options_.challenge_port,
                                        options_.hostname, options_.trusted_proxies);
  if (!responder) return responder.error();
  responder_ = std::move(responder.value());
  state::SystemRoute route;
  route.hostname = options_.hostname;
  route.tls_target = tls_target;
  auto http = reachable_address(options_.challenge_host, responder_->port());
  if (!http) return http.error();
  route.http_target = http.value();
  auto proxy = system_route_proxy_v2(options_.trusted_proxies, route.tls_target, route.http_target);
  if (!proxy) return proxy.error();
  route.proxy_v2 = proxy.value();
  if (auto set =
          store.system_routes_set(state::Caller{"control", state::Role::kAdmin, "local"}, {route});
      !set) {
    return Error(set.error().code(),
                 "acme: the route for " + options_.hostname + ": " + set.error().context());
  }
  log_line("acme: %s routes to %s (TLS) and %s (HTTP-01 challenges)%s", options_.hostname.c_str(),
           tls_target.to_string().c_str(), route.http_target.to_string().c_str(),
           route.proxy_v2 ? ", with a PROXY v2 header" : "");
  thread_ = std::thread([this] { run(); });
  return ok();
}

std::optional<ca::CertificateInfo> OwnCertificate::current() const {
  auto problem = pair_problem(options_);
  if (!problem || !problem->empty()) return std::nullopt;
  auto chain = ca::read_small_file(options_.chain_file());
  if (!chain) return std::nullopt;
  auto info = ca::read_certificate_info(*chain);
  if (!info) return std::nullopt;
  return info.value();
}

Result<SystemTime> OwnCertificate::obtain() {
  auto key = ca::AccountKey::load_or_create(options_.account_key_file);
  if (!key) return key.error();
  auto client = ca::AcmeClient::connect(options_.acme, std::move(key).value());
  if (!client) return client.error();
  if (auto registered = (*client)->register_account(); !registered) return registered.error();
  auto issued = (*client)->issue({options_.hostname}, *responder_);
  if (!issued) return issued.error();
  auto info = ca::read_certificate_info(issued->chain_pem);
  if (!info) return info.error();
  if (!info->covers(options_.hostname)) {
    return Error(std::error_code(),
                 "acme: the CA's certificate does not name " + options_.hostname);
  }
  if (auto matches = ca::check_key_matches(issued->chain_pem, issued->key_pem); !matches) {
    return matches.error();
  }
  // Key first: a reload that reads between the two renames fails and keeps the old pair, and
  // the chain's rename a moment later is a change that triggers the next reload.
  if (auto w = ca::write_secret_file(options_.key_file(), issued->key_pem); !w) return w.error();
  if (auto w = ca::write_secret_file(options_.chain_file(), issued->chain_pem, 0644); !w) {
    return w.error();
  }
  return info->not_after;
}

void OwnCertificate::run() {
  unsigned failures = 0;
  bool just_obtained = false;
  SystemTime announced{};
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    const auto info = current();
    const SystemTime due = renewal_time(info, options_.hostname);
    if (expiry_ != nullptr) {
      const bool from_ca = info && !info->self_issued;
      expiry_->Set(from_ca ? static_cast<double>(system_clock::to_time_t(info->not_after)) : 0.0);
    }
    const auto now = system_clock::now();
    if (due > now) {
      if (due != announced) {
        log_line("acme: the certificate for %s is valid until %s; renewal at %s",
                 options_.hostname.c_str(), ca::utc_text(info->not_after).c_str(),
                 ca::utc_text(due).c_str());
        announced = due;
      }
      just_obtained = false;
      wake_.wait_until(lock, std::min(due, now + kMaxSleep), [this] { return stopping_; });
      continue;
    }
    // Right after a success the files must not ask for another order; if they do, waiting
    // like after a failure keeps a broken file from turning into a stream of orders.
    Result<SystemTime> obtained = Error(
        std::error_code(), "acme: the certificate just written is not usable: " + options_.tls_dir);
    if (!just_obtained) {
      lock.unlock();
      obtained = obtain();
      lock.lock();
      if (stopping_) break;
      if (auto* counter = obtained ? orders_ok_ : orders_failed_; counter != nullptr) {
        counter->Increment();
      }
    }
    just_obtained = obtained.ok();
    if (obtained) {
      failures = 0;
      log_line("acme: new certificate for %s (valid until %s) in %s", options_.hostname.c_str(),
               ca::utc_text(obtained.value()).c_str(), options_.tls_dir.c_str());
      continue;
    }
    ++failures;
    const auto delay = with_jitter(retry_delay(options_.backoff, failures));
    log_warn(
        "acme: certificate for %s not obtained (attempt %u): %s; keeping the current "
        "certificate, next attempt in %llds",
        options_.hostname.c_str(), failures, obtained.error().message().c_str(),
        static_cast<long long>(delay.count()));
    wake_.wait_for(lock, delay, [this] { return stopping_; });
  }
}

}  // namespace cloudlink::control::acme
