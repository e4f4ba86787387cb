#include "home-agent/tunnel/ssh_connect.h"

namespace cloudlink::home {

namespace {

std::string split_type(const std::string& line, std::string* blob) {
  size_t space = line.find(' ');
  if (space == std::string::npos) return line;
  std::string rest = line.substr(space + 1);
  *blob = rest.substr(0, rest.find(' '));
  return line.substr(0, space);
}

// Host key algorithms to offer for the configured key, so a server with several host keys
// presents the one we know instead of whichever it prefers.
const char* host_key_algorithms(const std::string& type) {
  if (type == "ssh-rsa" || type == "rsa-sha2-512" || type == "rsa-sha2-256") {
    return "rsa-sha2-512,rsa-sha2-256,ssh-rsa";
  }
  return nullptr;  // the type name is the algorithm
}

bool set_options(ssh_session session, const SshTarget& target, int timeout_seconds) {
  int port = target.ssh.port;
  long timeout = timeout_seconds;
  int no = 0;
  int yes = 1;
  std::string blob;
  std::string type = split_type(target.ssh.known_host_key, &blob);
  const char* algorithms = host_key_algorithms(type);
  // Nothing from ~/.ssh: the config file is the whole truth, and known_hosts is not ours.
  return ssh_options_set(session, SSH_OPTIONS_PROCESS_CONFIG, &no) == SSH_OK &&
         ssh_options_set(session, SSH_OPTIONS_HOST, target.ssh.host.c_str()) == SSH_OK &&
         ssh_options_set(session, SSH_OPTIONS_PORT, &port) == SSH_OK &&
         ssh_options_set(session, SSH_OPTIONS_USER, target.ssh.user.c_str()) == SSH_OK &&
         ssh_options_set(session, SSH_OPTIONS_TIMEOUT, &timeout) == SSH_OK &&
         // Nagle on the SSH socket meets the server's delayed ACK on every small write: ~40 ms
         // per new tunnelled connection (issue 4).
         ssh_options_set(session, SSH_OPTIONS_NODELAY, &yes) == SSH_OK &&
         ssh_options_set(session, SSH_OPTIONS_KNOWNHOSTS, "/dev/null") == SSH_OK &&
         ssh_options_set(session, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, "/dev/null") == SSH_OK &&
         ssh_options_set(session, SSH_OPTIONS_HOSTKEYS,
                         algorithms != nullptr ? algorithms : type.c_str()) == SSH_OK;
}

// The server's key as "TYPE BASE64", compared with the configured line by its base64 blob
// (the blob names the key type itself; RSA's signature algorithm names differ from it).
bool host_key_matches(ssh_session session, const std::string& known, std::string* presented) {
  ssh_key raw = nullptr;
  if (ssh_get_server_publickey(session, &raw) != SSH_OK) return false;
  SshKey key(raw);
  char* blob = nullptr;
  if (ssh_pki_export_pubkey_base64(key.get(), &blob) != SSH_OK) return false;
  SshText owned(blob);
  *presented = std::string(ssh_key_type_to_char(ssh_key_type(key.get()))) + " " + owned.get();
  std::string known_blob;
  split_type(known, &known_blob);
  return known_blob == owned.get();
}

SshSession fail(ConnectError* error, ConnectFailure kind, std::string message) {
  *error = ConnectError{kind, std::move(message)};
  return nullptr;
}

}  // namespace

SshSession ssh_connect_verified(const SshTarget& target, int timeout_seconds, ConnectError* error) {
  SshSession session(ssh_new());
  if (!session) return fail(error, ConnectFailure::kTransient, "ssh_new failed");
  if (!set_options(session.get(), target, timeout_seconds)) {
    return fail(error, ConnectFailure::kTransient,
                std::string("ssh options: ") + ssh_get_error(session.get()));
  }
  std::string where =
      target.ssh.user + "@" + target.ssh.host + ":" + std::to_string(target.ssh.port);
  if (ssh_connect(session.get()) != SSH_OK) {
    return fail(error, ConnectFailure::kTransient,
                "connect " + where + ": " + ssh_get_error(session.get()));
  }
  std::string presented;
  if (!host_key_matches(session.get(), target.ssh.known_host_key, &presented)) {
    return fail(error, ConnectFailure::kHostKeyChanged,
                "REFUSING " + where + ": the server's host key is not the one in ssh." +
                    "known_host_key (possible impostor; server presented \"" + presented +
                    "\"); update the config only if the VPS's key really changed");
  }
  ssh_key raw = nullptr;
  if (ssh_pki_import_privkey_file(target.private_key_path.c_str(), nullptr, nullptr, nullptr,
                                  &raw) != SSH_OK) {
    return fail(error, ConnectFailure::kTransient,
                target.private_key_path + ": cannot read the private key");
  }
  SshKey key(raw);
  int auth = ssh_userauth_publickey(session.get(), nullptr, key.get());
  if (auth != SSH_AUTH_SUCCESS) {
    return fail(error, ConnectFailure::kTransient,
                "authentication to " + where + " refused (is the home's key registered?)");
  }
  return session;
}

}  // namespace cloudlink::home
