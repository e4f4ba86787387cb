#include "control/sessions/proc_scan.h"

#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

namespace cloudlink::sessions {
namespace {

namespace fs = std::filesystem;

std::optional<std::string> read_small_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::optional<uid_t> real_uid(const std::string& dir) {
  auto status = read_small_file(dir + "/status");
  if (!status) return std::nullopt;
  size_t at = status->find("\nUid:");
  if (at == std::string::npos) return std::nullopt;
  try {
    return static_cast<uid_t>(std::stoul(status->substr(at + 5)));
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::optional<ProcStat> stat_of(const std::string& proc_root, pid_t pid, std::string& buffer) {
  auto text = read_small_file(proc_root + "/" + std::to_string(pid) + "/stat");
  if (!text) return std::nullopt;
  buffer = std::move(*text);
  return parse_proc_stat(buffer);
}

}  // namespace

bool descends_from(pid_t pid, pid_t ancestor, const std::string& proc_root) {
  std::string buffer;
  for (int depth = 0; depth < 64 && pid > 1; ++depth) {
    auto stat = stat_of(proc_root, pid, buffer);
    if (!stat) return false;
    if (stat->ppid == ancestor) return true;
    pid = static_cast<pid_t>(stat->ppid);
  }
  return false;
}

std::optional<ProcessIdentity> process_identity(pid_t pid, const std::string& proc_root) {
  std::string buffer;
  auto stat = stat_of(proc_root, pid, buffer);
  if (!stat) return std::nullopt;
  return ProcessIdentity{stat->starttime, std::string(stat->comm)};
}

Result<std::vector<TcpSocket>> read_tcp_sockets(const std::string& proc_root) {
  auto v4 = read_small_file(proc_root + "/net/tcp");
  if (!v4) return Error(errno ? errno : EIO, "sessions: reading " + proc_root + "/net/tcp");
  std::vector<TcpSocket> sockets = parse_proc_net_tcp(*v4);
  if (auto v6 = read_small_file(proc_root + "/net/tcp6")) {
    auto more = parse_proc_net_tcp(*v6);
    sockets.insert(sockets.end(), more.begin(), more.end());
  }
  return sockets;
}

Result<std::set<uint16_t>> listening_ports(const std::string& proc_root) {
  auto sockets = read_tcp_sockets(proc_root);
  if (!sockets) return sockets.error();
  std::set<uint16_t> ports;
  for (const TcpSocket& s : *sockets) {
    if (s.state == kTcpListen && (s.loopback || s.any)) ports.insert(s.local_port);
  }
  return ports;
}

std::vector<ListeningProcess> listening_processes(const ProcessFilter& filter,
                                                  const std::string& proc_root) {
  std::vector<ListeningProcess> out;
  auto sockets = read_tcp_sockets(proc_root);
  if (!sockets) return out;
  std::map<uint64_t, uint16_t> listeners;  // inode -> port
  for (const TcpSocket& s : *sockets) {
    if (s.state == kTcpListen && s.inode != 0) listeners[s.inode] = s.local_port;
  }
  if (listeners.empty()) return out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(proc_root, ec)) {
    std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    pid_t pid = static_cast<pid_t>(std::stol(name));
    std::string dir = entry.path().string();
    std::string buffer;
    auto stat = stat_of(proc_root, pid, buffer);
    if (!stat || stat->comm.substr(0, filter.comm_prefix.size()) != filter.comm_prefix) continue;
    auto uid = real_uid(dir);
    if (!uid || *uid != filter.uid) continue;
    if (filter.ancestor && !descends_from(pid, *filter.ancestor, proc_root)) continue;
    ListeningProcess process{pid, stat->starttime, {}};
    std::error_code fd_ec;
    for (const auto& fd : fs::directory_iterator(dir + "/fd", fd_ec)) {
      std::error_code link_ec;
      fs::path target = fs::read_symlink(fd.path(), link_ec);
      if (link_ec) continue;
      auto inode = parse_socket_link(target.string());
      if (!inode) continue;
      if (auto found = listeners.find(*inode); found != listeners.end()) {
        process.ports.insert(found->second);
      }
    }
    if (!process.ports.empty()) out.push_back(std::move(process));
  }
  return out;
}

}  // namespace cloudlink::sessions
