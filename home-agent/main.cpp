// cloudlink-home: the home agent's command line.
#include <CLI/CLI.hpp>

#include "home-agent/enroll/enroll_cli.h"

int main(int argc, char** argv) {
  CLI::App app("cloudlink-home: this home's tunnels to a cloudlink VPS", "cloudlink-home");
  app.require_subcommand(1);
  cloudlink::home::EnrollCli enroll(app);
  CLI11_PARSE(app, argc, argv);
  if (auto status = enroll.run()) return *status;
  return 2;
}
