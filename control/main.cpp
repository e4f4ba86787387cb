// cloudlink-control: the admin CLI. Parses arguments and prints; the commands live in the
// cloudlink_control library.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "common/log.h"
#include "control/route_commands.h"

namespace {

using cloudlink::control::CommandOutcome;

int finish(const CommandOutcome& outcome) {
  if (outcome.exit_code == cloudlink::control::kExitOk) {
    std::fputs(outcome.text.c_str(), stdout);
  } else {
    cloudlink::log_line("%s", outcome.text.c_str());
  }
  return outcome.exit_code;
}

}  // namespace

int main(int argc, char** argv) {
  cloudlink::log_program_name() = "cloudlink-control";
  CLI::App app{"cloudlink-control: manage the cloudlink route table"};
  app.require_subcommand(1);
  CLI::App* routes = app.add_subcommand("routes", "add, remove and list routes");
  routes->require_subcommand(1);

  cloudlink::control::RouteAddOptions add;
  CLI::App* add_cmd = routes->add_subcommand("add", "add a route, or replace a host's route");
  add_cmd->add_option("HOST", add.host, "hostname or *.wildcard, lower-case")->required();
  add_cmd->add_option("TARGET", add.targets, "ADDR:PORT[,ADDR:PORT...] for TLS")->required();
  add_cmd->add_option("--proxy-protocol", add.proxy_protocol, "send a PROXY header: v2");
  add_cmd->add_option("--http-target", add.http_target, "ADDR:PORT for plain HTTP on :80");
  add_cmd->add_option("--home", add.home, "owning home id")->capture_default_str();
  add_cmd->add_option("--data", add.data_dir, "data directory")->capture_default_str();

  std::string rm_host;
  std::string rm_data = "./var";
  CLI::App* rm_cmd = routes->add_subcommand("rm", "remove a host's route");
  rm_cmd->add_option("HOST", rm_host, "hostname")->required();
  rm_cmd->add_option("--data", rm_data, "data directory")->capture_default_str();

  std::string list_data = "./var";
  bool list_json = false;
  CLI::App* list_cmd = routes->add_subcommand("list", "print the route table");
  list_cmd->add_option("--data", list_data, "data directory")->capture_default_str();
  list_cmd->add_flag("--json", list_json, "print JSON");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // Argument errors are bad input like any other: one line, exit 2.
    cloudlink::log_line("%s (see --help)", e.what());
    return cloudlink::control::kExitUsage;
  }

  if (add_cmd->parsed()) return finish(cloudlink::control::routes_add(add));
  if (rm_cmd->parsed()) return finish(cloudlink::control::routes_rm(rm_host, rm_data));
  if (list_cmd->parsed()) return finish(cloudlink::control::routes_list(list_data, list_json));
  return cloudlink::control::kExitUsage;
}
