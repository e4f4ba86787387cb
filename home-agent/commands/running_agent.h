// What `cloudlink-home run` keeps running for a cloudlink.yaml: the tunnels, the TLS
// terminators in front of terminate_tls services and the certificate keeper. start() reads
// the config once; reload() reads it again and changes only what changed (tunnel_diff.h):
// a config that does not load leaves everything running as it was.
#pragma once

#include <memory>
#include <string>

#include "common/result.h"
#include "home-agent/cert/certificate_keeper.h"
#include "home-agent/commands/commands.h"
#include "home-agent/commands/tunnel_plan.h"
#include "home-agent/config/agent_config.h"
#include "home-agent/status/status_board.h"
#include "home-agent/tls/tls_services.h"
#include "home-agent/tunnel/tunnel_set.h"

namespace cloudlink::home {

class RunningAgent {
 public:
  RunningAgent(std::string config_path, RunOptions options, StatusBoard& board, FatalHandler fatal);
  // Stops the certificate keeper, then every tunnel, then the terminators.
  ~RunningAgent();
  RunningAgent(const RunningAgent&) = delete;
  RunningAgent& operator=(const RunningAgent&) = delete;

  // The config must be runnable (require_runnable) and its key readable: otherwise one line
  // naming the file and the field is logged and the result is kExitConfig (kExitFailure when
  // a TLS terminator cannot listen). kExitOk once the tunnels are started. Call after
  // ssh_init().
  int start();

  struct ReloadOutcome {
    bool applied = false;
    std::string message;  // "reloaded ..." or "reload refused: ..."
  };
  // Re-reads the config and applies the difference. A config without services is accepted
  // (the last one was unexposed); one that does not parse, lacks the ssh section or whose key
  // cannot be read is refused and nothing changes.
  ReloadOutcome reload();

  void reap() { tunnels_.reap(); }
  void stop_all() { tunnels_.stop_all(); }
  size_t tunnel_count() const { return tunnels_.size(); }
  size_t service_count() const { return config_.services.size(); }

 private:
  struct Plan {
    AgentConfig config;
    TunnelPlan tunnels;
  };
  Result<Plan> plan(bool at_start) const;
  TunnelSet::Change apply(Plan plan);

  std::string config_path_;
  RunOptions options_;
  AgentConfig config_;
  TlsTerminators terminators_;
  TunnelSet tunnels_;
  std::unique_ptr<CertificateKeeper> certificates_;
};

}  // namespace cloudlink::home
