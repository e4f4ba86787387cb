// What /proc says about listening sockets and the processes that hold them. The session
// reaper (root) uses all of it; control itself (unprivileged) only listening_ports(), which
// reads the world-readable /proc/net/tcp{,6} of its network namespace.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/result.h"
#include "control/sessions/proc_parse.h"

namespace cloudlink::sessions {

// Every socket of /proc/net/tcp and /proc/net/tcp6 under proc_root (a missing tcp6, on a
// kernel without IPv6, is no error).
Result<std::vector<TcpSocket>> read_tcp_sockets(const std::string& proc_root = "/proc");

// Ports with a TCP listener on a loopback or wildcard address: what a tunnel listener of sshd
// would be. Used to keep a port block quarantined while anything still listens on it.
Result<std::set<uint16_t>> listening_ports(const std::string& proc_root = "/proc");

// A process of the SSH user that holds listening sockets.
struct ListeningProcess {
  pid_t pid = 0;
  uint64_t starttime = 0;
  std::set<uint16_t> ports;
};

struct ProcessFilter {
  uid_t uid = 0;                     // the process's real uid (the shared tunnel user)
  std::string comm_prefix = "sshd";  // "sshd" (OpenSSH <= 9.7) and "sshd-session" (9.8 on)
  std::optional<pid_t> ancestor;     // only descendants of this pid (one sshd of several)
};

// pid's start time (/proc/PID/stat field 22) and comm; nullopt when it is gone.
struct ProcessIdentity {
  uint64_t starttime = 0;
  std::string comm;
};
std::optional<ProcessIdentity> process_identity(pid_t pid, const std::string& proc_root = "/proc");

// Whether ancestor is pid's parent, grandparent, ... (at most 64 levels).
bool descends_from(pid_t pid, pid_t ancestor, const std::string& proc_root = "/proc");

// The processes matching filter that hold a listening socket, with the listening ports. A
// process that exits during the scan is skipped.
std::vector<ListeningProcess> listening_processes(const ProcessFilter& filter,
                                                  const std::string& proc_root = "/proc");

}  // namespace cloudlink::sessions
