// The `routes` commands of cloudlink-control, separated from argument parsing so tests and
// later front ends (REST) run the same code. Each command validates all of its input before
// it opens the table: bad input changes nothing.
#pragma once

#include <string>

namespace cloudlink::control {

inline constexpr int kExitOk = 0;
inline constexpr int kExitRuntime = 1;  // the table could not be opened or written
inline constexpr int kExitUsage = 2;    // bad input; nothing was changed

// What a command did: on success, text for stdout; on failure, one line for stderr.
struct CommandOutcome {
  int exit_code = kExitOk;
  std::string text;
};

struct RouteAddOptions {
  std::string host;
  std::string targets;         // "ADDR:PORT[,ADDR:PORT...]"
  std::string proxy_protocol;  // "" or "v2"
  std::string http_target;     // "" or "ADDR:PORT"
  std::string home = "cli";
  std::string data_dir = "/var/lib/cloudlink";  // state::kDefaultDataDir
};

// Each refuses a data folder `init` never made (exit kExitUsage, control/state/data_folder.h).

// Adds the route, or replaces the route of an existing host ("updated").
CommandOutcome routes_add(const RouteAddOptions& options);
// Removes the host's route; a host without a route is a runtime failure.
CommandOutcome routes_rm(const std::string& host, const std::string& data_dir);
// The table as aligned text (HOST TARGETS HTTP-TARGET FLAGS HOME) or as a JSON array.
CommandOutcome routes_list(const std::string& data_dir, bool json);

}  // namespace cloudlink::control
