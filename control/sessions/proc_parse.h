// Parsers for the few /proc texts the session reaper and control's quarantine check read:
//   /proc/net/tcp and /proc/net/tcp6  (proc(5): one socket per line, hex fields)
//   /proc/PID/stat                    (proc(5): "pid (comm) state ppid ... starttime ...")
//   the target of a /proc/PID/fd/N link ("socket:[INODE]")
// Every input is treated as hostile text (a process names its own comm): lengths are checked,
// numbers are range-checked, and a malformed line is skipped, never a crash. No allocation
// beyond the result vectors.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace cloudlink::sessions {

// TCP_LISTEN in the "st" column (include/net/tcp_states.h).
inline constexpr unsigned kTcpListen = 0x0a;

struct TcpSocket {
  uint16_t local_port = 0;
  bool loopback = false;  // local address 127.0.0.0/8 or ::1 (or ::ffff:127.x)
  bool any = false;       // local address 0.0.0.0 or ::
  unsigned state = 0;     // the "st" column
  uint32_t uid = 0;
  uint64_t inode = 0;
};

// Every well-formed socket line of a /proc/net/tcp or tcp6 text (the header line and any
// malformed line are skipped).
std::vector<TcpSocket> parse_proc_net_tcp(std::string_view text);

struct ProcStat {
  int64_t pid = 0;
  std::string_view comm;  // into the parsed text, without the parentheses
  char state = 0;
  int64_t ppid = 0;
  uint64_t starttime = 0;  // field 22, clock ticks after boot: tells a reused pid apart
};

// /proc/PID/stat; nullopt when malformed. comm may hold spaces and ')': the comm ends at the
// last ')' of the text.
std::optional<ProcStat> parse_proc_stat(std::string_view text);

// The inode of a "socket:[INODE]" fd link target; nullopt for any other target.
std::optional<uint64_t> parse_socket_link(std::string_view target);

}  // namespace cloudlink::sessions
