// Where cloudlink-home keeps what ACME gives it, next to cloudlink.yaml: the account key
// (acme-account.pem, 0600, made once and reused), each hostname's key (0600) and full chain in
// CERTIFICATES/HOSTNAME/, and the record of temporary mappings in flight (cert-pending/).
#pragma once

#include <optional>
#include <string>

#include "common/acme/acme_client.h"
#include "common/acme/certificate_info.h"
#include "common/result.h"
#include "home-agent/config/agent_config.h"

namespace cloudlink::home {

struct CertificatePaths {
  std::string dir;    // CERTIFICATES/HOSTNAME (0700)
  std::string chain;  // fullchain.pem: leaf first, then the intermediates (0644)
  std::string key;    // key.pem (0600)
};

CertificatePaths certificate_paths(const std::string& config_path, const AcmeConfig& acme,
                                   const std::string& hostname);
std::string account_key_path(const std::string& config_path);
std::string pending_dir(const std::string& config_path);

// The installed certificate, when its chain and key can be read, parse and belong together.
std::optional<acme::CertificateInfo> installed_certificate(const CertificatePaths& paths);

// Writes key then chain, each atomically (temporary file, fsync, rename), creating the
// folders (0700) when absent. Nothing is written unless the chain names hostname and the key
// belongs to it, so a bad answer never replaces a working pair.
Result<acme::CertificateInfo> install_certificate(const CertificatePaths& paths,
                                                  const std::string& hostname,
                                                  const acme::IssuedCertificate& issued);

}  // namespace cloudlink::home
