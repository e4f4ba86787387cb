// Starts the VPS services after `init`: `systemctl enable --now` of cloudlink-control and
// cloudlink-dataplane (control restarted first when its settings changed), or, when systemd
// is not what runs this machine (a container, a chroot), nothing and a line saying so.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"

namespace cloudlink::control {

struct ServiceStart {
  // The systemctl to run; empty: "systemctl" from PATH, and only when systemd is running
  // (/run/systemd/system exists, as sd_booted(3) checks).
  std::string systemctl;
  bool restart_control = false;  // control's settings changed: try-restart it first
};

// What was done, one line each; an error when a systemctl run fails (its exit status named).
Result<std::vector<std::string>> start_services(const ServiceStart& start);

}  // namespace cloudlink::control
