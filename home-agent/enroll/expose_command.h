// `cloudlink-home expose` and `unexpose`: publish a local service under a hostname, or take
// it down. expose picks tunnel ports of the home's block that no other service of the config
// uses, creates the mapping through the control API (its route is live when that answers)
// and adds the service to cloudlink.yaml; unexpose deletes the mapping and removes the
// service. The config file is rewritten only after the API call succeeded, so a refusal
// (hostname taken, forbidden, control unreachable) leaves it as it was; each command holds
// the config's ConfigLock from reading the file to writing it. Once the file is written, an
// agent running with it is told to reload (SIGHUP; status_file.h), which changes only this
// service's tunnels.
#pragma once

#include <string>

#include "common/result.h"

namespace cloudlink::home {

// How expose and unexpose reach the control API.
struct ApiAccess {
  std::string config_path;
  std::string ca_bundle;  // "" = the config's server.ca_bundle, else the system's CA store
  // Both set: log in again (the token saved in the config is replaced once the command
  // succeeds). Otherwise the saved token is used.
  std::string username;
  std::string password;
};

struct ExposeOptions {
  ApiAccess access;
  std::string hostname;
  std::string target;  // HOST:PORT of the local service
  int connections = 1;
  bool proxy_protocol = false;
  bool terminate_tls = false;  // the agent terminates TLS (home-agent/tls)
};

// The line printed on success.
Result<std::string> expose_service(const ExposeOptions& options);

Result<std::string> unexpose_service(const ApiAccess& access, const std::string& hostname);

}  // namespace cloudlink::home
