#include "home-agent/config/agent_config.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>

#include "home-agent/config/atomic_file.h"

namespace cloudlink::home {

namespace {

Error config_error(std::string_view source, const std::string& what) {
  return Error(std::error_code(), std::string(source) + ": " + what);
}

void emit_string(YAML::Emitter& out, const char* key, const std::string& value) {
  // Always quoted: a token such as "null", "123" or "~" must read back as the same text.
  out << YAML::Key << key << YAML::Value << YAML::DoubleQuoted << value;
}

void emit_service(YAML::Emitter& out, const ServiceConfig& service) {
  out << YAML::BeginMap;
  emit_string(out, "hostname", service.hostname);
  emit_string(out, "target", service.target());
  out << YAML::Key << "tunnel_ports" << YAML::Value << YAML::Flow << YAML::BeginSeq;
  for (auto port : service.tunnel_ports) out << port;
  out << YAML::EndSeq;
  out << YAML::Key << "connections" << YAML::Value << service.connections;
  out << YAML::Key << "proxy_protocol" << YAML::Value << YAML::TrueFalseBool
      << service.proxy_protocol;
  if (service.terminate_tls) {
    out << YAML::Key << "terminate_tls" << YAML::Value << YAML::TrueFalseBool << true;
  }
  out << YAML::EndMap;
}

}  // namespace

std::string ServiceConfig::target() const {
  std::string port = std::to_string(target_port);
  if (target_host.find(':') != std::string::npos) return "[" + target_host + "]:" + port;
  return target_host + ":" + port;
}

const ServiceConfig* AgentConfig::find_service(std::string_view hostname) const {
  for (const auto& service : services) {
    if (service.hostname == hostname) return &service;
  }
  return nullptr;
}

std::string config_path(const std::string& flag) {
  if (!flag.empty()) return flag;
  const char* env = std::getenv("CLOUDLINK_CONFIG");
  if (env != nullptr && *env != '\0') return env;
  return "cloudlink.yaml";
}

Result<AgentConfig> load_agent_config(const std::string& path) {
  auto text = read_bounded_file(path, kMaxConfigBytes);
  if (!text.ok()) return text.error();
  return parse_agent_config(*text, path);
}

std::string format_agent_config(const AgentConfig& config) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  if (config.server) {
    out << YAML::Key << "server" << YAML::Value << YAML::BeginMap;
    emit_string(out, "url", config.server->url);
    emit_string(out, "token", config.server->token);
    if (!config.server->ca_bundle.empty()) {
      emit_string(out, "ca_bundle", config.server->ca_bundle);
    }
    out << YAML::EndMap;
  }
  if (config.ssh) {
    out << YAML::Key << "ssh" << YAML::Value << YAML::BeginMap;
    emit_string(out, "host", config.ssh->host);
    out << YAML::Key << "port" << YAML::Value << config.ssh->port;
    emit_string(out, "user", config.ssh->user);
    if (!config.ssh->private_key.empty()) {
      emit_string(out, "private_key", config.ssh->private_key);
    }
    if (!config.ssh->known_host_key.empty()) {
      emit_string(out, "known_host_key", config.ssh->known_host_key);
    }
    out << YAML::EndMap;
  }
  if (config.home) {
    out << YAML::Key << "home" << YAML::Value << YAML::BeginMap;
    emit_string(out, "id", config.home->id);
    if (!config.home->slug.empty()) emit_string(out, "slug", config.home->slug);
    out << YAML::EndMap;
  }
  out << YAML::Key << "services" << YAML::Value << YAML::BeginSeq;
  for (const auto& service : config.services) emit_service(out, service);
  out << YAML::EndSeq;
  if (config.acme) {
    out << YAML::Key << "acme" << YAML::Value << YAML::BeginMap;
    emit_string(out, "directory", config.acme->directory);
    if (!config.acme->email.empty()) emit_string(out, "email", config.acme->email);
    if (!config.acme->ca_bundle.empty()) emit_string(out, "ca_bundle", config.acme->ca_bundle);
    emit_string(out, "certificates", config.acme->certificates);
    out << YAML::EndMap;
  }
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

Result<void> save_agent_config(const std::string& path, const AgentConfig& config) {
  std::string text = format_agent_config(config);
  // Never write what load would refuse: the writer and the parser must agree.
  auto check = parse_agent_config(text, path);
  if (!check.ok()) return config_error("refusing to write", check.error().message());
  return write_file_atomically(path, text, 0600);
}

Result<void> require_runnable(const AgentConfig& config, std::string_view source,
                              bool need_services) {
  if (!config.ssh) return config_error(source, "ssh: missing (run `cloudlink-home register`)");
  if (config.ssh->private_key.empty()) return config_error(source, "ssh.private_key: missing");
  if (config.ssh->known_host_key.empty()) {
    return config_error(source,
                        "ssh.known_host_key: missing (the server's host key is needed "
                        "to refuse an impostor)");
  }
  if (need_services && config.services.empty())
    return config_error(source, "services: none configured");
  return ok();
}

std::string resolve_key_path(const std::string& config_path, const std::string& key_path) {
  if (key_path.empty() || key_path[0] == '/') return key_path;
  size_t slash = config_path.rfind('/');
  if (slash == std::string::npos) return key_path;
  return config_path.substr(0, slash + 1) + key_path;
}

}  // namespace cloudlink::home
