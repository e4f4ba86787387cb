#include "home-agent/tls/tls_services.h"

#include <map>

namespace cloudlink::home {

Result<std::vector<std::unique_ptr<TlsTerminator>>> terminate_tls(const std::string& config_path,
                                                                  std::vector<TunnelSpec>& specs) {
  std::vector<std::unique_ptr<TlsTerminator>> terminators;
  auto config = load_agent_config(config_path);
  if (!config) return config.error();
  const AcmeConfig acme = config->acme.value_or(AcmeConfig{});
  std::map<std::string, uint16_t> ports;  // hostname -> its terminator's port
  for (TunnelSpec& spec : specs) {
    if (!spec.service.terminate_tls) continue;
    auto& port = ports[spec.service.hostname];
    if (port == 0) {
      auto started = TlsTerminator::start(
          spec.service.hostname, certificate_paths(config_path, acme, spec.service.hostname),
          spec.service.target_host, spec.service.target_port);
      if (!started) return started.error();
      port = (*started)->port();
      terminators.push_back(std::move(*started));
    }
    spec.service.target_host = "127.0.0.1";
    spec.service.target_port = port;
  }
  return terminators;
}

}  // namespace cloudlink::home
