// cloudlink-home's subcommands, each a function main() calls after parsing the command line.
// Each returns the process exit status and prints its own output (errors: one line on stderr).
#pragma once

#include <string>

namespace cloudlink::home {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitConfig = 2;          // cloudlink.yaml missing or malformed
inline constexpr int kExitHostKeyChanged = 3;  // run: the VPS presented another host key
inline constexpr int kExitNotRunning = 3;      // status: no agent is running

struct KeygenOptions {
  std::string output = "cloudlink_ed25519";
  bool force = false;
  std::string comment = "cloudlink-home";
};
int keygen_command(const KeygenOptions& options);

struct RunOptions {
  int keepalive_seconds = 10;  // a dead server is noticed after 3.5 times this
};
int run_command(const std::string& config_path, const RunOptions& options);

// as_json: the machine-readable document of status_json.h. Either way kExitNotRunning when no
// agent runs with this config.
int status_command(const std::string& config_path, bool as_json);

int print_ssh_command(const std::string& config_path, const std::string& hostname);

}  // namespace cloudlink::home
