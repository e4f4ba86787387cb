// The ACME account key: ECDSA P-256, signing requests as flattened JWS with ES256 (RFC 8555
// section 6.2, RFC 7518 section 3.4). Kept in a PEM file (0600) and reused across orders, so
// the account and its rate limits stay the same.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/acme/openssl_ptr.h"
#include "common/result.h"

namespace cloudlink::acme {

class AccountKey {
 public:
  static Result<AccountKey> generate();
  static Result<AccountKey> from_pem(std::string_view pem);
  // Reads path, or generates a key and writes it there (0600, atomically) when it is absent.
  static Result<AccountKey> load_or_create(const std::string& path);

  std::string to_pem() const;
  // The public key as a JWK: {"crv":"P-256","kty":"EC","x":…,"y":…}.
  const nlohmann::json& jwk() const { return jwk_; }
  // RFC 7638 thumbprint (base64url SHA-256 of the JWK's required members in order).
  const std::string& thumbprint() const { return thumbprint_; }

  // A flattened JWS of payload ("" for POST-as-GET) with the protected header
  // {"alg":"ES256","nonce","url"} plus "kid" when given, else "jwk".
  Result<nlohmann::json> sign(std::string_view payload, std::string_view nonce,
                              std::string_view url, std::string_view kid = {}) const;

  // The raw ES256 signature (r || s, 64 bytes) of data: for tests and for sign().
  Result<std::string> sign_es256(std::string_view data) const;
  EVP_PKEY* pkey() const { return key_.get(); }

 private:
  explicit AccountKey(EvpPkeyPtr key);
  Result<void> describe();

  EvpPkeyPtr key_;
  nlohmann::json jwk_;
  std::string thumbprint_;
};

}  // namespace cloudlink::acme
