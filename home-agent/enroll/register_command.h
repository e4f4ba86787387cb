// `cloudlink-home register`: log in to the control API, create the home with this machine's
// public key, record the SSH server's host key (trust on first use) and write cloudlink.yaml
// (0600: it holds the API token; a --ca-bundle is kept as server.ca_bundle for the commands
// after it). Nothing is written unless every step succeeded; a home created before a later
// step failed is deleted again.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"

namespace cloudlink::home {

struct RegisterOptions {
  std::string server_url;
  std::string ca_bundle;  // "" = the system's CA store
  std::string username;
  std::string password;
  std::string public_key_path;
  std::string private_key_path;
  std::string config_path;
  std::string name;  // "" = this machine's hostname
};

struct RegisterSummary {
  std::string home_id;
  std::string slug;
  std::string ssh_user;
  std::string ssh_host;
  uint16_t ssh_port = 0;
  std::vector<uint16_t> ports;
  std::string host_key;
  std::string config_path;
};

Result<RegisterSummary> register_home(const RegisterOptions& options);

// The lines `register` prints.
std::string format_register_summary(const RegisterSummary& summary);

// "type base64" of the first line of an OpenSSH public key file (the comment dropped).
Result<std::string> read_public_key_line(const std::string& path);

}  // namespace cloudlink::home
