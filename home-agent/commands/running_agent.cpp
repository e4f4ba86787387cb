#include "home-agent/commands/running_agent.h"

#include "common/log.h"
#include "home-agent/keys/keygen.h"

namespace cloudlink::home {

namespace {

// The certificate keeper orders for every service of a config: it starts again when what it
// reads changed (an order in flight is cancelled and its temporary mapping taken back).
bool keeper_inputs_changed(const AgentConfig& a, const AgentConfig& b) {
  if (a.server != b.server || a.home != b.home || a.acme != b.acme) return true;
  if (a.services.size() != b.services.size()) return true;
  for (size_t i = 0; i < a.services.size(); ++i) {
    if (a.services[i].hostname != b.services[i].hostname) return true;
  }
  return false;
}

std::string plural(size_t n, const char* what) {
  return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
}

}  // namespace

RunningAgent::RunningAgent(std::string config_path, RunOptions options, StatusBoard& board,
                           FatalHandler fatal)
    : config_path_(std::move(config_path)), options_(options), tunnels_(board, std::move(fatal)) {}

RunningAgent::~RunningAgent() {
  certificates_.reset();
  tunnels_.stop_all();
}

Result<RunningAgent::Plan> RunningAgent::plan(bool at_start) const {
  auto config = load_agent_config(config_path_);
  if (!config.ok()) return config.error();
  auto runnable = require_runnable(*config, config_path_, /*need_services=*/at_start);
  if (!runnable.ok()) return runnable.error();
  if (!config->services.empty()) {
    auto key = public_key_of(resolve_key_path(config_path_, config->ssh->private_key));
    if (!key.ok()) {
      return Error(std::error_code(), config_path_ + ": ssh.private_key: " + key.error().message());
    }
  }
  auto keepalive = KeepaliveSettings::every(std::chrono::seconds(options_.keepalive_seconds));
  Plan plan;
  plan.tunnels = plan_tunnels(*config, config_path_, keepalive);
  plan.config = std::move(*config);
  return plan;
}

int RunningAgent::start() {
  auto planned = plan(/*at_start=*/true);
  if (!planned.ok()) {
    log_line("%s", planned.error().message().c_str());
    return kExitConfig;
  }
  auto terminated = terminators_.prepare(config_path_, planned->config.acme.value_or(AcmeConfig{}),
                                         planned->tunnels.specs);
  if (!terminated.ok()) {
    log_line("%s", terminated.error().message().c_str());
    return kExitFailure;
  }
  apply(std::move(*planned));
  log_line("running %zu tunnel(s) from %s", tunnels_.size(), config_path_.c_str());
  // Temporary mappings left by an interrupted order, then certificate renewals.
  certificates_ = start_certificate_keeper(config_path_);
  return kExitOk;
}

TunnelSet::Change RunningAgent::apply(Plan plan) {
  terminators_.commit();
  auto change = tunnels_.apply(plan.tunnels.specs, plan.tunnels.ids);
  config_ = std::move(plan.config);
  return change;
}

RunningAgent::ReloadOutcome RunningAgent::reload() {
  auto refused = [&](const Error& error) {
    return ReloadOutcome{false, "reload refused: " + error.message() + "; the " +
                                    plural(tunnels_.size(), "running tunnel") +
                                    " stay as they are"};
  };
  auto planned = plan(/*at_start=*/false);
  if (!planned.ok()) return refused(planned.error());
  auto terminated = terminators_.prepare(config_path_, planned->config.acme.value_or(AcmeConfig{}),
                                         planned->tunnels.specs);
  if (!terminated.ok()) return refused(terminated.error());
  const bool restart_keeper = keeper_inputs_changed(config_, planned->config);
  auto change = apply(std::move(*planned));
  if (restart_keeper) {
    certificates_.reset();
    certificates_ = start_certificate_keeper(config_path_);
  }
  return ReloadOutcome{true, "reloaded " + config_path_ + ": " + plural(change.started, "tunnel") +
                                 " started, " + std::to_string(change.stopped) + " stopped, " +
                                 std::to_string(change.kept) + " kept"};
}

}  // namespace cloudlink::home
