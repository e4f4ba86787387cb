// cloudlink.yaml, the home agent's one configuration file: the model, a strict parser and an
// atomic writer. Other commands (register, expose, unexpose, cert) read it, change the model
// and save it back; `run` reads it once at start.
//
//   server:   {url: https://cloud.example.com, token: TOKEN, ca_bundle: ca.pem (optional)}
//   ssh:      {host: vps.example.com, port: 22, user: cloudlink, private_key: home_key,
//              known_host_key: "ssh-ed25519 AAAA..."}
//   home:     {id: ID, slug: SLUG}
//   services:
//     - {hostname: app.example.com, target: "127.0.0.1:8443", tunnel_ports: [20000, 20001],
//        connections: 2, proxy_protocol: false, terminate_tls: false (optional)}
//   acme:     {directory: https://acme-v02.api.letsencrypt.org/directory, email: me@example.com,
//              ca_bundle: ca.pem, certificates: certificates}
//
// Every section is optional when parsing (a file being filled in by `register` has no
// services yet); require_runnable() says what `run` needs. Unknown fields, duplicate fields,
// wrong types and out-of-range numbers are errors that name the file and the field.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace cloudlink::home {

inline constexpr size_t kMaxConfigBytes = 256 * 1024;
inline constexpr size_t kMaxServices = 256;
inline constexpr size_t kMaxTunnelPorts = 16;
inline constexpr int kMaxConnections = 16;
inline constexpr uint16_t kDefaultSshPort = 22;
inline constexpr const char* kDefaultSshUser = "cloudlink";

struct ServerConfig {
  std::string url;    // http:// or https:// base URL of cloudlink-control's API
  std::string token;  // API token; may be empty before `register`
  // PEM file the API's certificate must chain to ("": the system CA store); relative paths
  // are relative to the config file's folder.
  std::string ca_bundle;
  bool operator==(const ServerConfig&) const = default;
};

struct SshConfig {
  std::string host;  // VPS name or address (no port)
  uint16_t port = kDefaultSshPort;
  std::string user = kDefaultSshUser;
  std::string private_key;     // path; relative paths are relative to the config file's folder
  std::string known_host_key;  // "ssh-ed25519 AAAA..." (OpenSSH public key line, no comment)
  bool operator==(const SshConfig&) const = default;
};

struct HomeConfig {
  std::string id;
  std::string slug;
  bool operator==(const HomeConfig&) const = default;
};

struct ServiceConfig {
  std::string hostname;     // public name, as a route key (lower case)
  std::string target_host;  // local service: hostname, IPv4 or IPv6 (no brackets)
  uint16_t target_port = 0;
  std::vector<uint16_t> tunnel_ports;  // VPS loopback ports; connection k listens on [k]
  int connections = 1;                 // 1..tunnel_ports.size()
  bool proxy_protocol = false;
  // The agent terminates TLS with the service's certificate (CERTIFICATES/HOSTNAME, see acme)
  // and sends plain bytes to target.
  bool terminate_tls = false;
  // "HOST:PORT" as written in the file ("[::1]:443" for IPv6).
  std::string target() const;
  bool operator==(const ServiceConfig&) const = default;
};

// Where certificates come from (ACME HTTP-01, home-agent/cert) and where they are kept.
struct AcmeConfig {
  std::string directory;  // the ACME directory URL
  std::string email;      // account contact, optional
  std::string ca_bundle;  // PEM the ACME server's certificate must chain to ("": system store)
  // Folder of HOSTNAME/fullchain.pem and HOSTNAME/key.pem; relative: to the config's folder.
  std::string certificates = "certificates";
  bool operator==(const AcmeConfig&) const = default;
};

struct AgentConfig {
  std::optional<ServerConfig> server;
  std::optional<SshConfig> ssh;
  std::optional<HomeConfig> home;
  std::vector<ServiceConfig> services;
  std::optional<AcmeConfig> acme;

  // The service with this hostname, or nullptr.
  const ServiceConfig* find_service(std::string_view hostname) const;
  bool operator==(const AgentConfig&) const = default;
};

// The config path: flag if not empty, else $CLOUDLINK_CONFIG, else "./cloudlink.yaml".
std::string config_path(const std::string& flag);

// Parses YAML text. An error's message is "<source>: <field>: <problem>", for instance
// `cloudlink.yaml: services[0].target: expected HOST:PORT, got "x"`.
Result<AgentConfig> parse_agent_config(std::string_view text, std::string_view source);

// Reads and parses path (at most kMaxConfigBytes). Errors name the path.
Result<AgentConfig> load_agent_config(const std::string& path);

// The YAML text parse_agent_config reads back to an equal config.
std::string format_agent_config(const AgentConfig& config);

// Writes config to path atomically (temporary file, fsync, rename), mode 0600: the file holds
// the API token.
Result<void> save_agent_config(const std::string& path, const AgentConfig& config);

// What `run` needs beyond a well-formed file: ssh with host, private_key and known_host_key,
// and at least one service (unless need_services is false: a running agent reloads a config
// whose last service was unexposed). The error names source and the missing field.
Result<void> require_runnable(const AgentConfig& config, std::string_view source,
                              bool need_services = true);

// private_key resolved against the folder of config_path when relative.
std::string resolve_key_path(const std::string& config_path, const std::string& key_path);

}  // namespace cloudlink::home
