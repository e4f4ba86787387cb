// `run`'s TLS termination: one TlsTerminator per service with terminate_tls, and that
// service's tunnels pointed at it instead of at the service. Across reloads a terminator is
// kept while its service keeps its name, target and certificate folder, so its listening port
// (which running tunnels point at) and its open connections stay.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "home-agent/tls/tls_terminator.h"
#include "home-agent/tunnel/tunnel.h"

namespace cloudlink::home {

class TlsTerminators {
 public:
  // The certificate folder of hostname under the config at config_path.
  static std::string certificates_dir(const std::string& config_path, const AcmeConfig& acme,
                                      const std::string& hostname);

  // Starts the terminators specs need that are not running yet and points the specs of
  // terminate_tls services at theirs. Nothing changes until commit(): on an error the running
  // terminators stay as they are.
  Result<void> prepare(const std::string& config_path, const AcmeConfig& acme,
                       std::vector<TunnelSpec>& specs);
  // Makes the prepared set the running one; terminators no longer needed stop.
  void commit();
  size_t size() const { return running_.size(); }

 private:
  using Key = std::string;  // hostname, target and certificate folder
  std::map<Key, std::shared_ptr<TlsTerminator>> running_;
  std::map<Key, std::shared_ptr<TlsTerminator>> prepared_;
};

}  // namespace cloudlink::home
