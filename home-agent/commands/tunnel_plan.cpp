#include "home-agent/commands/tunnel_plan.h"

#include "home-agent/tls/tls_services.h"

namespace cloudlink::home {

TunnelPlan plan_tunnels(const AgentConfig& config, const std::string& config_path,
                        const KeepaliveSettings& keepalive) {
  TunnelPlan plan;
  if (!config.ssh) return plan;
  SshTarget target{*config.ssh, resolve_key_path(config_path, config.ssh->private_key)};
  const AcmeConfig acme = config.acme.value_or(AcmeConfig{});
  for (const auto& service : config.services) {
    const std::string certificates =
        TlsTerminators::certificates_dir(config_path, acme, service.hostname);
    for (int k = 0; k < service.connections; ++k) {
      TunnelSpec spec{target, service, service.tunnel_ports[k], 0, keepalive};
      plan.ids.push_back(identity_of(spec, certificates));
      plan.specs.push_back(std::move(spec));
    }
  }
  return plan;
}

}  // namespace cloudlink::home
