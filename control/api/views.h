// The JSON form of the control plane's objects, one definition shared by the REST API and the
// CLI's --json output, so both always show a user, home, mapping or audit record the same way.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "control/state/state_store.h"

namespace cloudlink::control::api {

// Where a home's agent connects: the shared SSH user and the VPS's sshd.
struct SshEndpoint {
  std::string user = "cloudlink";
  std::string host = "127.0.0.1";
  uint16_t port = 22;
};

// {"username","role","active","created_at","expires_at" (null: never),"expired"}
nlohmann::json user_json(const state::User& user);
// {"id","slug","name","owner","key_type","public_key","ports","created_at","expires_at"
//  (null: never),"expired"}
nlohmann::json home_json(const state::Home& home);
// home_json plus the SSH endpoint: "ssh_user","ssh_host","ssh_port".
nlohmann::json home_json(const state::Home& home, const SshEndpoint& ssh);
// {"hostname","home_id","tls_ports","http_port" (null when unset),"proxy_protocol",
//  "created_at","updated_at"}
nlohmann::json mapping_json(const state::Mapping& mapping);
// {"seq","at","actor","source","action","target","detail"}
nlohmann::json audit_json(const state::AuditRecord& record);
// {"id","created_by","created_at","expires_at"} (+ "code" when issued: shown once)
nlohmann::json invitation_json(const state::Invitation& invitation);
nlohmann::json invitation_json(const state::IssuedInvitation& issued);
// {"username","limits":{homes,mappings,port_blocks},"used":{...},"own":{... set ones}}
nlohmann::json quota_json(const state::QuotaView& view);

}  // namespace cloudlink::control::api
