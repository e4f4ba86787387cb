#include "control/api/views.h"

namespace cloudlink::control::api {

nlohmann::json user_json(const state::User& user) {
  return {{"username", user.username},
          {"role", state::role_name(user.role)},
          {"active", user.active},
          {"created_at", user.created_at}};
}

nlohmann::json home_json(const state::Home& home) {
  return {{"id", home.id},
          {"slug", home.slug},
          {"name", home.name},
          {"owner", home.owner},
          {"key_type", home.key.type},
          {"public_key", home.key.to_line()},
          {"ports", home.ports()},
          {"created_at", home.created_at}};
}

nlohmann::json home_json(const state::Home& home, const SshEndpoint& ssh) {
  nlohmann::json out = home_json(home);
  out["ssh_user"] = ssh.user;
  out["ssh_host"] = ssh.host;
  out["ssh_port"] = ssh.port;
  return out;
}

nlohmann::json mapping_json(const state::Mapping& mapping) {
  return {{"hostname", mapping.hostname},
          {"home_id", mapping.home_id},
          {"tls_ports", mapping.tls_ports},
          {"http_port", mapping.http_port ? nlohmann::json(*mapping.http_port) : nullptr},
          {"proxy_protocol", state::proxy_protocol_name(mapping.proxy_protocol)},
          {"created_at", mapping.created_at},
          {"updated_at", mapping.updated_at}};
}

nlohmann::json audit_json(const state::AuditRecord& record) {
  return {{"seq", record.seq},       {"at", record.at},         {"actor", record.actor},
          {"source", record.source}, {"action", record.action}, {"target", record.target},
          {"detail", record.detail}};
}

}  // namespace cloudlink::control::api
