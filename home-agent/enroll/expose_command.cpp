#include "home-agent/enroll/expose_command.h"

#include <algorithm>
#include <memory>

#include "common/hostname.h"
#include "common/route_record.h"
#include "home-agent/config/agent_config.h"
#include "home-agent/config/field_checks.h"
#include "home-agent/control_client/control_client.h"
#include "home-agent/enroll/config_lock.h"
#include "home-agent/enroll/tunnel_ports.h"
#include "home-agent/status/status_file.h"

namespace cloudlink::home {
namespace {

// A refusal that is not an errno: the message says it all (no ": Invalid argument" tail).
Error refusal(std::string message) { return Error(std::error_code(), std::move(message)); }

// The config, held locked, and a client logged in as it says (or with fresh credentials).
struct Session {
  ConfigLock lock;
  AgentConfig config;
  std::unique_ptr<ControlClient> client;
};

Result<Session> open_session(const ApiAccess& access) {
  auto lock = ConfigLock::acquire(access.config_path);
  if (!lock) return lock.error();
  auto config = load_agent_config(access.config_path);
  if (!config) return config.error();
  if (!config->server || config->server->url.empty() || !config->home || config->home->id.empty()) {
    return refusal(access.config_path +
                   " has no server or home: run `cloudlink-home register` first");
  }
  // --ca-bundle for this command, else the one register saved.
  std::string ca_bundle = access.ca_bundle;
  if (ca_bundle.empty() && !config->server->ca_bundle.empty()) {
    ca_bundle = resolve_key_path(access.config_path, config->server->ca_bundle);
  }
  auto client = ControlClient::create({config->server->url, ca_bundle});
  if (!client) return client.error();
  if (!access.username.empty()) {
    auto token = (*client)->login(access.username, access.password);
    if (!token) return token.error();
    config->server->token = *token;
  } else {
    (*client)->set_token(config->server->token);
  }
  return Session{std::move(*lock), std::move(*config), std::move(*client)};
}

// A 401 with the saved token means it is gone (expired or revoked): say how to get a new one.
Error explain(const Error& error, const ApiAccess& access) {
  if (http_status(error) != 401 || !access.username.empty()) return error;
  return Error(error.code(), error.context() +
                                 " (the saved login has expired: add --username NAME "
                                 "--password-stdin)");
}

std::string lower_case(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

std::string join_ports(const std::vector<uint16_t>& ports) {
  std::string out;
  for (uint16_t port : ports) out += (out.empty() ? "" : ",") + std::to_string(port);
  return out;
}

Result<ServiceConfig> service_from(const ExposeOptions& options) {
  ServiceConfig service;
  service.hostname = lower_case(options.hostname);
  if (auto valid = validate_route_hostname(service.hostname); !valid) {
    return refusal("hostname " + quote(options.hostname) + ": " + valid.error().context());
  }
  auto target = parse_host_port(options.target);
  if (!target || target->port == 0) {
    return refusal("--to: expected HOST:PORT, got " + quote(options.target));
  }
  service.target_host = target->host;
  service.target_port = target->port;
  const int most = std::min<int>(
      {kMaxConnections, static_cast<int>(kMaxTunnelPorts), static_cast<int>(kMaxRouteTargets)});
  if (options.connections < 1 || options.connections > most) {
    return refusal("--connections: from 1 to " + std::to_string(most));
  }
  service.connections = options.connections;
  service.proxy_protocol = options.proxy_protocol;
  service.terminate_tls = options.terminate_tls;
  if (service.terminate_tls && service.proxy_protocol) {
    return invalid("--terminate-tls cannot be combined with --proxy-protocol");
  }
  return service;
}

}  // namespace

Result<std::string> expose_service(const ExposeOptions& options) {
  auto service = service_from(options);
  if (!service) return service.error();
  auto session = open_session(options.access);
  if (!session) return explain(session.error(), options.access);
  AgentConfig& config = session->config;
  if (config.find_service(service->hostname) != nullptr) {
    return refusal(service->hostname + " is exposed already in " + options.access.config_path +
                   " (unexpose it first)");
  }
  if (config.services.size() >= kMaxServices) {
    return refusal("the config holds " + std::to_string(kMaxServices) + " services");
  }
  auto home = session->client->get_home(config.home->id);
  if (!home) return explain(home.error(), options.access);
  std::vector<uint16_t> used;
  for (const auto& other : config.services) {
    used.insert(used.end(), other.tunnel_ports.begin(), other.tunnel_ports.end());
  }
  auto ports = pick_tunnel_ports(home->ports, used, static_cast<size_t>(service->connections));
  if (!ports) return ports.error();
  service->tunnel_ports = *ports;

  MappingRequest request{service->hostname, *ports, std::nullopt, service->proxy_protocol};
  auto mapping = session->client->create_mapping(config.home->id, request);
  if (!mapping) return explain(mapping.error(), options.access);
  config.services.push_back(*service);
  if (auto saved = save_agent_config(options.access.config_path, config); !saved) {
    // The route is live but the agent would never serve it: take it down again.
    (void)session->client->delete_mapping(config.home->id, service->hostname);
    return saved.error();
  }
  return "exposed " + service->hostname + " -> " + service->target() + " through tunnel port(s) " +
         join_ports(*ports) + (service->proxy_protocol ? " (PROXY v2)" : "") + "\n" +
         tell_agent_to_reload(options.access.config_path);
}

Result<std::string> unexpose_service(const ApiAccess& access, const std::string& hostname) {
  auto session = open_session(access);
  if (!session) return explain(session.error(), access);
  AgentConfig& config = session->config;
  const std::string name = lower_case(hostname);
  auto it = std::find_if(config.services.begin(), config.services.end(),
                         [&](const ServiceConfig& s) { return s.hostname == name; });
  if (it == config.services.end()) {
    return refusal(name + " is not exposed in " + access.config_path);
  }
  std::string note;
  auto deleted = session->client->delete_mapping(config.home->id, name);
  if (!deleted && http_status(deleted.error()) == 404) {
    note = " (control had no mapping for it any more)";
  } else if (!deleted) {
    return explain(deleted.error(), access);
  }
  config.services.erase(it);
  if (auto saved = save_agent_config(access.config_path, config); !saved) return saved.error();
  return "unexposed " + name + note + "\n" + tell_agent_to_reload(access.config_path);
}

}  // namespace cloudlink::home
