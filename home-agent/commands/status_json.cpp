#include "home-agent/commands/status_json.h"

#include <nlohmann/json.hpp>
#include <set>

#include "common/acme/certificate_info.h"
#include "home-agent/cert/cert_files.h"
#include "home-agent/config/agent_config.h"
#include "home-agent/config/atomic_file.h"
#include "home-agent/status/status_file.h"

namespace cloudlink::home {

namespace {

using nlohmann::json;

int64_t unix_seconds(acme::SystemTime t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

// The tunnels the status file lists, or none when it cannot be read.
json tunnels_of(const std::string& status_path) {
  auto text = read_bounded_file(status_path, 1 << 20);
  if (!text.ok()) return json::array();
  json doc = json::parse(*text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("tunnels") ||
      !doc["tunnels"].is_array()) {
    return json::array();
  }
  return doc["tunnels"];
}

json tunnel_entry(const json& t, bool running) {
  auto text = [&](const char* key) {
    return t.contains(key) && t[key].is_string() ? t[key].get<std::string>() : std::string();
  };
  auto number = [&](const char* key) {
    return t.contains(key) && t[key].is_number_unsigned() ? t[key].get<uint64_t>() : 0;
  };
  return {{"name", text("name")},
          {"tunnel_port", number("tunnel_port")},
          {"state", running ? text("state") : "down"},
          {"since", number("since")},
          {"bytes_in", number("bytes_in")},
          {"bytes_out", number("bytes_out")},
          {"connections_total", number("channels_total")},
          {"connections_open", number("channels_open")},
          {"last_error", text("last_error")}};
}

json certificate_of(const std::string& config_path, const AcmeConfig& acme,
                    const std::string& hostname) {
  auto info = installed_certificate(certificate_paths(config_path, acme, hostname));
  if (!info) return nullptr;
  return {{"not_after", unix_seconds(info->not_after)},
          {"not_after_text", acme::utc_text(info->not_after)},
          {"self_issued", info->self_issued}};
}

json service_entry(const std::string& hostname, const std::string& target, bool configured,
                   const json& tunnels, bool running) {
  json entry = {{"hostname", hostname}, {"target", target}, {"configured", configured}};
  json list = json::array();
  int up = 0;
  for (const auto& t : tunnels) {
    if (!t.is_object() || !t.contains("service") || t["service"] != hostname) continue;
    list.push_back(tunnel_entry(t, running));
    if (list.back()["state"] == "up") ++up;
  }
  entry["tunnels_up"] = up;
  entry["tunnels"] = std::move(list);
  return entry;
}

}  // namespace

StatusJson status_json(const std::string& config_path) {
  const std::string status_path = status_path_for(config_path);
  json doc = {{"config", config_path}};
  auto agent = read_agent_process(status_path);
  const bool running = agent.ok() && agent->running;
  doc["agent"] = {{"running", running},
                  {"pid", agent.ok() ? agent->pid : 0},
                  {"updated", agent.ok() ? agent->updated_unix : 0},
                  {"stale", agent.ok() && agent->stale}};
  json tunnels = tunnels_of(status_path);
  auto config = load_agent_config(config_path);
  json services = json::array();
  std::set<std::string> listed;
  if (config.ok()) {
    const AcmeConfig acme = config->acme.value_or(AcmeConfig{});
    for (const auto& service : config->services) {
      json entry = service_entry(service.hostname, service.target(), true, tunnels, running);
      entry["certificate"] = certificate_of(config_path, acme, service.hostname);
      services.push_back(std::move(entry));
      listed.insert(service.hostname);
    }
  } else {
    doc["config_error"] = config.error().message();
  }
  for (const auto& t : tunnels) {
    if (!t.is_object() || !t.contains("service") || !t["service"].is_string()) continue;
    std::string hostname = t["service"].get<std::string>();
    if (!listed.insert(hostname).second) continue;
    std::string target =
        t.contains("target") && t["target"].is_string() ? t["target"].get<std::string>() : "";
    json entry = service_entry(hostname, target, false, tunnels, running);
    entry["certificate"] = nullptr;
    services.push_back(std::move(entry));
  }
  doc["services"] = std::move(services);
  return StatusJson{doc.dump() + "\n", running};
}

}  // namespace cloudlink::home
