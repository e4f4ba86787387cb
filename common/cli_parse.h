// One way for every cloudlink program to parse its command line with CLI11, so `--help`,
// `--version` and a usage error behave and exit the same everywhere:
//   0  done (and after --help / --version)
//   1  failed (the command ran and could not do its work)
//   2  usage or configuration error (bad flag, bad value, bad settings file): nothing was done
// Programs may document more specific codes above 2 (the agent's 3).
#pragma once

#include <CLI/CLI.hpp>
#include <optional>

namespace cloudlink {

inline constexpr int kExitDone = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;

// Adds `--version`, which prints "PROGRAM VERSION" (common/version.h) on stdout and exits 0.
void add_version_flag(CLI::App& app, const char* program);

// Parses argv into app. Returns nothing when the program should go on; otherwise the exit code:
// 0 after --help or --version (printed on stdout), 2 after a usage error (one line on stderr
// through log_line, ending "(see --help)"), never CLI11's own codes (105, 106, 109, ...).
std::optional<int> parse_arguments(CLI::App& app, int argc, char** argv);

}  // namespace cloudlink
