#include "common/cli_parse.h"

#include <string>

#include "common/log.h"
#include "common/version.h"

namespace cloudlink {

void add_version_flag(CLI::App& app, const char* program) {
  app.set_version_flag("--version", std::string(program) + " " + kVersion,
                       "print the program's name and version, then exit");
}

std::optional<int> parse_arguments(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version arrive as "errors" with exit code 0; CLI11 prints them.
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(e);
    log_error("%s (see --help)", e.what());
    return kExitUsage;
  }
  return std::nullopt;
}

}  // namespace cloudlink
