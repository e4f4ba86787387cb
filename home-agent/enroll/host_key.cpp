#include "home-agent/enroll/host_key.h"

#include <libssh/libssh.h>

#include <memory>

#include "home-agent/tunnel/ssh_handles.h"

namespace cloudlink::home {
namespace {

Error ssh_failure(const std::string& where, ssh_session session) {
  // libssh's message already says why (refused, timeout, no common algorithm).
  return Error(std::error_code(), "SSH host key of " + where + ": " + ssh_get_error(session));
}

}  // namespace

Result<std::string> fetch_host_key(const std::string& host, uint16_t port,
                                   std::chrono::seconds timeout) {
  const std::string where = host + ":" + std::to_string(port);
  SshSession session(ssh_new());
  if (!session) return Error(ENOMEM, "SSH host key of " + where + ": ssh_new failed");
  const unsigned int port_value = port;
  const long timeout_seconds = static_cast<long>(timeout.count());
  // Only what is given here counts: not ~/.ssh/config, not known_hosts.
  const bool process_config = false;
  if (ssh_options_set(session.get(), SSH_OPTIONS_PROCESS_CONFIG, &process_config) != SSH_OK ||
      ssh_options_set(session.get(), SSH_OPTIONS_HOST, host.c_str()) != SSH_OK ||
      ssh_options_set(session.get(), SSH_OPTIONS_PORT, &port_value) != SSH_OK ||
      ssh_options_set(session.get(), SSH_OPTIONS_TIMEOUT, &timeout_seconds) != SSH_OK ||
      ssh_options_set(session.get(), SSH_OPTIONS_KNOWNHOSTS, "/dev/null") != SSH_OK ||
      ssh_options_set(session.get(), SSH_OPTIONS_HOSTKEYS, kHostKeyAlgorithms) != SSH_OK) {
    return ssh_failure(where, session.get());
  }
  if (ssh_connect(session.get()) != SSH_OK) return ssh_failure(where, session.get());
  ssh_key raw_key = nullptr;
  if (ssh_get_server_publickey(session.get(), &raw_key) != SSH_OK) {
    return ssh_failure(where, session.get());
  }
  SshKey key(raw_key);
  char* raw_base64 = nullptr;
  if (ssh_pki_export_pubkey_base64(key.get(), &raw_base64) != SSH_OK) {
    return Error(EINVAL, "SSH host key of " + where + ": cannot export it");
  }
  SshText base64(raw_base64);
  const char* type = ssh_key_type_to_char(ssh_key_type(key.get()));
  if (type == nullptr) return Error(EINVAL, "SSH host key of " + where + ": unknown key type");
  return std::string(type) + " " + base64.get();
}

}  // namespace cloudlink::home
