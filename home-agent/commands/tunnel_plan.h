// The tunnels a config asks for: one per service connection, each with the identity a reload
// compares (tunnel_diff.h). Pure: reads no file, so a test can plan from YAML text.
#pragma once

#include <string>
#include <vector>

#include "home-agent/config/agent_config.h"
#include "home-agent/tunnel/tunnel.h"
#include "home-agent/tunnel/tunnel_diff.h"

namespace cloudlink::home {

struct TunnelPlan {
  std::vector<TunnelSpec> specs;    // targets as configured (no TLS terminator yet)
  std::vector<TunnelIdentity> ids;  // ids[i] describes specs[i]
};

// config must have its ssh section (require_runnable); config_path resolves relative paths.
TunnelPlan plan_tunnels(const AgentConfig& config, const std::string& config_path,
                        const KeepaliveSettings& keepalive);

}  // namespace cloudlink::home
