// cloudlink-home: the home agent. Parses the command line; the commands live in commands/.
#include <CLI/CLI.hpp>
#include <string>

#include "common/cli_parse.h"
#include "common/log.h"
#include "home-agent/cert/cert_command.h"
#include "home-agent/commands/commands.h"
#include "home-agent/config/agent_config.h"
#include "home-agent/enroll/enroll_cli.h"

int main(int argc, char** argv) {
  using namespace cloudlink::home;
  cloudlink::log_program_name() = "cloudlink-home";
  CLI::App app{"cloudlink-home: keep a home's services reachable through a cloudlink VPS"};
  app.require_subcommand(1);
  app.fallthrough();  // `cloudlink-home run --config X` as well as `--config X run`
  std::string config_flag;
  app.add_option("--config", config_flag,
                 "cloudlink.yaml to use (default: $CLOUDLINK_CONFIG, else ./cloudlink.yaml)");

  KeygenOptions keygen;
  CLI::App* keygen_cmd = app.add_subcommand("keygen", "make the home's ed25519 key pair");
  keygen_cmd->add_option("--output", keygen.output, "private key path (public: PATH.pub)")
      ->capture_default_str();
  keygen_cmd->add_flag("--force", keygen.force, "replace an existing key");
  keygen_cmd->add_option("--comment", keygen.comment, "public key comment")->capture_default_str();

  RunOptions run;
  CLI::App* run_cmd = app.add_subcommand("run", "keep every service's tunnels up");
  run_cmd
      ->add_option("--keepalive", run.keepalive_seconds,
                   "seconds between keepalives; no answer for 3.5 times this = dead server")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  CLI::App* status_cmd = app.add_subcommand("status", "show the running agent's tunnels");
  bool status_json = false;
  status_cmd->add_flag("--json", status_json,
                       "one JSON document: each service, its tunnels, ports, certificate expiry");

  std::string hostname;
  CLI::App* ssh_cmd = app.add_subcommand(
      "print-ssh-command", "print the OpenSSH command line(s) equivalent to a service's tunnels");
  ssh_cmd->add_option("HOSTNAME", hostname, "the service's public hostname")->required();

  EnrollCli enroll(app);  // register, expose, unexpose
  CertCli cert(app);

  cloudlink::add_version_flag(app, "cloudlink-home");
  // Usage errors exit 2 like a bad cloudlink.yaml (kExitConfig), not with CLI11's own codes.
  if (auto code = cloudlink::parse_arguments(app, argc, argv)) return *code;
  std::string config = config_path(config_flag);
  if (*keygen_cmd) return keygen_command(keygen);
  if (*run_cmd) return run_command(config, run);
  if (*status_cmd) return status_command(config, status_json);
  if (*ssh_cmd) return print_ssh_command(config, hostname);
  if (auto status = enroll.run(config_flag)) return *status;
  if (int status = cert.run(config_flag); status >= 0) return status;
  return kExitFailure;
}
