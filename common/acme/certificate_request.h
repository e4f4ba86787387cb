// A new certificate key (ECDSA P-256) and the PKCS#10 request for it, naming the hostnames in
// subjectAltName (what CAs read; the CN is set to the first for older tooling).
#pragma once

#include <string>
#include <vector>

#include "common/result.h"

namespace cloudlink::acme {

struct CertificateRequest {
  std::string key_pem;  // the new certificate's private key
  std::string csr_der;  // DER, for the ACME finalize request
};

Result<CertificateRequest> make_certificate_request(const std::vector<std::string>& hostnames);

}  // namespace cloudlink::acme
