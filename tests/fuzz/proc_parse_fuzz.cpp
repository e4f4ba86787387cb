// /proc/net/tcp{,6}, /proc/PID/stat, fd link text and session records: a process names its own
// comm, so the reaper's parsers read hostile text. None may crash, read out of bounds or hang.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "control/sessions/proc_parse.h"
#include "control/sessions/session_spool.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto sockets = cloudlink::sessions::parse_proc_net_tcp(text);
  for (const auto& s : sockets) {
    if (s.state > 0xff) __builtin_trap();
  }
  if (auto stat = cloudlink::sessions::parse_proc_stat(text)) {
    if (stat->comm.data() < text.data() || stat->comm.end() > text.end()) __builtin_trap();
  }
  (void)cloudlink::sessions::parse_socket_link(text);
  // A session record (written by the unprivileged key user, read by root): name up to the
  // first newline, the rest as the file's text.
  size_t cut = text.find('\n');
  if (cut != std::string_view::npos) {
    (void)cloudlink::sessions::parse_session_record(text.substr(0, cut), text.substr(cut + 1));
  }
  return 0;
}
