// cloudlink-dataplane's settings, from its command line.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/cidr.h"
#include "common/result.h"
#include "common/socket_address.h"

namespace cloudlink::dataplane {

enum class RelayMode { kCopy, kSplice, kSockmap };

struct Config {
  std::string data_dir = "/var/lib/cloudlink";  // control init makes it
  std::vector<SocketAddress> tls_listeners;
  // Plain HTTP (:80): routed by the Host of the first request head (common/http_head.h).
  std::vector<SocketAddress> http_listeners;
  // Load balancers in front of us: a connection from one of these networks must start with a
  // PROXY header (v1 or v2), whose source then counts as the client; from anywhere else a
  // PROXY header closes the connection.
  std::vector<Cidr> trusted_proxies;
  SocketAddress metrics_listener;  // empty: no /metrics endpoint
  unsigned workers = 0;            // 0 before parsing fills it with the core count
  RelayMode relay = RelayMode::kCopy;
  bool require_bpf = false;  // --relay sockmap: a failed BPF probe fails the start (no fallback)
  std::chrono::milliseconds hello_timeout{5000};
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds idle_timeout{300000};
  std::chrono::milliseconds drain_timeout{30000};
  uint32_t max_connections = 65536;
  uint32_t buffer_size = 64 * 1024;  // copy relay: size of one provided buffer
  uint32_t buffers_per_worker = 256;
  // The settings file read (empty: none). Its keys are the flags' names (settings_file.h).
  std::string config_path;
  // --takeover-fd N: the handover socket from the predecessor that started us (successor.h);
  // -1 for a fresh start. Given by the predecessor only, never in the settings file.
  int takeover_fd = -1;
};

inline constexpr const char* kDefaultDataplaneConfig = "/etc/cloudlink/dataplane.conf";

// What parse_command_line decided: run with a config, or exit with a code (common/cli_parse.h:
// 0 after --help or --version, 2 after a usage error it has already reported).
struct CommandLine {
  Config config;
  bool exit_now = false;
  int exit_code = 0;
};

// Parses argv, then the settings file: --config FILE, else default_config when it exists (a
// missing default is no error, a missing --config FILE is). A flag overrides the file. Prints
// --help itself. A bad flag is an Error whose message names it; a bad file entry is an Error
// "FILE:LINE: key NAME: why".
Result<CommandLine> parse_command_line(int argc, char** argv,
                                       const std::string& default_config = kDefaultDataplaneConfig);

// "5", "0.5", "500ms", "5s", "2m" -> milliseconds. Negative, empty or unknown suffix: error.
Result<std::chrono::milliseconds> parse_duration(std::string_view text);

const char* relay_mode_name(RelayMode mode);

}  // namespace cloudlink::dataplane
