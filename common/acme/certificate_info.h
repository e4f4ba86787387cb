// What a renewal decision needs to know about a certificate chain: the leaf's validity, the
// DNS names it covers, and whether it is self-issued (a placeholder, not a CA's). And the
// placeholder itself: a self-signed certificate a TLS listener can serve before the first one
// from a CA arrives.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "common/acme/acme_client.h"
#include "common/result.h"

namespace cloudlink::acme {

using SystemTime = std::chrono::system_clock::time_point;

struct CertificateInfo {
  SystemTime not_before;
  SystemTime not_after;
  std::vector<std::string> dns_names;  // subjectAltName DNS entries, as written
  bool self_issued = false;            // issuer name == subject name

  // hostname is listed (ASCII case-insensitive; wildcards are not expanded).
  bool covers(std::string_view hostname) const;
};

// The first certificate of a PEM chain (the leaf); an error when there is none or it does
// not parse.
Result<CertificateInfo> read_certificate_info(std::string_view chain_pem);

// The private key key_pem belongs to the leaf of chain_pem (an error saying why not).
Result<void> check_key_matches(std::string_view chain_pem, std::string_view key_pem);

// A new P-256 key and a self-signed certificate for hostname (CN and subjectAltName), valid
// from not_before to not_after.
Result<IssuedCertificate> make_self_signed_certificate(const std::string& hostname,
                                                       SystemTime not_before, SystemTime not_after);

// t as UTC, "2026-11-28T04:30:00Z", for log lines about validity and renewal.
std::string utc_text(SystemTime t);

}  // namespace cloudlink::acme
