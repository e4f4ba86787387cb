#include "home-agent/cert/cert_command.h"

#include <libssh/libssh.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <ctime>

#include "common/acme/certificate_info.h"
#include "common/hostname.h"
#include "common/log.h"
#include "home-agent/cert/cert_files.h"
#include "home-agent/cert/order_certificate.h"
#include "home-agent/commands/commands.h"
#include "home-agent/enroll/config_lock.h"

namespace cloudlink::home {
namespace {

std::atomic<bool> g_stop{false};

void on_stop_signal(int) { g_stop.store(true); }

// SIGINT/SIGTERM end the order after its current request; the mapping is then taken back.
void catch_stop_signals() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
}

Result<std::string> checked_hostname(std::string name) {
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (name.starts_with("*.")) return invalid("HTTP-01 cannot prove a wildcard name: " + name);
  if (auto valid = validate_route_hostname(name); !valid) {
    return invalid("hostname " + name + ": " + valid.error().message());
  }
  return name;
}

// The config's acme section with the command line's values over it; true when they changed.
bool merge_acme(AgentConfig& config, const CertOptions& options) {
  const AgentConfig before = config;
  if (!config.acme && options.directory.empty()) return false;
  AcmeConfig& acme = config.acme ? *config.acme : config.acme.emplace();
  if (!options.directory.empty()) acme.directory = options.directory;
  if (!options.email.empty()) acme.email = options.email;
  if (!options.ca_bundle.empty()) acme.ca_bundle = options.ca_bundle;
  return !(config == before);
}

// The config, with the command line's ACME settings saved into it (under the lock expose and
// unexpose hold, so none of their changes is lost).
Result<AgentConfig> load_and_save_acme(const std::string& config_path, const CertOptions& options) {
  auto lock = ConfigLock::acquire(config_path);
  if (!lock) return lock.error();
  auto config = load_agent_config(config_path);
  if (!config) return config.error();
  if (merge_acme(*config, options)) {
    if (auto saved = save_agent_config(config_path, *config); !saved) return saved.error();
  }
  return config;
}

}  // namespace

CertCli::CertCli(CLI::App& app) {
  command_ = app.add_subcommand("cert", "get a certificate for HOSTNAME from ACME (HTTP-01)");
  command_->add_option("HOSTNAME", options_.hostname, "the public name")->required();
  command_->add_option("--directory", options_.directory, "ACME directory URL (saved)");
  command_->add_option("--email", options_.email, "ACME account contact (saved)");
  command_->add_option("--ca-bundle", options_.ca_bundle,
                       "PEM file the ACME server's certificate must chain to (saved)");
  command_->add_option("--control-ca-bundle", options_.control_ca_bundle,
                       "PEM file control's certificate must chain to (default: server.ca_bundle, "
                       "else the system store)");
  command_->add_option("--config", options_.config_flag, "cloudlink.yaml to use");
}

int CertCli::run(const std::string& global_config_flag) {
  if (!*command_) return -1;
  return cert_command(
      config_path(options_.config_flag.empty() ? global_config_flag : options_.config_flag),
      options_);
}

int cert_command(const std::string& config_path, const CertOptions& options) {
  auto hostname = checked_hostname(options.hostname);
  if (!hostname) {
    log_error("%s", hostname.error().message().c_str());
    return kExitFailure;
  }
  auto config = load_and_save_acme(config_path, options);
  if (!config) {
    log_error("%s", config.error().message().c_str());
    return kExitConfig;
  }
  catch_stop_signals();
  ssh_init();
  CertificateOrder order{config_path, *config, *hostname, options.control_ca_bundle,
                         [] { return g_stop.load(); }};
  auto installed = order_certificate(order);
  ssh_finalize();
  if (!installed) {
    log_error("cert: no certificate for %s: %s", hostname->c_str(),
              installed.error().message().c_str());
    return kExitFailure;
  }
  const auto paths = certificate_paths(config_path, *config->acme, *hostname);
  std::printf("certificate for %s valid until %s: %s (key %s)\n", hostname->c_str(),
              acme::utc_text(installed->not_after).c_str(), paths.chain.c_str(), paths.key.c_str());
  return kExitOk;
}

}  // namespace cloudlink::home
