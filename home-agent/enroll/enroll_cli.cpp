#include "home-agent/enroll/enroll_cli.h"

#include <iostream>

#include "common/log.h"
#include "home-agent/config/agent_config.h"

namespace cloudlink::home {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;

int report(const Result<std::string>& outcome) {
  if (!outcome) {
    log_error("%s", outcome.error().message().c_str());
    return kExitFailure;
  }
  std::cout << *outcome;
  return kExitOk;
}

// --username and --password-stdin for commands that use the saved token by default.
void add_relogin(CLI::App* cmd, ApiAccess& access, bool& password_stdin) {
  auto* user = cmd->add_option("--username", access.username,
                               "log in again as this user (the saved token has expired)");
  auto* password = cmd->add_flag("--password-stdin", password_stdin,
                                 "read the password for --username from stdin");
  user->needs(password);
  password->needs(user);
  cmd->add_option("--ca-bundle", access.ca_bundle,
                  "PEM file the control server's certificate must chain to (default: system)");
}

}  // namespace

EnrollCli::EnrollCli(CLI::App& app) {
  add_register(app);
  add_expose(app);
  add_unexpose(app);
}

void EnrollCli::add_register(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "register", "log in to cloudlink-control, create this home, write cloudlink.yaml");
  cmd->add_option("--server", register_.server_url, "control API URL, https://HOST[:PORT]")
      ->required();
  cmd->add_option("--username", register_.username, "your cloudlink user")->required();
  cmd->add_flag("--password-stdin", password_stdin_, "read the password from stdin")->required();
  cmd->add_option("--public-key", register_.public_key_path, "the home's OpenSSH public key file")
      ->required();
  cmd->add_option("--private-key", register_.private_key_path, "its private key file")->required();
  cmd->add_option("--config", config_flag_, "cloudlink.yaml to write (created, mode 0600)");
  cmd->add_option("--name", register_.name, "the home's name (default: this machine's hostname)");
  cmd->add_option("--ca-bundle", register_.ca_bundle,
                  "PEM file the control server's certificate must chain to (default: system)");
  register_cmd_ = cmd;
}

void EnrollCli::add_expose(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "expose", "publish a local service under HOSTNAME through the home's tunnels");
  cmd->add_option("HOSTNAME", expose_.hostname, "public name, e.g. app.example.com")->required();
  cmd->add_option("--to", expose_.target, "the local service, HOST:PORT")->required();
  cmd->add_option("--connections", expose_.connections,
                  "SSH connections (one tunnel port each) to balance over")
      ->capture_default_str();
  cmd->add_flag("--proxy-protocol", expose_.proxy_protocol,
                "send the client's address first, as a PROXY v2 header");
  cmd->add_flag("--terminate-tls", expose_.terminate_tls,
                "the agent terminates TLS with the name's certificate (cert) and sends plain "
                "bytes to --to");
  cmd->add_option("--config", config_flag_, "cloudlink.yaml");
  add_relogin(cmd, expose_.access, password_stdin_);
  expose_cmd_ = cmd;
}

void EnrollCli::add_unexpose(CLI::App& app) {
  auto* cmd = app.add_subcommand("unexpose", "take HOSTNAME down and remove its service");
  cmd->add_option("HOSTNAME", unexpose_hostname_, "the exposed name")->required();
  cmd->add_option("--config", config_flag_, "cloudlink.yaml");
  add_relogin(cmd, unexpose_, password_stdin_);
  unexpose_cmd_ = cmd;
}

bool EnrollCli::read_password(std::string& password, bool wanted) {
  if (!wanted) return true;
  if (!std::getline(std::cin, password)) {
    log_error("--password-stdin: nothing on stdin");
    return false;
  }
  if (!password.empty() && password.back() == '\r') password.pop_back();
  return true;
}

std::optional<int> EnrollCli::run(const std::string& global_config_flag) {
  const std::string config = config_path(config_flag_.empty() ? global_config_flag : config_flag_);
  if (register_cmd_->parsed()) {
    register_.config_path = config;
    if (!read_password(register_.password, true)) return kExitFailure;
    auto summary = register_home(register_);
    if (!summary) return report(summary.error());
    return report(format_register_summary(*summary));
  }
  if (expose_cmd_->parsed()) {
    expose_.access.config_path = config;
    if (!read_password(expose_.access.password, password_stdin_)) return kExitFailure;
    return report(expose_service(expose_));
  }
  if (unexpose_cmd_->parsed()) {
    unexpose_.config_path = config;
    if (!read_password(unexpose_.password, password_stdin_)) return kExitFailure;
    return report(unexpose_service(unexpose_, unexpose_hostname_));
  }
  return std::nullopt;
}

}  // namespace cloudlink::home
