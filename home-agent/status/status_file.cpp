#include "home-agent/status/status_file.h"

#include <signal.h>

#include <cerrno>
#include <ctime>
#include <nlohmann/json.hpp>
#include <system_error>

#include "home-agent/config/atomic_file.h"

namespace cloudlink::home {

namespace {

// A status file older than this was left by an agent that died without saying so (SIGKILL).
constexpr int64_t kStaleSeconds = 30;

bool process_alive(pid_t pid) { return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM); }

// /proc/PID/comm is the executable's name (at most 15 bytes): "cloudlink-home".
bool is_cloudlink_home(pid_t pid) {
  auto comm = read_bounded_file("/proc/" + std::to_string(pid) + "/comm", 64);
  return comm.ok() && comm->rfind("cloudlink-home", 0) == 0;
}

std::string format_time(int64_t unix_time) {
  std::time_t t = unix_time;
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

std::string describe_tunnel(const nlohmann::json& t) {
  std::string line = t.value("name", "?") +
                     " 127.0.0.1:" + std::to_string(t.value("tunnel_port", 0)) + " -> " +
                     t.value("target", "?") + ": " + t.value("state", "?") + " since " +
                     format_time(t.value("since", int64_t{0})) + ", bytes in " +
                     std::to_string(t.value("bytes_in", uint64_t{0})) + " out " +
                     std::to_string(t.value("bytes_out", uint64_t{0})) + ", connections " +
                     std::to_string(t.value("channels_total", uint64_t{0})) + " (" +
                     std::to_string(t.value("channels_open", uint64_t{0})) + " open)";
  std::string error = t.value("last_error", "");
  if (!error.empty()) line += ", last error: " + error;
  return line;
}

Result<std::string> describe_status_unchecked(const std::string& path);

}  // namespace

std::string status_path_for(const std::string& config_path) { return config_path + ".status.json"; }

Result<void> write_status_file(const std::string& path, pid_t pid, bool running,
                               const std::vector<TunnelSnapshot>& tunnels) {
  nlohmann::json doc;
  doc["pid"] = pid;
  doc["running"] = running;
  doc["updated"] = static_cast<int64_t>(std::time(nullptr));
  doc["tunnels"] = nlohmann::json::array();
  for (const auto& t : tunnels) {
    doc["tunnels"].push_back({{"name", t.name},
                              {"service", t.service},
                              {"target", t.target},
                              {"tunnel_port", t.tunnel_port},
                              {"state", running ? state_name(t.state) : "stopped"},
                              {"since", t.since_unix},
                              {"bytes_in", t.bytes_in},
                              {"bytes_out", t.bytes_out},
                              {"channels_total", t.channels_total},
                              {"channels_open", t.channels_open},
                              {"last_error", t.last_error}});
  }
  return write_file_atomically(path, doc.dump(2) + "\n", 0600);
}

Result<AgentProcess> read_agent_process(const std::string& path) {
  auto text = read_bounded_file(path, 1 << 20);
  if (!text.ok()) return text.error();
  nlohmann::json doc = nlohmann::json::parse(*text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("pid") ||
      !doc["pid"].is_number_integer() || !doc.contains("updated") ||
      !doc["updated"].is_number_integer()) {
    return Error(std::error_code(), path + ": not a status file");
  }
  AgentProcess agent;
  agent.pid = doc["pid"].get<pid_t>();
  agent.updated_unix = doc["updated"].get<int64_t>();
  agent.running = doc.value("running", false) == true && process_alive(agent.pid);
  agent.stale = agent.running && std::time(nullptr) - agent.updated_unix > kStaleSeconds;
  return agent;
}

std::string tell_agent_to_reload(const std::string& config_path) {
  const std::string path = status_path_for(config_path);
  auto agent = read_agent_process(path);
  if (!agent.ok() || !agent->running) {
    return "no agent is running with " + config_path + ": `cloudlink-home run` starts with it\n";
  }
  const std::string pid = std::to_string(agent->pid);
  if (agent->stale || !is_cloudlink_home(agent->pid)) {
    return "the agent that wrote " + path + " (pid " + pid +
           ") has not updated it lately and was not told to reload: run `systemctl reload "
           "cloudlink-home` or restart it\n";
  }
  if (::kill(agent->pid, SIGHUP) != 0) {
    return "could not tell the running agent (pid " + pid + ") to reload (" +
           std::error_code(errno, std::generic_category()).message() +
           "): run `systemctl reload cloudlink-home` or `kill -HUP " + pid + "`\n";
  }
  return "told the running agent (pid " + pid + ") to reload: only this service's tunnels change\n";
}

Result<std::string> describe_status(const std::string& path) {
  // nlohmann's value() throws on a field of the wrong type: a damaged file is one error line.
  try {
    return describe_status_unchecked(path);
  } catch (const nlohmann::json::exception&) {
    return Error(std::error_code(), path + ": not a status file");
  }
}

namespace {

Result<std::string> describe_status_unchecked(const std::string& path) {
  auto text = read_bounded_file(path, 1 << 20);
  if (!text.ok()) {
    if (text.error().value() == ENOENT) {
      return Error(ENOENT, "the agent is not running (no " + path + ")");
    }
    return text.error();
  }
  nlohmann::json doc = nlohmann::json::parse(*text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("tunnels") ||
      !doc["tunnels"].is_array()) {
    return Error(std::error_code(), path + ": not a status file");
  }
  pid_t pid = doc.value("pid", 0);
  int64_t updated = doc.value("updated", int64_t{0});
  bool running = doc.value("running", false) && process_alive(pid);
  bool stale = std::time(nullptr) - updated > kStaleSeconds;
  std::string out;
  if (!running) {
    out = "agent: not running (last seen " + format_time(updated) + ", pid " + std::to_string(pid) +
          ")\n";
  } else if (stale) {
    out = "agent: pid " + std::to_string(pid) + " has not updated " + path + " since " +
          format_time(updated) + "\n";
  } else {
    out = "agent: running, pid " + std::to_string(pid) + "\n";
  }
  for (auto t : doc["tunnels"]) {
    if (!t.is_object()) continue;
    if (!running) t["state"] = "down";
    out += describe_tunnel(t) + "\n";
  }
  if (!running) return Error(ESRCH, out.substr(0, out.size() - 1));
  return out;
}

}  // namespace

}  // namespace cloudlink::home
