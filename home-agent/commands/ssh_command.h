// The OpenSSH command lines equivalent to the agent's tunnels of one service, for a home that
// runs plain `ssh` instead of the agent (or to debug one).
#pragma once

#include <string>
#include <vector>

#include "common/result.h"
#include "home-agent/config/agent_config.h"

namespace cloudlink::home {

// One line per connection of the service (each a separate ssh process), shell-quoted. The
// host key is pinned with KnownHostsCommand, so ssh refuses a changed key like the agent.
Result<std::vector<std::string>> ssh_command_lines(const AgentConfig& config,
                                                   const std::string& config_path,
                                                   const std::string& hostname);

// text quoted for a POSIX shell when it needs to be.
std::string shell_quote(const std::string& text);

}  // namespace cloudlink::home
