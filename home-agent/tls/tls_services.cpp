#include "home-agent/tls/tls_services.h"

namespace cloudlink::home {

std::string TlsTerminators::certificates_dir(const std::string& config_path, const AcmeConfig& acme,
                                             const std::string& hostname) {
  return certificate_paths(config_path, acme, hostname).dir;
}

Result<void> TlsTerminators::prepare(const std::string& config_path, const AcmeConfig& acme,
                                     std::vector<TunnelSpec>& specs) {
  std::map<Key, std::shared_ptr<TlsTerminator>> next;
  for (TunnelSpec& spec : specs) {
    if (!spec.service.terminate_tls) continue;
    const ServiceConfig& service = spec.service;
    CertificatePaths paths = certificate_paths(config_path, acme, service.hostname);
    Key key = service.hostname + "\n" + service.target() + "\n" + paths.dir;
    auto& terminator = next[key];
    if (!terminator) {
      if (auto it = running_.find(key); it != running_.end()) {
        terminator = it->second;
      } else {
        auto started =
            TlsTerminator::start(service.hostname, paths, service.target_host, service.target_port);
        if (!started) return started.error();
        terminator = std::move(*started);
      }
    }
    spec.service.target_host = "127.0.0.1";
    spec.service.target_port = terminator->port();
  }
  prepared_ = std::move(next);
  return ok();
}

void TlsTerminators::commit() {
  running_ = std::move(prepared_);
  prepared_.clear();
}

}  // namespace cloudlink::home
