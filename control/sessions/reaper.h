// `cloudlink-control sessions reap`: ends the SSH sessions that hold a tunnel listener no home
// may hold now. sshd asks `authorized-keys` only at login, so when a home is deleted, or its
// owner deactivated, its open sessions keep their -R listeners; this loop (run as root: it
// reads other users' /proc/PID/fd and signals sshd's processes) finds the processes of the
// shared SSH user that listen on a port outside session_policy() (the ports of homes whose
// owner is active) and ends them: SIGTERM, then SIGKILL when the same process is still there
// a pass later. sshd's privileged monitor then closes the connection. With a sessions
// directory it also ends every session whose recorded key may no longer log in, listener or
// not (its sshd monitor, which passes the signal to the session's process).
//
// It opens the state read-only and writes nothing; control itself stays unprivileged and
// sees the result in /proc/net/tcp (a quarantined block is released once nothing listens).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "control/sessions/session_spool.h"
#include "control/state/state_store.h"

namespace cloudlink::sessions {

struct ReaperOptions {
  std::string data_dir;
  std::string ssh_user = "cloudlink";
  std::optional<pid_t> sshd_pid;  // only sessions of this sshd (several sshds on one host)
  std::chrono::milliseconds interval{1000};
  std::string proc_root = "/proc";
  // Where authorized-keys records which key each session logged in with
  // (control/sessions/session_spool.h); empty: sessions are ended by their listeners only.
  std::string sessions_dir;
};

struct ReapPass {
  size_t listeners = 0;  // processes of the SSH user holding listeners
  size_t ended = 0;      // signalled this pass
  size_t recorded = 0;   // live sessions with a key record
};

class Reaper {
 public:
  explicit Reaper(ReaperOptions options);
  // One scan: reads the policy and /proc, signals what must end.
  Result<ReapPass> pass();
  // Passes every interval until SIGINT or SIGTERM (which the caller has blocked); exit code.
  int run();

 private:
  // SIGTERM, or SIGKILL when the same process was signalled in the last pass.
  bool end(pid_t pid, uint64_t starttime, const std::string& why);
  void end_by_key(const state::SessionPolicy& policy, const std::vector<SessionRecord>& records,
                  ReapPass& result);

  ReaperOptions options_;
  uid_t uid_ = 0;
  // Processes signalled in the last pass: (pid -> starttime), so a survivor gets SIGKILL and a
  // reused pid does not.
  std::map<pid_t, uint64_t> signalled_;
  std::map<pid_t, uint64_t> signalled_now_;
};

// Blocks SIGINT and SIGTERM, resolves the SSH user and runs the reaper; the exit code.
int run_reaper(const ReaperOptions& options);

}  // namespace cloudlink::sessions
