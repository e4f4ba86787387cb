#include <cstdio>

#include "common/log.h"
#include "home-agent/commands/commands.h"
#include "home-agent/commands/status_json.h"
#include "home-agent/status/status_file.h"

namespace cloudlink::home {

int status_command(const std::string& config_path, bool as_json) {
  if (as_json) {
    StatusJson status = status_json(config_path);
    std::fputs(status.text.c_str(), stdout);
    return status.running ? kExitOk : kExitNotRunning;
  }
  auto report = describe_status(status_path_for(config_path));
  if (!report.ok()) {
    // Still print what the last status file said: when it stopped is worth knowing.
    std::printf("%s\n", report.error().context().c_str());
    return kExitNotRunning;
  }
  std::fputs(report->c_str(), stdout);
  return kExitOk;
}

}  // namespace cloudlink::home
