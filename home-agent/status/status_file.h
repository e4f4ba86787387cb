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

// What the status file says about the agent that wrote it.
struct AgentProcess {
  pid_t pid = 0;
  bool running = false;  // the file says so and the process is alive
  bool stale = false;    // running, but the file was not rewritten for a while
  int64_t updated_unix = 0;
};

// ENOENT when there is no status file (no agent ever ran with this config).
Result<AgentProcess> read_agent_process(const std::string& path);

// Sends SIGHUP to the agent running with the config at config_path, if any, after checking
// that the pid the status file names is a live, fresh cloudlink-home (never signal a process
// that reused the pid of a dead agent). Returns the line to print: what was done, or why not
// and what to do instead.
std::string tell_agent_to_reload(const std::string& config_path);

// The human-readable report for `cloudlink-home status`: one line per tunnel, or an error
// when there is no status file or the agent that wrote it is not running.
Result<std::string> describe_status(const std::string& path);

}  // namespace cloudlink::home
