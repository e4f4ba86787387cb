// OpenSSH public keys as a home presents them ("ssh-ed25519 AAAA... comment"): parsed down to
// the wire blob, so a key is accepted for what it is, not for what its text claims.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace cloudlink::state {

inline constexpr unsigned kMinRsaBits = 3072;

struct SshPublicKey {
  std::string type;    // "ssh-ed25519", "ecdsa-sha2-nistp256/384/521" or "ssh-rsa"
  std::string base64;  // the blob, canonical base64 (what sshd passes as %k)
  unsigned bits = 0;   // key size: 256 for ed25519, the curve's for ECDSA, the modulus's for RSA

  std::string to_line() const { return type + " " + base64; }
};

// Parses one authorized_keys-style line: TYPE BASE64 [COMMENT]. No options prefix. The blob
// must decode, name the same type, and hold a well-formed key of that type; RSA needs a modulus
// of at least kMinRsaBits. Errors are invalid("public_key: ...") messages.
Result<SshPublicKey> parse_public_key_line(std::string_view line);
// The same checks for a type and blob given apart (sshd's %t and %k).
Result<SshPublicKey> parse_public_key(std::string_view type, std::string_view base64);

}  // namespace cloudlink::state
