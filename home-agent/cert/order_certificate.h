// One certificate order for a hostname of this home, start to end: leftovers of interrupted
// orders taken back, ACME account (key kept next to the config), a challenge tunnel on a free
// tunnel port of the home, the temporary mapping that sends the name's :80 to it, the order,
// the mapping taken back (on every path out), then key and chain installed. `cert` runs it
// once; `run` runs it when a certificate is missing or due.
#pragma once

#include <functional>
#include <string>

#include "common/acme/certificate_info.h"
#include "common/result.h"
#include "home-agent/config/agent_config.h"

namespace cloudlink::home {

struct CertificateOrder {
  std::string config_path;
  AgentConfig config;  // needs server, home, ssh and acme
  std::string hostname;
  std::string control_ca_bundle;  // "": server.ca_bundle, else the system store
  std::function<bool()> cancelled;
};

// The installed certificate. An order that failed leaves the installed files as they were.
// When the certificate was installed but control could not take the temporary mapping back,
// the result is an error that says both (the next cert or run removes the mapping).
Result<acme::CertificateInfo> order_certificate(const CertificateOrder& order);

}  // namespace cloudlink::home
