// The running agent's status file: a small JSON document next to cloudlink.yaml, rewritten
// atomically on every state change and every few seconds, read by `cloudlink-home status`.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "common/result.h"
#include "home-agent/status/status_board.h"

namespace cloudlink::home {

// "<config>.status.json".
std::string status_path_for(const std::string& config_path);

// running=false when the agent is exiting (the file then says so).
Result<void> write_status_file(const std::string& path, pid_t pid, bool running,
                               const std::vector<TunnelSnapshot>& tunnels);

// The human-readable report for `cloudlink-home status`: one line per tunnel, or an error
// when there is no status file or the agent that wrote it is not running.
Result<std::string> describe_status(const std::string& path);

}  // namespace cloudlink::home
