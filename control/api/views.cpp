#include "control/api/views.h"

namespace cloudlink::control::api {

nlohmann::json user_json(const state::User& user) {
  return {{"username", user.username},
          {"role", state::role_name(user.role)},
          {"active", user.active},
          {"created_at", user.created_at},
          {"expires_at", user.expires_at != 0 ? nlohmann::json(user.expires_at) : nullptr},
          {"expired", user.expired}};
}

nlohmann::json home_json(const state::Home& home) {
  return {{"id", home.id},
          {"slug", home.slug},
          {"name", home.name},
          {"owner", home.owner},
          {"key_type", home.key.type},
          {"public_key", home.key.to_line()},
          {"ports", home.ports()},
          {"created_at", home.created_at},
          {"expires_at", home.expires_at != 0 ? nlohmann::json(home.expires_at) : nullptr},
          {"expired", home.expired}};
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

nlohmann::json invitation_json(const state::Invitation& invitation) {
  return {{"id", invitation.id},
          {"created_by", invitation.created_by},
          {"created_at", invitation.created_at},
          {"expires_at", invitation.expires_at}};
}

nlohmann::json invitation_json(const state::IssuedInvitation& issued) {
  nlohmann::json out = invitation_json(issued.invitation);
  out["code"] = issued.code;
  return out;
}

nlohmann::json quota_json(const state::QuotaView& view) {
  auto triple = [](uint32_t homes, uint32_t mappings, uint32_t port_blocks) {
    return nlohmann::json{{"homes", homes}, {"mappings", mappings}, {"port_blocks", port_blocks}};
  };
  nlohmann::json own = nlohmann::json::object();
  if (view.own.homes) own["homes"] = *view.own.homes;
  if (view.own.mappings) own["mappings"] = *view.own.mappings;
  if (view.own.port_blocks) own["port_blocks"] = *view.own.port_blocks;
  return {{"username", view.username},
          {"limits", triple(view.limits.homes, view.limits.mappings, view.limits.port_blocks)},
          {"used", triple(view.used.homes, view.used.mappings, view.used.port_blocks)},
          {"own", own}};
}

}  // namespace cloudlink::control::api
