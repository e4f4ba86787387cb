// `cloudlink-home status --json`: the agent's state for programs (monitoring, alerting):
//
//   {"config": PATH, "agent": {"running": true, "pid": 123, "updated": UNIX, "stale": false},
//    "services": [{"hostname": "app.example.com", "target": "127.0.0.1:8443",
//                  "configured": true, "tunnels_up": 1,
//                  "tunnels": [{"name": "app.example.com#0", "tunnel_port": 20000,
//                               "state": "up", "since": UNIX, "bytes_in": N, "bytes_out": N,
//                               "connections_total": N, "connections_open": N,
//                               "last_error": ""}],
//                  "certificate": {"not_after": UNIX, "not_after_text": "2027-...Z",
//                                  "self_issued": false} or null}]}
//
// Services are those of cloudlink.yaml (configured: true), then those the running agent still
// serves but the file no longer lists (configured: false, until a reload). A tunnel of an agent
// that is not running is "down". certificate: the one installed for the hostname, when there
// is one that loads (readable by whoever asks).
#pragma once

#include <string>

namespace cloudlink::home {

struct StatusJson {
  std::string text;  // the document, one line, with a newline
  bool running = false;
};

StatusJson status_json(const std::string& config_path);

}  // namespace cloudlink::home
