// Starting the next dataplane process for an upgrade (SIGHUP/SIGUSR2, `systemctl reload`):
// the binary found at start (so a package upgrade that replaced the file starts the new
// version), with the same arguments and one end of a handover socket pair (handover.h).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"

namespace cloudlink::dataplane {

inline constexpr const char* kTakeoverFlag = "--takeover-fd";

// Remembers what to run for an upgrade: /proc/self/exe resolved now (after a package upgrade
// it would read "... (deleted)") and argv without a previous --takeover-fd.
class SuccessorCommand {
 public:
  static Result<SuccessorCommand> capture(int argc, char** argv);
  const std::string& executable() const { return executable_; }
  const std::vector<std::string>& arguments() const { return arguments_; }

 private:
  std::string executable_;
  std::vector<std::string> arguments_;
};

struct Successor {
  pid_t pid = -1;
  UniqueFd socket;  // our end of the handover pair
};

// Starts the successor with `--takeover-fd N` naming its end of a fresh SOCK_SEQPACKET pair.
// WATCHDOG_PID is left out of its environment: it names us, and sd_watchdog_enabled() in the
// successor would otherwise conclude the watchdog is someone else's.
Result<Successor> spawn_successor(const SuccessorCommand& command);

// Gives up on a successor that failed: SIGKILL, then reap it.
void abandon_successor(Successor& successor);

}  // namespace cloudlink::dataplane
