// The home's SSH key pair: ed25519, private key in OpenSSH format (0600), public key beside
// it as PATH.pub in authorized_keys form.
#pragma once

#include <string>

#include "common/result.h"

namespace cloudlink::home {

// Writes PATH and PATH.pub; refuses when either exists unless force. Returns the public line
// ("ssh-ed25519 AAAA... comment").
Result<std::string> generate_key_pair(const std::string& path, bool force,
                                      const std::string& comment);

// The public key line ("TYPE BASE64", no comment) of the private key file at path.
Result<std::string> public_key_of(const std::string& private_key_path);

}  // namespace cloudlink::home
