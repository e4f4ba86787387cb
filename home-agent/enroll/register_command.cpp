#include "home-agent/enroll/register_command.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>

#include "home-agent/config/agent_config.h"
#include "home-agent/config/atomic_file.h"
#include "home-agent/config/field_checks.h"
#include "home-agent/control_client/control_client.h"
#include "home-agent/enroll/config_lock.h"
#include "home-agent/enroll/host_key.h"

namespace cloudlink::home {
namespace {

// A refusal that is not an errno: the message says it all (no ": Invalid argument" tail).
Error refusal(std::string message) { return Error(std::error_code(), std::move(message)); }

constexpr size_t kMaxPublicKeyFile = 16 * 1024;

std::string default_home_name() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "home";
  return name;
}

Result<void> check_inputs(const RegisterOptions& options) {
  struct stat st;
  if (stat(options.config_path.c_str(), &st) == 0) {
    return refusal(options.config_path +
                   " exists: this home is registered already (--config names another "
                   "file; remove it to register again)");
  }
  if (access(options.private_key_path.c_str(), R_OK) != 0) {
    return errno_error("private key " + options.private_key_path);
  }
  if (options.password.empty()) return refusal("empty password on stdin");
  return ok();
}

// path made absolute (a path given on the command line is relative to where it was run, one in
// the config to the config's folder); "" stays "".
std::string absolute_path(const std::string& path) {
  if (path.empty()) return path;
  std::error_code ec;
  auto absolute = std::filesystem::absolute(path, ec);
  return ec ? path : absolute.string();
}

// The home was created but the agent cannot use it: delete it so a retry starts clean.
Error undo_home(ControlClient& client, const std::string& home_id, const Error& why) {
  auto deleted = client.delete_home(home_id);
  std::string note = deleted ? " (the new home was deleted again)"
                             : " (the new home " + home_id +
                                   " could not be deleted: " + deleted.error().message() + ")";
  return Error(std::error_code(), why.message() + note);
}

}  // namespace

Result<std::string> read_public_key_line(const std::string& path) {
  auto text = read_bounded_file(path, kMaxPublicKeyFile);
  if (!text) return text.error();
  std::istringstream in(*text);
  std::string type;
  std::string base64;
  in >> type >> base64;
  std::string line = type + " " + base64;
  if (std::string problem = check_public_key_line(line); !problem.empty()) {
    return refusal("public key " + path + ": " + problem);
  }
  return line;
}

Result<RegisterSummary> register_home(const RegisterOptions& options) {
  // Held until the config is written: a second register of the same file waits, then sees it.
  auto lock = ConfigLock::acquire(options.config_path);
  if (!lock) return lock.error();
  if (auto checked = check_inputs(options); !checked) return checked.error();
  auto public_key = read_public_key_line(options.public_key_path);
  if (!public_key) return public_key.error();
  auto client = ControlClient::create({options.server_url, options.ca_bundle});
  if (!client) return client.error();
  auto token = (*client)->login(options.username, options.password);
  if (!token) return token.error();
  const std::string name = options.name.empty() ? default_home_name() : options.name;
  auto home = (*client)->create_home(name, *public_key);
  if (!home) return home.error();

  auto host_key = fetch_host_key(home->ssh_host, home->ssh_port);
  if (!host_key) return undo_home(**client, home->id, host_key.error());

  AgentConfig config;
  config.server = ServerConfig{(*client)->url(), *token, absolute_path(options.ca_bundle)};
  SshConfig ssh;
  ssh.host = home->ssh_host;
  ssh.port = home->ssh_port;
  ssh.user = home->ssh_user;
  ssh.private_key = absolute_path(options.private_key_path);
  ssh.known_host_key = *host_key;
  config.ssh = ssh;
  config.home = HomeConfig{home->id, home->slug};
  if (auto saved = save_agent_config(options.config_path, config); !saved) {
    return undo_home(**client, home->id, saved.error());
  }
  return RegisterSummary{home->id,       home->slug,  home->ssh_user, home->ssh_host,
                         home->ssh_port, home->ports, *host_key,      options.config_path};
}

std::string format_register_summary(const RegisterSummary& summary) {
  std::string ports = "none";
  if (!summary.ports.empty()) {
    ports = std::to_string(summary.ports.front()) + "-" + std::to_string(summary.ports.back()) +
            " (" + std::to_string(summary.ports.size()) + " ports)";
  }
  return "registered home " + summary.home_id + " (" + summary.slug + ")\n" +
         "  SSH user:      " + summary.ssh_user + "\n" + "  SSH server:    " + summary.ssh_host +
         ":" + std::to_string(summary.ssh_port) + "\n" + "  host key:      " + summary.host_key +
         "\n" + "  tunnel ports:  " + ports + "\n" + "  config:        " + summary.config_path +
         "\n";
}

}  // namespace cloudlink::home
