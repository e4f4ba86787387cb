#include "home-agent/commands/ssh_command.h"

#include <cstdio>

#include "common/log.h"
#include "home-agent/commands/commands.h"

namespace cloudlink::home {

namespace {

bool plain(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("_@%+=:,./-").find(c) != std::string_view::npos;
}

std::string known_hosts_name(const SshConfig& ssh) {
  if (ssh.port == 22) return ssh.host;
  return "[" + ssh.host + "]:" + std::to_string(ssh.port);
}

}  // namespace

std::string shell_quote(const std::string& text) {
  bool needs = text.empty();
  for (char c : text) needs = needs || !plain(c);
  if (!needs) return text;
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

Result<std::vector<std::string>> ssh_command_lines(const AgentConfig& config,
                                                   const std::string& config_path,
                                                   const std::string& hostname) {
  auto runnable = require_runnable(config, config_path);
  if (!runnable.ok()) return runnable.error();
  const ServiceConfig* service = config.find_service(hostname);
  if (service == nullptr) {
    return Error(std::error_code(), config_path + ": no service with hostname " + hostname);
  }
  const SshConfig& ssh = *config.ssh;
  std::vector<std::string> lines;
  for (int k = 0; k < service->connections; ++k) {
    std::vector<std::string> argv = {
        "ssh",
        "-N",
        "-o",
        "ExitOnForwardFailure=yes",
        "-o",
        "ServerAliveInterval=10",
        "-o",
        "ServerAliveCountMax=3",
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "KnownHostsCommand=/bin/echo " + known_hosts_name(ssh) + " " + ssh.known_host_key,
        "-i",
        resolve_key_path(config_path, ssh.private_key),
        "-p",
        std::to_string(ssh.port),
        "-R",
        "127.0.0.1:" + std::to_string(service->tunnel_ports[k]) + ":" + service->target(),
        ssh.user + "@" + ssh.host};
    std::string line;
    for (const auto& arg : argv) line += (line.empty() ? "" : " ") + shell_quote(arg);
    lines.push_back(std::move(line));
  }
  return lines;
}

int print_ssh_command(const std::string& config_path, const std::string& hostname) {
  auto config = load_agent_config(config_path);
  if (!config.ok()) {
    log_error("%s", config.error().message().c_str());
    return kExitConfig;
  }
  auto lines = ssh_command_lines(*config, config_path, hostname);
  if (!lines.ok()) {
    log_error("%s", lines.error().message().c_str());
    return kExitConfig;
  }
  for (const auto& line : *lines) std::printf("%s\n", line.c_str());
  return kExitOk;
}

}  // namespace cloudlink::home
