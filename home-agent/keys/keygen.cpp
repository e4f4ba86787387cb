#include "home-agent/keys/keygen.h"

#include <sys/stat.h>
#include <unistd.h>

#include "home-agent/config/atomic_file.h"
#include "home-agent/tunnel/ssh_handles.h"

namespace cloudlink::home {

namespace {

Result<std::string> public_line(ssh_key key) {
  char* blob = nullptr;
  if (ssh_pki_export_pubkey_base64(key, &blob) != SSH_OK) {
    return Error(std::error_code(), "cannot export the public key");
  }
  SshText owned(blob);
  return std::string(ssh_key_type_to_char(ssh_key_type(key))) + " " + owned.get();
}

}  // namespace

Result<std::string> generate_key_pair(const std::string& path, bool force,
                                      const std::string& comment) {
  std::string pub_path = path + ".pub";
  if (!force) {
    for (const auto& p : {path, pub_path}) {
      if (::access(p.c_str(), F_OK) == 0) {
        return Error(std::error_code(), p + ": exists (use --force to replace it)");
      }
    }
  }
  ssh_key raw = nullptr;
  if (ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &raw) != SSH_OK) {
    return Error(std::error_code(), "cannot generate an ed25519 key");
  }
  SshKey key(raw);
  char* pem = nullptr;
  if (ssh_pki_export_privkey_base64(key.get(), nullptr, nullptr, nullptr, &pem) != SSH_OK) {
    return Error(std::error_code(), "cannot export the private key");
  }
  SshText private_text(pem);
  auto line = public_line(key.get());
  if (!line.ok()) return line.error();
  auto written = write_file_atomically(path, private_text.get(), 0600);
  if (!written.ok()) return written.error();
  std::string public_text = *line + (comment.empty() ? "" : " " + comment) + "\n";
  written = write_file_atomically(pub_path, public_text, 0644);
  if (!written.ok()) return written.error();
  return public_text.substr(0, public_text.size() - 1);
}

Result<std::string> public_key_of(const std::string& private_key_path) {
  if (::access(private_key_path.c_str(), R_OK) != 0) {
    return errno_error(private_key_path + ": cannot read the private key");
  }
  ssh_key raw = nullptr;
  if (ssh_pki_import_privkey_file(private_key_path.c_str(), nullptr, nullptr, nullptr, &raw) !=
      SSH_OK) {
    return Error(std::error_code(), private_key_path +
                                        ": not a private key libssh can read (OpenSSH format, "
                                        "no passphrase)");
  }
  SshKey key(raw);
  return public_line(key.get());
}

}  // namespace cloudlink::home
